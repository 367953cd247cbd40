//! Two-step prediction from a ladder of training runs (the recipe of Bhagia et
//! al. 2024, "Establishing Task Scaling Laws via Compute-Efficient Model Ladders",
//! arXiv 2412.04403), the question a ladder answers before compute is spent:
//! what loss and score will a model of N parameters trained on D tokens reach?
//!
//! * **Step 1**, per task: `L = E + A·N^-α + B·D^-β` on each run's final point
//!   (the mean of its last `window` evaluations), Huber (δ = 1e-3) on ln L,
//!   summed, fitted globally by [`GridPolish`] ([`LossStep`]).
//! * **Step 2**, per task: `S = c/(1 + e^{-γ(L−l)}) + d` on every evaluation after
//!   the first `skip` fraction of each run, each a trailing moving average of
//!   `smooth` evaluations, plus the ideal point (L = 0, S = 1) ([`ScoreStep`]).
//! * **Chain**: `L̂ = law(N, D)`, `Ŝ = map(L̂)`, with 95% percentile intervals
//!   from a bootstrap that resamples runs (both steps) and, inside every drawn
//!   run, its evaluations (step 2), so an interval carries both steps' error.
//!
//! [`LossStep`] and [`ScoreStep`] are also the two steps of the density path's
//! two-step calibration ([`crate::calibration::Calibration::two_step`]).

use crate::bootstrap::{percentile_interval, replicate_rng, REPLICATE_SOLVER};
use crate::data::{AnchorPoint, LadderPoint};
use crate::error::{Error, Result};
use crate::fit::{fit_only, require_points, FitReport, GridPolish, Problem, Replicate};
use crate::law::{LossForm, LossLaw, ScoreMap};
use crate::loss::LossProblem;
use crate::score::ScoreProblem;
use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Huber threshold on ln L residuals (Hoffmann et al.; the ladder paper).
pub const HUBER_DELTA: f64 = 1e-3;

/// Step 1: a loss law fitted on one final point per run.
pub struct LossStep {
    pub problem: LossProblem,
    pub fit: FitReport,
}

impl LossStep {
    pub fn fit(points: &[LadderPoint], form: LossForm, what: &str) -> Result<LossStep> {
        let problem = LossProblem::new(form, points, HUBER_DELTA);
        require_points(what, points.len(), problem.names().len())?;
        let fit = fit_only(&problem, &GridPolish::default())?;
        Ok(LossStep { problem, fit })
    }

    pub fn law(&self) -> LossLaw {
        self.problem.law(&self.fit.theta)
    }

    /// Refit with multiplicity weights (a bootstrap replicate) by the full
    /// grid scan, with the full-data optima as extra starts (see
    /// [`fit_task`] for why not warm-started).
    pub fn refit(&self, w: &[f64]) -> Option<LossLaw> {
        REPLICATE_SOLVER
            .solve_replicate(&self.problem, w, &self.fit.optima, Replicate::FullGrid)
            .ok()
            .map(|r| self.problem.law(&r.solution.theta))
    }
}

/// Step 2: a score map fitted on (loss, score) points.
pub struct ScoreStep {
    pub problem: ScoreProblem,
    pub fit: FitReport,
}

impl ScoreStep {
    pub fn fit(points: &[AnchorPoint], what: &str) -> Result<ScoreStep> {
        require_points(what, points.len(), 4)?;
        let problem = ScoreProblem::new(points);
        let fit = fit_only(&problem, &GridPolish::default())?;
        Ok(ScoreStep { problem, fit })
    }

    pub fn map(&self) -> ScoreMap {
        self.problem.map(&self.fit.theta)
    }

    /// Refit with multiplicity weights from the full-data optima, solved
    /// `how`; also whether it fell back to the grid.
    pub fn refit(&self, w: &[f64], how: Replicate) -> Option<(ScoreMap, bool)> {
        REPLICATE_SOLVER
            .solve_replicate(&self.problem, w, &self.fit.optima, how)
            .ok()
            .map(|r| (self.problem.map(&r.solution.theta), r.fell_back))
    }
}

