//! Prediction from a ladder of training runs (`densing predict`, `densing.predict`):
//! pick the runs, fit the two steps per task (`densing_core::predict`), chain them
//! for each target, or backtest on the ladder's largest size; then the same
//! outcome as JSON, as the predictions table and as the report's input.

use densing_core::data::parse_ladder;
use densing_core::predict::{
    backtest_largest, fit_all, Backtest, BacktestRow, Ladder, PredictConfig, Prediction, Settings,
    Target, TaskFit,
};
use densing_core::table::Table;
use densing_core::{Error, Result};
use densing_report::{PredictInput, PredictTask, RunPoint, SizeCurve, TargetRow};
use serde::Serialize;
use serde_json::{json, Value};

/// The bundled OLMo-2 ladder (allenai/OLMo-ladder, Apache-2.0; see data/olmo_ladder/).
const BUNDLED_LADDER: &str = include_str!("../../../data/olmo_ladder/checkpoints.csv");
/// How the bundled ladder is named in outputs and messages.
pub const BUNDLED_LADDER_NAME: &str = "data/olmo_ladder/checkpoints.csv (bundled OLMo-2 ladder)";

/// The bundled OLMo-2 ladder as a table.
pub fn bundled_ladder() -> Result<Table> {
    Table::parse(BUNDLED_LADDER_NAME, BUNDLED_LADDER)
}

/// What to predict and how.
pub struct PredictSpec {
    /// The ladder (`None`: the bundled OLMo-2 ladder, loss in bits per byte).
    pub ladder: Option<Table>,
    /// Models to predict.
    pub targets: Vec<Target>,
    /// Only these tasks (empty: all).
    pub tasks: Vec<String>,
    /// Fit runs matching one of these glob patterns…
    pub runs: Vec<String>,
    /// …and none of these.
    pub exclude: Vec<String>,
    /// Final window, step-2 skip and smoothing.
    pub settings: Settings,
    /// Bootstrap replicates and seed.
    pub bootstrap: usize,
    pub seed: u64,
    /// Hold out the largest size's runs and predict them instead.
    pub backtest_largest: bool,
}

impl Default for PredictSpec {
    /// The CLI's defaults: every run, the 0.5×Chinchilla ones included (they
    /// predicted better than the ladder paper's step-1 choice of leaving them
    /// out; docs/src/predict.md), the paper's windows, 1,000 replicates.
    fn default() -> Self {
        PredictSpec {
            ladder: None,
            targets: Vec::new(),
            tasks: Vec::new(),
            runs: vec!["*".into()],
            exclude: Vec::new(),
            settings: Settings::default(),
            bootstrap: 1000,
            seed: 20241205,
            backtest_largest: false,
        }
    }
}

/// Parse `NAME=N:D`; N and D must be finite and > 0.
pub fn parse_target(s: &str) -> Result<Target> {
    let shape = || {
        Error::Invalid(format!(
            "target `{s}`: expected NAME=N:D, e.g. 7B=6.9e9:3.9e12"
        ))
    };
    let (name, nd) = s.split_once('=').ok_or_else(shape)?;
    let (n, d) = nd.split_once(':').ok_or_else(shape)?;
    let num = |field: &str, v: &str| -> Result<f64> {
        let x: f64 = v.trim().replace('_', "").parse().map_err(|_| {
            Error::Invalid(format!(
                "target `{s}`: field `{field}`: `{v}` is not a number"
            ))
        })?;
        if !(x.is_finite() && x > 0.0) {
            return Err(Error::Invalid(format!(
                "target `{s}`: field `{field}`: must be > 0, got {v}"
            )));
        }
        Ok(x)
    };
    if name.trim().is_empty() {
        return Err(Error::Invalid(format!(
            "target `{s}`: field `name` is empty"
        )));
    }
    Ok(Target {
        name: name.trim().to_string(),
        params: num("N", n)?,
        tokens: num("D", d)?,
    })
}

fn patterns(list: &[String], what: &str) -> Result<Vec<glob::Pattern>> {
    list.iter()
        .map(|p| {
            glob::Pattern::new(p)
                .map_err(|e| Error::Invalid(format!("{what} `{p}` is not a glob pattern: {e}")))
        })
        .collect()
}

/// A finished prediction.
pub struct PredictOutcome {
    /// The ladder's name and how many of its runs were fitted.
    pub ladder: String,
    /// Every run of the chosen tasks (fitted or not), for the figures.
    pub full: Ladder,
    pub fits: Vec<TaskFit>,
    pub predictions: Vec<Prediction>,
    pub backtest: Option<Backtest>,
    /// Whether the ladder is the bundled one (loss in bits per byte).
    pub bundled: bool,
}

