//! Fit one law to a data set and report it: the loss law on a ladder (eq. 2, or
//! Hoffmann et al.'s form with E) and the score map on anchors (eq. 3), each with
//! its diagnostics and, on request, bootstrap 95% CIs.

use crate::limits::{check_count, MAX_BOOTSTRAP};
use densing_core::bootstrap::{bootstrap_from, BootstrapConfig, BootstrapResult};
use densing_core::data::{AnchorPoint, LadderPoint};
use densing_core::fit::{fit, require_points, FitReport, GridPolish, Problem, Replicate};
use densing_core::law::LossForm;
use densing_core::loss::LossProblem;
use densing_core::score::ScoreProblem;
use densing_core::{Error, Result};
use serde_json::{json, Map, Value};

/// The Huber δ of a loss fit: a positive finite number (δ ≤ 0 turns the loss
/// upside down; NaN makes every comparison false).
pub fn check_delta(delta: f64) -> Result<()> {
    if !(delta > 0.0 && delta.is_finite()) {
        return Err(Error::Invalid(format!(
            "delta (the Huber δ, --delta) must be a positive finite number, got {delta}"
        )));
    }
    Ok(())
}

/// Distinct values of a column, counted on their exact bits.
fn distinct(values: impl Iterator<Item = f64>) -> usize {
    let mut v: Vec<u64> = values.map(f64::to_bits).collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// A ladder the loss law can identify: the exponent on N needs two or more
/// distinct `params`, the one on D two or more distinct `tokens`, and a loss
/// that varies. Names the column that cannot carry its parameter.
pub fn check_ladder(data: &str, points: &[LadderPoint], form: LossForm) -> Result<()> {
    let law = loss_law_title(form);
    for (column, values, param) in [
        (
            "params",
            points.iter().map(|p| p.params).collect::<Vec<_>>(),
            "α (the exponent on N)",
        ),
        (
            "tokens",
            points.iter().map(|p| p.tokens).collect(),
            "β (the exponent on D)",
        ),
    ] {
        if distinct(values.iter().copied()) < 2 {
            return Err(Error::Fit(format!(
                "{data}: column `{column}` has a single value ({}) in the {} points fitted: the {law} cannot identify {param}; add runs at another {column}",
                values.first().copied().unwrap_or(f64::NAN),
                points.len()
            )));
        }
    }
    if distinct(points.iter().map(|p| p.loss)) < 2 {
        return Err(Error::Fit(format!(
            "{data}: column `loss` is constant in the {} points fitted: no law can be identified from it",
            points.len()
        )));
    }
    Ok(())
}

/// Anchors the score map can identify: the score and the loss both vary.
pub fn check_anchors(data: &str, anchors: &[AnchorPoint]) -> Result<()> {
    for (column, values) in [
        ("score", anchors.iter().map(|a| a.score).collect::<Vec<_>>()),
        ("loss", anchors.iter().map(|a| a.loss).collect()),
    ] {
        if distinct(values.iter().copied()) < 2 {
            return Err(Error::Fit(format!(
                "{data}: column `{column}` is constant ({}) over the {} anchors fitted: the score map's slope and midpoint cannot be identified",
                values.first().copied().unwrap_or(f64::NAN),
                anchors.len()
            )));
        }
    }
    Ok(())
}

/// A warning per parameter whose bootstrap 95% interval has zero width: every
/// resample gave the same value, which says the resampling cannot move it (too
/// few distinct runs or anchors), not that it is known exactly.
fn degenerate_intervals(report: &FitReport, boot: Option<&BootstrapResult>) -> Vec<String> {
    let Some(b) = boot else {
        return Vec::new();
    };
    report
        .names
        .iter()
        .zip(&b.ci95)
        .filter(|(_, [lo, hi])| lo == hi)
        .map(|(name, [lo, _])| {
            format!(
                "the 95% bootstrap interval of {name} has zero width ([{lo}, {lo}]): the resamples cannot move it, so it is degenerate, not certain"
            )
        })
        .collect()
}

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
    check_delta(delta)?;
    check_count("bootstrap", boot.replicates, MAX_BOOTSTRAP)?;
    if drop_highest >= points.len() {
        return Err(Error::Invalid(format!(
            "drop_highest {drop_highest} would drop every one of the {} points",
            points.len()
        )));
    }
    points.sort_by(|a, b| a.loss.total_cmp(&b.loss));
    points.truncate(points.len() - drop_highest);
    check_ladder(data, &points, form)?;
    let problem = LossProblem::new(form, &points, delta);
    require_points(data, points.len(), problem.names().len())?;
    let report = fit(&problem, &GridPolish::default())?;
    let b = run_bootstrap(&problem, &report, boot, tick)?;
    Ok(LawFit {
        law: loss_law_title(form).into(),
        data: data.into(),
        warnings: degenerate_intervals(&report, b.as_ref()),
        report,
        bootstrap: b,
        options: json!({"form": form, "delta": delta, "dropped_highest": drop_highest}),
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
    check_count("bootstrap", boot.replicates, MAX_BOOTSTRAP)?;
    let (fit_set, held): (Vec<_>, Vec<_>) = anchors.into_iter().partition(|a| !a.heldout);
    let problem = ScoreProblem::new(&fit_set);
    require_points(data, fit_set.len(), 4)?;
    check_anchors(data, &fit_set)?;
    let report = fit(&problem, &GridPolish::default())?;
    let b = run_bootstrap(&problem, &report, boot, tick)?;
    let map = problem.map(&report.theta);
    let mut warnings = degenerate_intervals(&report, b.as_ref());
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