/// How a run's evaluations become fit points.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Settings {
    /// Evaluations averaged into a run's final point (step 1).
    pub window: usize,
    /// Fraction of each run's evaluations skipped before step 2.
    pub skip: f64,
    /// Trailing moving-average length of step 2's points.
    pub smooth: usize,
}

impl Default for Settings {
    /// The ladder paper's choices: last 5 evaluations, skip 10%, smooth over 5.
    fn default() -> Self {
        Settings {
            window: 5,
            skip: 0.1,
            smooth: 5,
        }
    }
}

/// One run's evaluations of one task, in training order.
#[derive(Debug, Clone, Serialize)]
pub struct RunSeries {
    pub run: String,
    pub params: f64,
    pub tokens: Vec<f64>,
    pub loss: Vec<f64>,
    pub score: Vec<f64>,
    /// Line of the run's first evaluation, for messages.
    pub line: u64,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

impl RunSeries {
    /// The run's final point: tokens of its last evaluation, loss and score the
    /// means of its last `window` evaluations (single checkpoints are noisy).
    pub fn final_point(&self, window: usize) -> (f64, f64, f64) {
        let from = self.loss.len() - window;
        (
            self.tokens[self.tokens.len() - 1],
            mean(&self.loss[from..]),
            mean(&self.score[from..]),
        )
    }

    /// Step 2's points: `(loss, score)` each averaged over the `smooth`
    /// evaluations ending at it, for every evaluation past the first `skip`
    /// fraction of the run (and past the first full averaging window).
    pub fn step2_points(&self, s: &Settings) -> Vec<(f64, f64)> {
        let n = self.loss.len();
        let w = s.smooth.max(1);
        let first = ((s.skip * n as f64).ceil() as usize).max(w - 1);
        (first..n)
            .map(|i| {
                (
                    mean(&self.loss[i + 1 - w..=i]),
                    mean(&self.score[i + 1 - w..=i]),
                )
            })
            .collect()
    }
}

/// A checkpoint ladder grouped by task and run, validated: every run has every
/// task, at least `window` evaluations, one N, and tokens rising in file order.
#[derive(Debug, Clone)]
pub struct Ladder {
    pub file: String,
    /// Task → its runs, in the order the runs first appear in the file.
    pub tasks: BTreeMap<String, Vec<RunSeries>>,
}

/// Task name used when the ladder has no `task` column.
pub const NO_TASK: &str = "task";

impl Ladder {
    pub fn new(file: &str, points: &[LadderPoint], window: usize) -> Result<Ladder> {
        if window == 0 {
            return Err(Error::Invalid("the final window must be at least 1".into()));
        }
        let mut run_order: Vec<&str> = Vec::new();
        let mut tasks: BTreeMap<String, Vec<RunSeries>> = BTreeMap::new();
        for p in points {
            let score = p.score.ok_or_else(|| {
                Error::field(file, p.line, "score", "is empty; step 2 needs a score")
            })?;
            if !run_order.contains(&p.run.as_str()) {
                run_order.push(&p.run);
            }
            let task = p.task.clone().unwrap_or_else(|| NO_TASK.into());
            let runs = tasks.entry(task).or_default();
            match runs.iter_mut().find(|r| r.run == p.run) {
                None => runs.push(RunSeries {
                    run: p.run.clone(),
                    params: p.params,
                    tokens: vec![p.tokens],
                    loss: vec![p.loss],
                    score: vec![score],
                    line: p.line,
                }),
                Some(r) => {
                    if r.params != p.params {
                        return Err(Error::field(
                            file,
                            p.line,
                            "params",
                            format!(
                                "run `{}` has params {} here but {} on line {}",
                                p.run, p.params, r.params, r.line
                            ),
                        ));
                    }
                    let last = r.tokens[r.tokens.len() - 1];
                    if p.tokens <= last {
                        return Err(Error::field(
                            file,
                            p.line,
                            "tokens",
                            format!(
                                "tokens must increase within run `{}`: {} follows {}",
                                p.run, p.tokens, last
                            ),
                        ));
                    }
                    r.tokens.push(p.tokens);
                    r.loss.push(p.loss);
                    r.score.push(score);
                }
            }
        }
        for (task, runs) in &tasks {
            for r in runs {
                if r.loss.len() < window {
                    return Err(Error::field(
                        file,
                        r.line,
                        "run",
                        format!(
                            "run `{}` has {} evaluation(s) of `{task}`, fewer than the final window of {window}",
                            r.run,
                            r.loss.len()
                        ),
                    ));
                }
            }
            let have: BTreeSet<&str> = runs.iter().map(|r| r.run.as_str()).collect();
            if let Some(missing) = run_order.iter().find(|r| !have.contains(*r)) {
                let line = points
                    .iter()
                    .find(|p| p.run == *missing)
                    .map_or(0, |p| p.line);
                return Err(Error::field(
                    file,
                    line,
                    "task",
                    format!("run `{missing}` has no evaluations of task `{task}`, which other runs have"),
                ));
            }
        }
        if tasks.is_empty() {
            return Err(Error::file(file, "no data rows"));
        }
        Ok(Ladder {
            file: file.to_string(),
            tasks,
        })
    }