/// A checked spec with its ladder read: what [`Prepared::run`] will fit.
pub struct Prepared {
    full: Ladder,
    selected: Ladder,
    bundled: bool,
    name: String,
}

/// Checks the spec and reads the ladder (every input error surfaces here,
/// before any fitting).
pub fn prepare(spec: &PredictSpec) -> Result<Prepared> {
    if spec.targets.is_empty() && !spec.backtest_largest {
        return Err(Error::Invalid(
            "nothing to predict: give a target NAME=N:D or the largest-size backtest".into(),
        ));
    }
    if !(0.0..1.0).contains(&spec.settings.skip) {
        return Err(Error::Invalid(format!(
            "skip must be in [0, 1), got {}",
            spec.settings.skip
        )));
    }
    let keep = patterns(&spec.runs, "runs")?;
    let drop = patterns(&spec.exclude, "exclude")?;
    let bundled;
    let table = match &spec.ladder {
        Some(t) => t,
        None => {
            bundled = bundled_ladder()?;
            &bundled
        }
    };
    table.require(&["run", "params", "tokens", "task", "loss", "score"])?;
    let points = parse_ladder(table)?;
    let full = Ladder::new(&table.name, &points, spec.settings.window)?.tasks_named(&spec.tasks)?;
    let chosen =
        |run: &str| keep.iter().any(|p| p.matches(run)) && !drop.iter().any(|p| p.matches(run));
    let selected = full.filter(|r| chosen(&r.run));
    Ok(Prepared {
        full,
        selected,
        bundled: spec.ladder.is_none(),
        name: table.name.clone(),
    })
}

impl Prepared {
    /// Tasks to fit (each runs `spec.bootstrap` replicates).
    pub fn task_count(&self) -> usize {
        self.full.tasks.len()
    }

    /// Fits and predicts; `tick` is called once per bootstrap replicate and task.
    pub fn run(self, spec: &PredictSpec, tick: &(dyn Fn() + Sync)) -> Result<PredictOutcome> {
        let cfg = PredictConfig {
            settings: spec.settings,
            replicates: spec.bootstrap,
            seed: spec.seed,
        };
        let (fits, predictions, backtest) = if spec.backtest_largest {
            let bt = backtest_largest(&self.full, &self.selected, &cfg, tick)?;
            let mut preds: Vec<Prediction> = bt.rows.iter().map(|r| r.prediction.clone()).collect();
            for tf in &bt.fits {
                preds.extend(spec.targets.iter().map(|t| tf.predict(t)));
            }
            (bt.fits.clone(), preds, Some(bt))
        } else {
            let fits = fit_all(&self.selected, &cfg, tick)?;
            let preds = fits
                .iter()
                .flat_map(|tf| spec.targets.iter().map(|t| tf.predict(t)))
                .collect();
            (fits, preds, None)
        };
        let fitted_runs = fits.first().map_or(0, |f| f.runs.len());
        let ladder = format!(
            "{}; {fitted_runs} of {} runs in the fit",
            self.name,
            self.full.run_names().len()
        );
        Ok(PredictOutcome {
            ladder,
            full: self.full,
            fits,
            predictions,
            backtest,
            bundled: self.bundled,
        })
    }
}

/// [`prepare`] then [`Prepared::run`].
pub fn predict(spec: &PredictSpec, tick: &(dyn Fn() + Sync)) -> Result<PredictOutcome> {
    prepare(spec)?.run(spec, tick)
}

impl PredictOutcome {
    /// The known final loss and score of a backtest prediction's run.
    pub fn truth_of(&self, p: &Prediction) -> Option<&BacktestRow> {
        self.backtest
            .as_ref()?
            .rows
            .iter()
            .find(|r| r.prediction.task == p.task && r.prediction.target == p.target)
    }

    /// `{"ladder", "settings", "bootstrap", "predictions", "fits", "backtest"}`
    /// (`densing predict --json`, `predictions.json`).
    pub fn to_json(&self, spec: &PredictSpec) -> Value {
        json!({
            "ladder": self.ladder,
            "settings": spec.settings,
            "bootstrap": {"replicates": spec.bootstrap, "seed": spec.seed},
            "predictions": self.predictions,
            "fits": self.fits.iter().map(|f| (f.task.clone(), fit_json(f))).collect::<serde_json::Map<_, _>>(),
            "backtest": self.backtest.as_ref().map(backtest_json),
        })
    }

