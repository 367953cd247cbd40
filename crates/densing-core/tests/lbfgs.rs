//! The hand-written L-BFGS ([`densing_core::lbfgs`]) is a transcription of
//! argmin 0.11's `LBFGS` with `MoreThuenteLineSearch`: run both from the same
//! starts (the grid starts and optima of bootstrap replicates of the OLMo-2
//! ladder's two steps and of Epoch AI's Chinchilla points) on the same scaled
//! objective, and require the same best point and cost to the last bit.

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use densing_core::bootstrap::{replicate_rng, resample_weights, REPLICATE_SOLVER};
use densing_core::data::{parse_ladder, read_ladder, AnchorPoint, LadderPoint};
use densing_core::fit::{fit, GridPolish, Problem};
use densing_core::law::LossForm;
use densing_core::lbfgs::{minimize, EvalError};
use densing_core::loss::LossProblem;
use densing_core::predict::{Ladder, Settings};
use densing_core::score::ScoreProblem;
use densing_core::table::Table;
use std::path::PathBuf;
use std::sync::Mutex;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

/// The objective as densing's grid polish gave it to argmin until the
/// transcription: the cost divided by `scale`, the gradient from the cost's
/// pass kept for argmin's gradient call at the same point.
struct Objective<'p, P: ?Sized> {
    problem: &'p P,
    w: &'p [f64],
    scale: f64,
    last: Mutex<Option<(Vec<f64>, Vec<f64>)>>,
}

impl<P: Problem + ?Sized> CostFunction for Objective<'_, P> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let (c, g) = self.problem.cost_with_gradient(p, self.w);
        if let Some(g) = g {
            *self.last.lock().unwrap() = Some((p.clone(), g));
        }
        let c = c / self.scale;
        if c.is_nan() {
            return Err(argmin::core::Error::msg("cost is NaN"));
        }
        Ok(c)
    }
}

impl<P: Problem + ?Sized> Gradient for Objective<'_, P> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        let cached = match &*self.last.lock().unwrap() {
            Some((q, g)) if q == p => Some(g.clone()),
            _ => None,
        };
        let g: Vec<f64> = cached
            .unwrap_or_else(|| self.problem.gradient(p, self.w))
            .into_iter()
            .map(|g| g / self.scale)
            .collect();
        if g.iter().any(|v| !v.is_finite()) {
            return Err(argmin::core::Error::msg("gradient is not finite"));
        }
        Ok(g)
    }
}

fn scale_of<P: Problem>(p: &P, w: &[f64], start: &[f64]) -> f64 {
    let c = p.cost(start, w);
    if c.is_finite() {
        c.max(1e-10 * p.n_obs() as f64)
    } else {
        1.0
    }
}

/// argmin's best point and cost, `None` on an error.
fn with_argmin<P: Problem>(p: &P, w: &[f64], start: &[f64], iters: u64) -> Option<(Vec<f64>, f64)> {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-12)
        .unwrap()
        .with_tolerance_cost(1e-15)
        .unwrap();
    let objective = Objective {
        problem: p,
        w,
        scale: scale_of(p, w, start),
        last: Mutex::new(None),
    };
    let res = Executor::new(objective, solver)
        .configure(|s| s.param(start.to_vec()).max_iters(iters))
        .run()
        .ok()?;
    let state = res.state();
    Some((state.get_best_param()?.clone(), state.get_best_cost()))
}

/// The transcription's best point and cost, `None` on an error.
fn by_hand<P: Problem>(p: &P, w: &[f64], start: &[f64], iters: u64) -> Option<(Vec<f64>, f64)> {
    let scale = scale_of(p, w, start);
    let eval = |x: &[f64], g: &mut [f64]| {
        let (c, grad) = p.cost_with_gradient(x, w);
        let c = c / scale;
        if c.is_nan() {
            return Err(EvalError);
        }
        let grad = grad.unwrap_or_else(|| p.gradient(x, w));
        for (gi, v) in g.iter_mut().zip(grad) {
            *gi = v / scale;
        }
        if g.iter().any(|v| !v.is_finite()) {
            return Err(EvalError);
        }
        Ok(c)
    };
    minimize(eval, start, iters, 1e-12, 1e-15).ok()
}