    pub fn task_names(&self) -> Vec<String> {
        self.tasks.keys().cloned().collect()
    }

    /// Run names in file order.
    pub fn run_names(&self) -> Vec<String> {
        self.tasks
            .values()
            .next()
            .map(|runs| runs.iter().map(|r| r.run.clone()).collect())
            .unwrap_or_default()
    }

    /// The ladder restricted to the runs `keep` accepts.
    pub fn filter(&self, keep: impl Fn(&RunSeries) -> bool) -> Ladder {
        Ladder {
            file: self.file.clone(),
            tasks: self
                .tasks
                .iter()
                .map(|(t, runs)| {
                    (
                        t.clone(),
                        runs.iter().filter(|r| keep(r)).cloned().collect(),
                    )
                })
                .collect(),
        }
    }

    /// The ladder restricted to the named tasks (all when `names` is empty).
    pub fn tasks_named(&self, names: &[String]) -> Result<Ladder> {
        if names.is_empty() {
            return Ok(self.clone());
        }
        let mut tasks = BTreeMap::new();
        for n in names {
            let runs = self.tasks.get(n).ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown task `{n}` in {}; its tasks are: {}",
                    self.file,
                    self.task_names().join(", ")
                ))
            })?;
            tasks.insert(n.clone(), runs.clone());
        }
        Ok(Ladder {
            file: self.file.clone(),
            tasks,
        })
    }
}

/// Reduce a ladder to the points step 1 fits: for a checkpoint ladder (rows
/// carry `step`), each (run, task)'s final point over `window` evaluations; a
/// ladder of one row per fit point (no `step`) is returned unchanged.
pub fn final_points(file: &str, points: &[LadderPoint], window: usize) -> Result<Vec<LadderPoint>> {
    if points.iter().all(|p| p.step.is_none()) {
        return Ok(points.to_vec());
    }
    let with_scores: Vec<LadderPoint> = points
        .iter()
        .map(|p| LadderPoint {
            score: Some(p.score.unwrap_or(0.0)),
            ..p.clone()
        })
        .collect();
    let ladder = Ladder::new(file, &with_scores, window)?;
    Ok(ladder
        .tasks
        .iter()
        .flat_map(|(task, runs)| {
            runs.iter()
                .map(move |r| final_ladder_point(task, r, window))
        })
        .collect())
}