    /// `predictions.csv`: one row per (target, task), with the true values of
    /// backtest targets.
    pub fn predictions_csv(&self) -> Result<String> {
        let csv_err = |e: csv::Error| Error::Fit(format!("writing predictions.csv: {e}"));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "target",
            "params",
            "tokens",
            "task",
            "loss",
            "loss_lo95",
            "loss_hi95",
            "score",
            "score_lo95",
            "score_hi95",
            "true_loss",
            "true_score",
        ])
        .map_err(csv_err)?;
        for p in &self.predictions {
            let truth = self.truth_of(p);
            let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            w.write_record([
                p.target.clone(),
                p.params.to_string(),
                p.tokens.to_string(),
                p.task.clone(),
                p.loss.to_string(),
                p.loss_ci95[0].to_string(),
                p.loss_ci95[1].to_string(),
                p.score.to_string(),
                p.score_ci95[0].to_string(),
                p.score_ci95[1].to_string(),
                opt(truth.map(|r| r.true_loss)),
                opt(truth.map(|r| r.true_score)),
            ])
            .map_err(csv_err)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::Fit(format!("writing predictions.csv: {e}")))?;
        Ok(String::from_utf8(bytes).expect("csv of UTF-8 fields is UTF-8"))
    }

    /// The prediction report's input: per task, every run's final point, the
    /// fitted curves per size, the step-2 points and sigmoid, and the targets.
    pub fn report_input(&self, spec: &PredictSpec) -> PredictInput {
        let window = spec.settings.window;
        let tasks = self
            .fits
            .iter()
            .map(|f| self.report_task(f, window))
            .collect();
        PredictInput {
            ladder: self.ladder.clone(),
            generated_by: format!("densing {} (densing predict)", env!("CARGO_PKG_VERSION")),
            loss_unit: if self.bundled { "bits per byte" } else { "ladder loss" }.into(),
            tasks,
            methods: vec![
                format!(
                    "Step 1, per task: L = E + A·N^-α + B·D^-β fitted on each run's final point (mean of its last {window} evaluations), Huber (δ = 1e-3) on ln L residuals, summed, by a grid over (α, β) with the linear part solved in closed form, then L-BFGS from the best grid cells."
                ),
                format!(
                    "Step 2, per task: S = c/(1 + e^(-γ(L - l))) + d, least squares on every evaluation after the first {}% of each run, each a moving average of {} evaluations, plus the ideal point (L = 0, S = 1); γ > 0, c ∈ [-1, 0], d ∈ [0, 1], and c + d ≥ 0 (the score's lower asymptote is not negative).",
                    100.0 * spec.settings.skip,
                    spec.settings.smooth
                ),
                format!(
                    "Intervals: {} bootstrap replicates (seed {}); each draws the fitted runs with replacement (both steps) and, for every drawn copy of a run, its step-2 points with replacement; the 95% interval is the 2.5–97.5 percentile of the chained prediction.",
                    spec.bootstrap, spec.seed
                ),
            ],
        }
    }

    fn report_task(&self, f: &TaskFit, window: usize) -> PredictTask {
        let runs: Vec<RunPoint> = self.full.tasks[&f.task]
            .iter()
            .map(|r| {
                let (tokens, loss, score) = r.final_point(window);
                RunPoint {
                    run: r.run.clone(),
                    params: r.params,
                    tokens,
                    loss,
                    score,
                    fitted: f.runs.contains(&r.run),
                }
            })
            .collect();
        let targets: Vec<TargetRow> = self
            .predictions
            .iter()
            .filter(|p| p.task == f.task)
            .map(|p| {
                let truth = self.truth_of(p);
                TargetRow {
                    name: p.target.clone(),
                    params: p.params,
                    tokens: p.tokens,
                    loss: p.loss,
                    loss_ci95: p.loss_ci95,
                    score: p.score,
                    score_ci95: p.score_ci95,
                    true_loss: truth.map(|r| r.true_loss),
                    true_score: truth.map(|r| r.true_score),
                }
            })
            .collect();
        let ratios = runs
            .iter()
            .map(|r| r.tokens / r.params)
            .chain(targets.iter().map(|t| t.tokens / t.params))
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            });
        let mut sizes: Vec<f64> = runs
            .iter()
            .map(|r| r.params)
            .chain(targets.iter().map(|t| t.params))
            .collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup();
        let curve = |g: &dyn Fn(f64, f64) -> f64| -> Vec<SizeCurve> {
            sizes
                .iter()
                .map(|&n| SizeCurve {
                    params: n,
                    points: sampled_tokens(n, ratios)
                        .into_iter()
                        .map(|d| [6.0 * n * d, g(n, d)])
                        .collect(),
                })
                .collect()
        };
        let l_max = f.scores.iter().map(|p| p.0).fold(0.0, f64::max) * 1.05;
        PredictTask {
            task: f.task.clone(),
            law: format!(
                "L = {:.4} + {:.4e}·N^-{:.3} + {:.4e}·D^-{:.3}",
                f.law.e, f.law.a, f.law.alpha, f.law.b, f.law.beta
            ),
            map: format!(
                "S = {:.3}/(1 + e^(-{:.2}(L - {:.3}))) + {:.3}",
                f.map.c, f.map.gamma, f.map.l, f.map.d
            ),
            step1_error: f.step1_mean_abs_rel_error,
            step2_rmse: f.step2_rmse,
            loss_curves: curve(&|n, d| f.law.loss(n, d)),
            score_curves: curve(&|n, d| f.map.score(f.law.loss(n, d))),
            step2_points: f.scores.iter().map(|&(l, s)| [l, s]).collect(),
            sigmoid: (0..=100)
                .map(|i| {
                    let l = l_max * i as f64 / 100.0;
                    [l, f.map.score(l)]
                })
                .collect(),
            runs,
            targets,
        }
    }
}

