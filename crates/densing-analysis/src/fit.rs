//! Fit one law to a data set and report it: the loss law on a ladder (eq. 2, or
//! Hoffmann et al.'s form with E) and the score map on anchors (eq. 3), each with
//! its diagnostics and, on request, bootstrap 95% CIs.

use densing_core::bootstrap::{bootstrap_from, BootstrapConfig, BootstrapResult};
use densing_core::data::{AnchorPoint, LadderPoint};
use densing_core::fit::{fit, require_points, FitReport, GridPolish, Problem, Replicate};
use densing_core::law::LossForm;
use densing_core::loss::LossProblem;
use densing_core::score::ScoreProblem;
use densing_core::{Error, Result};
use serde_json::{json, Map, Value};

/// Bootstrap settings of a single-law fit: `replicates = 0` means none.
#[derive(Debug, Clone, Copy)]
pub struct FitBootstrap {
    pub replicates: usize,
    pub seed: u64,
}

/// A fitted law with its diagnostics and bootstrap.
#[derive(Debug)]
pub struct LawFit {
    /// The formula and objective, e.g. "loss law L = a·N^-α + b·D^-β (…)".
    pub law: String,
    /// Where the points came from (file name, or what the caller calls them).
    pub data: String,
    pub report: FitReport,
    pub bootstrap: Option<BootstrapResult>,
    /// The options the fit ran with (form, δ, dropped points; held-out anchors).
    pub options: Value,
    pub warnings: Vec<String>,
}

impl LawFit {
    /// The fit as `densing fit --json` prints it: parameters and their 95% CIs
    /// keyed by name, diagnostics, residuals, options, warnings.
    pub fn to_value(&self) -> Value {
        let r = &self.report;
        let by_name = |values: Vec<Value>| -> Map<String, Value> {
            r.names.iter().cloned().zip(values).collect()
        };
        let mut out = json!({
            "law": self.law,
            "data": self.data,
            "n_points": r.n_obs,
            "params": by_name(r.params.iter().map(|v| json!(v)).collect()),
            "objective": r.objective,
            "r2": r.r2,
            "distinct_optima": r.distinct_optima,
            "starts": r.starts,
            "correlations": r.correlations,
            "leave_largest_out_error": r.leave_largest_out_error,
            "residuals": r.residuals,
            "warnings": self.warnings,
            "options": self.options,
        });
        if let Some(b) = &self.bootstrap {
            out["ci95"] = json!(by_name(b.ci95.iter().map(|v| json!(v)).collect()));
            out["bootstrap"] = json!({"replicates": b.replicates, "seed": b.seed, "failed": b.failed, "fallbacks": b.fallbacks});
        }
        out
    }
}

/// The law's formula, as every output names it.
pub fn loss_law_title(form: LossForm) -> &'static str {
    match form {
        LossForm::Paper => "loss law L = a·N^-α + b·D^-β (Huber δ on ln L, summed)",
        LossForm::Chinchilla => "loss law L = E + A·N^-α + B·D^-β (Huber δ on ln L, summed)",
    }
}

const SCORE_MAP_TITLE: &str =
    "score map S = c/(1+e^{-γ(L-l)}) + d (least squares on S; γ > 0, c < 0)";

/// Fit the loss law on a ladder after dropping its `drop_highest` highest losses
/// (Epoch AI drops 5), Huber δ on ln L residuals, summed. `tick` is called once
/// per bootstrap replicate.
pub fn fit_loss(
    data: &str,
    mut points: Vec<LadderPoint>,
    form: LossForm,
    drop_highest: usize,
    delta: f64,
    boot: FitBootstrap,
    tick: &(dyn Fn() + Sync),
) -> Result<LawFit> {
    if drop_highest >= points.len() {
        return Err(Error::Invalid(format!(
            "drop_highest {drop_highest} would drop every one of the {} points",
            points.len()
        )));
    }
    points.sort_by(|a, b| a.loss.total_cmp(&b.loss));
    points.truncate(points.len() - drop_highest);
    let problem = LossProblem::new(form, &points, delta);
    require_points(data, points.len(), problem.names().len())?;
    let report = fit(&problem, &GridPolish::default())?;
    let b = run_bootstrap(&problem, &report, boot, tick)?;
    Ok(LawFit {
        law: loss_law_title(form).into(),
        data: data.into(),
        report,
        bootstrap: b,
        options: json!({"form": form, "delta": delta, "dropped_highest": drop_highest}),
        warnings: Vec::new(),
    })
}

/// Fit the score map on the anchors not marked `heldout`; the held-out ones are
/// predicted and reported beside their observed score.
pub fn fit_score(
    data: &str,
    anchors: Vec<AnchorPoint>,
    boot: FitBootstrap,
    tick: &(dyn Fn() + Sync),
) -> Result<LawFit> {
    let (fit_set, held): (Vec<_>, Vec<_>) = anchors.into_iter().partition(|a| !a.heldout);
    let problem = ScoreProblem::new(&fit_set);
    require_points(data, fit_set.len(), 4)?;
    let report = fit(&problem, &GridPolish::default())?;
    let b = run_bootstrap(&problem, &report, boot, tick)?;
    let map = problem.map(&report.theta);
    let mut warnings = Vec::new();
    if problem.one_branch(&map) {
        warnings.push(format!(
            "every anchor lies on one side of the sigmoid midpoint l = {:.4}: the far asymptote is an extrapolation",
            map.l
        ));
    }
    let heldout: Vec<_> = held
        .iter()
        .map(|a| json!({"model": a.model, "loss": a.loss, "score": a.score, "predicted": map.score(a.loss)}))
        .collect();
    Ok(LawFit {
        law: SCORE_MAP_TITLE.into(),
        data: data.into(),
        report,
        bootstrap: b,
        options: json!({"heldout": heldout}),
        warnings,
    })
}

fn run_bootstrap<P: Problem>(
    problem: &P,
    report: &FitReport,
    boot: FitBootstrap,
    tick: &(dyn Fn() + Sync),
) -> Result<Option<BootstrapResult>> {
    if boot.replicates == 0 {
        return Ok(None);
    }
    {
        let cfg = BootstrapConfig {
            replicates: boot.replicates,
            seed: boot.seed,
            solver: GridPolish {
                resolution: 20,
                polish: 3,
                max_iters: 2000,
            },
        };
        // Every replicate failing is an error, not an empty interval.
        bootstrap_from(problem, &report.optima, &cfg, Replicate::Warm, tick)
            .require_success()
            .map(Some)
    }
}