fn final_ladder_point(task: &str, r: &RunSeries, window: usize) -> LadderPoint {
    let (tokens, loss, score) = r.final_point(window);
    LadderPoint {
        params: r.params,
        tokens,
        loss,
        run: r.run.clone(),
        task: Some(task.to_string()),
        score: Some(score),
        step: None,
        line: r.line,
    }
}

/// A model to predict.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub params: f64,
    pub tokens: f64,
}

/// One chained prediction with its 95% intervals.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub target: String,
    pub params: f64,
    pub tokens: f64,
    pub task: String,
    pub loss: f64,
    pub loss_ci95: [f64; 2],
    pub score: f64,
    pub score_ci95: [f64; 2],
}

/// Both steps of one task, with their replicates.
#[derive(Debug, Clone, Serialize)]
pub struct TaskFit {
    pub task: String,
    /// Runs in the fit (step 1 has one point per run).
    pub runs: Vec<String>,
    pub law: LossLaw,
    pub law_ci95: Vec<[f64; 2]>,
    /// Step-1 fit error: mean |L̂/L − 1| over the runs' final points.
    pub step1_mean_abs_rel_error: f64,
    pub step1: FitReport,
    pub map: ScoreMap,
    pub map_ci95: Vec<[f64; 2]>,
    /// Step-2 points (smoothed evaluations, ideal point excluded).
    pub step2_points: usize,
    /// Step-2 residual spread: root-mean-square of S − Ŝ over those points.
    pub step2_rmse: f64,
    pub step2: FitReport,
    /// Bootstrap replicates whose refit failed in either step (excluded).
    pub failed_replicates: usize,
    /// Step-2 replicate refits whose warm start fell back to the full grid
    /// scan (step 1's are all solved by it).
    pub fallbacks: usize,
    /// Step-1 points: (run, N, D, L, S) final points.
    #[serde(skip)]
    pub finals: Vec<LadderPoint>,
    /// Step-2 points `(L, S)`, ideal point excluded.
    #[serde(skip)]
    pub scores: Vec<(f64, f64)>,
    #[serde(skip)]
    pub replicates: Vec<(LossLaw, ScoreMap)>,
}

impl TaskFit {
    /// Chained prediction at (N, D) with percentile intervals over replicates.
    pub fn predict(&self, t: &Target) -> Prediction {
        let loss = self.law.loss(t.params, t.tokens);
        let (ls, ss): (Vec<f64>, Vec<f64>) = self
            .replicates
            .iter()
            .map(|(law, map)| {
                let l = law.loss(t.params, t.tokens);
                (l, map.score(l))
            })
            .unzip();
        Prediction {
            target: t.name.clone(),
            params: t.params,
            tokens: t.tokens,
            task: self.task.clone(),
            loss,
            loss_ci95: percentile_interval(&ls, 0.95),
            score: self.map.score(loss),
            score_ci95: percentile_interval(&ss, 0.95),
        }
    }
}

/// Bootstrap settings of a prediction.
#[derive(Debug, Clone, Copy)]
pub struct PredictConfig {
    pub settings: Settings,
    pub replicates: usize,
    pub seed: u64,
}

/// Fit both steps of one task on `runs` and bootstrap them jointly.
///
/// Replicate `i` draws the runs with replacement from stream `(seed, i)` (the
/// same draw for every task, so tasks stay comparable), weights each run's
/// final point by its count, and for every drawn copy of a run resamples that
/// run's step-2 points with replacement; the ideal point keeps weight 1.
/// Step 1's replicates are solved by the full grid scan: the Huber fit of
/// ~20 final points has close and distant minima that a warm start misses
/// (on the OLMo-2 ladder, `examples/warm_vs_grid.rs`: 43 of 8,000 warm
/// replicates ended in another minimum than the grid's, mostly a worse one,
/// and moved interval ends by up to 37%), and the full grid made the
/// two-target `densing predict` 3.5 CPU s instead of 3.0. Step 2's are
/// warm-started.
/// `tick` is called once per finished replicate (progress).
pub fn fit_task(
    task: &str,
    runs: &[RunSeries],
    cfg: &PredictConfig,
    tick: &(dyn Fn() + Sync),
) -> Result<TaskFit> {
    fit_task_by(task, runs, cfg, Replicate::Warm, tick)
}