/// Both solvers from every grid start and optimum of `replicates` resampled
/// weight vectors (and the unit weights): bit-identical results. Returns how
/// many starts were compared.
fn compare<P: Problem>(p: &P, replicates: usize, what: &str) -> usize {
    let ones = vec![1.0; p.n_obs()];
    let optima = fit(p, &GridPolish::default()).unwrap().optima;
    let groups = p.groups();
    let mut n = 0;
    for i in 0..=replicates {
        let w = if i == 0 {
            ones.clone()
        } else {
            resample_weights(&groups, &mut replicate_rng(11, i))
        };
        let mut starts = p.starts(&w, REPLICATE_SOLVER.resolution, REPLICATE_SOLVER.polish);
        starts.extend(optima.iter().cloned());
        for s in &starts {
            let (a, b) = (
                with_argmin(p, &w, s, REPLICATE_SOLVER.max_iters),
                by_hand(p, &w, s, REPLICATE_SOLVER.max_iters),
            );
            let bits = |r: &Option<(Vec<f64>, f64)>| {
                r.as_ref().map(|(x, c)| {
                    (
                        x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        c.to_bits(),
                    )
                })
            };
            assert_eq!(
                bits(&a),
                bits(&b),
                "{what}, replicate {i}, start {s:?}: argmin {a:?}, by hand {b:?}"
            );
            n += 1;
        }
    }
    n
}

fn olmo_ladder() -> Ladder {
    let text = std::fs::read_to_string(data("olmo_ladder/checkpoints.csv")).unwrap();
    let pts = parse_ladder(&Table::parse("checkpoints.csv", &text).unwrap()).unwrap();
    Ladder::new("checkpoints.csv", &pts, 5)
        .unwrap()
        .tasks_named(&["openbookqa_test".into(), "arc_easy_test".into()])
        .unwrap()
        .filter(|r| !r.run.ends_with("-0.5xC"))
}

#[test]
fn loss_law_polishes_are_argmins_to_the_bit() {
    for (task, runs) in &olmo_ladder().tasks {
        let finals: Vec<LadderPoint> = runs
            .iter()
            .map(|r| {
                let (tokens, loss, _) = r.final_point(5);
                LadderPoint {
                    params: r.params,
                    tokens,
                    loss,
                    run: r.run.clone(),
                    task: None,
                    score: None,
                    step: None,
                    line: r.line,
                }
            })
            .collect();
        let p = LossProblem::new(LossForm::Chinchilla, &finals, 1e-3);
        let n = compare(&p, 40, &format!("{task} step 1"));
        println!("{task} step 1: {n} starts");
    }
    let mut pts = read_ladder(&data("chinchilla_epoch.csv")).unwrap();
    pts.sort_by(|a, b| a.loss.total_cmp(&b.loss));
    pts.truncate(240);
    let p = LossProblem::new(LossForm::Chinchilla, &pts, 1e-3);
    println!("Chinchilla: {} starts", compare(&p, 10, "Chinchilla"));
}

#[test]
fn score_map_polishes_are_argmins_to_the_bit() {
    for (task, runs) in &olmo_ladder().tasks {
        let anchors: Vec<AnchorPoint> = runs
            .iter()
            .flat_map(|r| r.step2_points(&Settings::default()))
            .chain([(0.0, 1.0)])
            .map(|(loss, score)| AnchorPoint::new(loss, score))
            .collect();
        let p = ScoreProblem::new(&anchors);
        let n = compare(&p, 4, &format!("{task} step 2"));
        println!("{task} step 2: {n} starts");
    }
}