fn fit_json(f: &TaskFit) -> Value {
    json!({
        "runs": f.runs,
        "loss_law": {"E": f.law.e, "A": f.law.a, "B": f.law.b, "alpha": f.law.alpha, "beta": f.law.beta,
                     "ci95": {"E": f.law_ci95.first(), "A": f.law_ci95.get(1), "B": f.law_ci95.get(2),
                              "alpha": f.law_ci95.get(3), "beta": f.law_ci95.get(4)}},
        "step1_mean_abs_rel_error": f.step1_mean_abs_rel_error,
        "step1_objective": f.step1.objective,
        "step1_distinct_optima": f.step1.distinct_optima,
        "score_map": {"c": f.map.c, "gamma": f.map.gamma, "l": f.map.l, "d": f.map.d,
                      "ci95": {"c": f.map_ci95.first(), "gamma": f.map_ci95.get(1),
                               "l": f.map_ci95.get(2), "d": f.map_ci95.get(3)}},
        "step2_points": f.step2_points,
        "step2_rmse": f.step2_rmse,
        "failed_replicates": f.failed_replicates,
        "fallbacks": f.fallbacks,
    })
}

fn backtest_json(bt: &Backtest) -> Value {
    let n = bt.rows.len();
    let mean = |f: &dyn Fn(&BacktestRow) -> f64| bt.rows.iter().map(f).sum::<f64>() / n as f64;
    json!({
        "held_out_params": bt.held_out_params,
        "rows": bt.rows,
        "mean_loss_abs_error": mean(&|r| r.loss_abs_error),
        "mean_score_abs_error": mean(&|r| r.score_abs_error),
        "loss_coverage": format!("{}/{n}", bt.rows.iter().filter(|r| r.loss_covered).count()),
        "score_coverage": format!("{}/{n}", bt.rows.iter().filter(|r| r.score_covered).count()),
        "fitted_ratio_range": bt.fitted_ratio_range,
        "inside_fitted_range": CoverageSplit::of(bt, true).json(),
        "outside_fitted_range": CoverageSplit::of(bt, false).json(),
    })
}

/// Coverage of the held-out runs inside (or outside) the fitted runs'
/// tokens-per-parameter range: an interval that covers only where it extrapolates
/// in tokens, or only where it does not, must not hide behind the pooled count.
/// The one computation behind `densing predict`'s text and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CoverageSplit {
    pub pairs: usize,
    pub loss_covered: usize,
    pub score_covered: usize,
}

impl CoverageSplit {
    pub fn of(bt: &Backtest, inside: bool) -> CoverageSplit {
        let rows: Vec<&BacktestRow> = bt
            .rows
            .iter()
            .filter(|r| r.in_fitted_ratio_range == inside)
            .collect();
        CoverageSplit {
            pairs: rows.len(),
            loss_covered: rows.iter().filter(|r| r.loss_covered).count(),
            score_covered: rows.iter().filter(|r| r.score_covered).count(),
        }
    }

    fn json(&self) -> Value {
        let n = self.pairs;
        json!({
            "pairs": n,
            "loss_coverage": format!("{}/{n}", self.loss_covered),
            "score_coverage": format!("{}/{n}", self.score_covered),
        })
    }
}

/// Token counts at which a size's curve is sampled: from the smallest to the
/// largest tokens-per-parameter ratio seen (runs and targets), log-spaced.
fn sampled_tokens(n: f64, ratios: (f64, f64)) -> Vec<f64> {
    let (lo, hi) = ((ratios.0 / 1.3).ln(), (ratios.1 * 1.3).ln());
    (0..60)
        .map(|i| n * (lo + (hi - lo) * i as f64 / 59.0).exp())
        .collect()
}