/// [`fit_task`] with step 2's replicate refits solved `how` (the full-grid
/// path is the reference the warm-started one is checked against; step 1's
/// are always solved by the full grid).
pub fn fit_task_by(
    task: &str,
    runs: &[RunSeries],
    cfg: &PredictConfig,
    how: Replicate,
    tick: &(dyn Fn() + Sync),
) -> Result<TaskFit> {
    let s = cfg.settings;
    let finals: Vec<LadderPoint> = runs
        .iter()
        .map(|r| final_ladder_point(task, r, s.window))
        .collect();
    let step1 = LossStep::fit(
        &finals,
        LossForm::Chinchilla,
        &format!("step 1 of `{task}`"),
    )?;
    let per_run: Vec<Vec<(f64, f64)>> = runs.iter().map(|r| r.step2_points(&s)).collect();
    let mut anchors: Vec<AnchorPoint> = per_run
        .iter()
        .flatten()
        .map(|&(loss, score)| AnchorPoint::new(loss, score))
        .collect();
    let scores: Vec<(f64, f64)> = per_run.iter().flatten().copied().collect();
    anchors.push(AnchorPoint::new(0.0, 1.0));
    let step2 = ScoreStep::fit(&anchors, &format!("step 2 of `{task}`"))?;
    let (law, map) = (step1.law(), step2.map());

    // Per replicate: step 1's refit, step 2's and whether it fell back to the grid.
    type Refits = (LossLaw, (ScoreMap, bool));
    let results: Vec<Option<Refits>> = (0..cfg.replicates)
        .into_par_iter()
        .map(|i| {
            let mut rng = replicate_rng(cfg.seed, i);
            let mut w1 = vec![0.0; runs.len()];
            for _ in 0..runs.len() {
                w1[rng.random_range(0..runs.len())] += 1.0;
            }
            let mut w2 = Vec::with_capacity(anchors.len());
            for (pts, &copies) in per_run.iter().zip(&w1) {
                let mut w = vec![0.0; pts.len()];
                for _ in 0..copies as usize * pts.len() {
                    w[rng.random_range(0..pts.len())] += 1.0;
                }
                w2.extend(w);
            }
            w2.push(1.0);
            let out = step1.refit(&w1).zip(step2.refit(&w2, how));
            tick();
            out
        })
        .collect();
    let replicates: Vec<(LossLaw, ScoreMap)> =
        results.iter().flatten().map(|(l, m)| (*l, m.0)).collect();
    let fallbacks = results
        .iter()
        .flatten()
        .map(|(_, m)| usize::from(m.1))
        .sum();
    let law_samples: Vec<Vec<f64>> = replicates
        .iter()
        .map(|(l, _)| vec![l.e, l.a, l.b, l.alpha, l.beta])
        .collect();
    let map_samples: Vec<Vec<f64>> = replicates
        .iter()
        .map(|(_, m)| vec![m.c, m.gamma, m.l, m.d])
        .collect();
    let step1_err = mean(
        &finals
            .iter()
            .map(|p| (law.loss(p.params, p.tokens) / p.loss - 1.0).abs())
            .collect::<Vec<_>>(),
    );
    let step2_rmse = mean(
        &scores
            .iter()
            .map(|&(l, sc)| (map.score(l) - sc).powi(2))
            .collect::<Vec<_>>(),
    )
    .sqrt();
    Ok(TaskFit {
        task: task.to_string(),
        runs: runs.iter().map(|r| r.run.clone()).collect(),
        law,
        law_ci95: crate::bootstrap::percentile_intervals(&law_samples, 0.95),
        step1_mean_abs_rel_error: step1_err,
        step1: step1.fit,
        map,
        map_ci95: crate::bootstrap::percentile_intervals(&map_samples, 0.95),
        step2_points: scores.len(),
        step2_rmse,
        step2: step2.fit,
        failed_replicates: cfg.replicates - replicates.len(),
        fallbacks,
        finals,
        scores,
        replicates,
    })
}

/// Fit every task of the ladder.
pub fn fit_all(
    ladder: &Ladder,
    cfg: &PredictConfig,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<TaskFit>> {
    ladder
        .tasks
        .iter()
        .map(|(task, runs)| {
            if runs.is_empty() {
                return Err(Error::Invalid(format!(
                    "no runs of {} are left to fit after the run selection",
                    ladder.file
                )));
            }
            fit_task(task, runs, cfg, tick)
        })
        .collect()
}

/// One held-out run of the backtest: prediction against the run's final point.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestRow {
    #[serde(flatten)]
    pub prediction: Prediction,
    pub true_loss: f64,
    pub true_score: f64,
    pub loss_abs_error: f64,
    pub score_abs_error: f64,
    pub loss_covered: bool,
    pub score_covered: bool,
    /// Whether the run's tokens-per-parameter ratio lies within the fitted
    /// runs' range (coverage is reported separately inside and outside it).
    pub in_fitted_ratio_range: bool,
}

/// The backtest: fit on the runs smaller than the ladder's largest size, then
/// predict the final points of the runs at that size.
#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    pub held_out_params: f64,
    /// Smallest and largest tokens-per-parameter ratio of the fitted runs' final points.
    pub fitted_ratio_range: [f64; 2],
    pub rows: Vec<BacktestRow>,
    pub fits: Vec<TaskFit>,
}

/// Held-out runs: every run of the largest N in `full`; fit set: the runs of
/// `selected` below that N.
pub fn backtest_largest(
    full: &Ladder,
    selected: &Ladder,
    cfg: &PredictConfig,
    tick: &(dyn Fn() + Sync),
) -> Result<Backtest> {
    let n_max = full
        .tasks
        .values()
        .flatten()
        .map(|r| r.params)
        .fold(0.0, f64::max);
    let train = selected.filter(|r| r.params < n_max);
    let fits = fit_all(&train, cfg, tick)?;
    let ratio = |r: &RunSeries| r.final_point(cfg.settings.window).0 / r.params;
    let fitted_ratio_range = train
        .tasks
        .values()
        .flatten()
        .map(ratio)
        .fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], x| {
            [lo.min(x), hi.max(x)]
        });
    // Ratios are rounded multiples of Chinchilla's; 1% slack absorbs the rounding.
    let in_range = |x: f64| fitted_ratio_range[0] * 0.99 <= x && x <= fitted_ratio_range[1] * 1.01;
    let mut rows = Vec::new();
    for tf in &fits {
        for r in full.tasks[&tf.task].iter().filter(|r| r.params >= n_max) {
            let (tokens, true_loss, true_score) = r.final_point(cfg.settings.window);
            let p = tf.predict(&Target {
                name: r.run.clone(),
                params: r.params,
                tokens,
            });
            let inside = |ci: [f64; 2], v: f64| ci[0] <= v && v <= ci[1];
            rows.push(BacktestRow {
                true_loss,
                true_score,
                loss_abs_error: (p.loss - true_loss).abs(),
                score_abs_error: (p.score - true_score).abs(),
                loss_covered: inside(p.loss_ci95, true_loss),
                score_covered: inside(p.score_ci95, true_score),
                in_fitted_ratio_range: in_range(ratio(r)),
                prediction: p,
            });
        }
    }
    Ok(Backtest {
        held_out_params: n_max,
        fitted_ratio_range,
        rows,
        fits,
    })
}
