//! The report's input: everything the figures and the page show, as plain data.
//!
//! The report crate knows nothing of fitting. Whoever runs the pipeline fills a
//! [`ReportInput`] from its results (sampling fitted curves into point lists), and
//! writes it as `report.json` beside the page so `densing report --from DIR` can
//! draw the same report again without refitting.
//!
//! Units are fixed here once so that the figures never guess:
//! * model parameter counts (`params`, `n_hat`) are in **billions**;
//! * densities `rho` are plain ratios `N̂ / N` (1.0 = as dense as the reference);
//! * trend times are **days since `origin_date`**, and trend bands are in **ln ρ**;
//! * ladder `params`, `tokens` and compute are raw counts (not billions), because
//!   compute is `6·N·D` FLOPs and the paper plots it that way;
//! * dates are `YYYY-MM-DD` strings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything one report shows. Summary numbers (model count, doubling time, R²) are
/// not stored twice: they are read from `models` and `trend`, so they cannot
/// disagree with the figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// The calibration densities are relative to, in words, e.g.
    /// "reference family Qwen2.5 (base, 18T tokens)".
    pub reference: String,
    /// Program and version that produced the numbers, e.g. "densing 0.1.0".
    pub generated_by: String,
    /// Which parameter count `params` means, e.g. "total parameters" or
    /// "non-embedding parameters, active parameters for MoE".
    pub params_basis: String,
    /// One row per model, in any order.
    pub models: Vec<ModelRow>,
    /// The fitted Densing-Law trend on the envelope, if one was fitted.
    #[serde(default)]
    pub trend: Option<Trend>,
    /// Separate trends before and after a split date (the paper's Fig. 4).
    #[serde(default)]
    pub split: Option<SplitTrend>,
    /// The reference ladder and the fitted loss law (Fig. 2a), when a two-step
    /// calibration was used.
    #[serde(default)]
    pub ladder: Option<LadderFigure>,
    /// Score against loss with the fitted sigmoid (Fig. 2b).
    #[serde(default)]
    pub score_map: Option<ScoreMapFigure>,
    /// Residuals of each fit, one plot each.
    #[serde(default)]
    pub residuals: Vec<ResidualSet>,
    /// Doubling time under alternative choices (reference, benchmarks, D0).
    #[serde(default)]
    pub sweep: Option<Vec<SweepRow>>,
    /// Rolling-origin backtest, one forecast per estimator and cutoff.
    #[serde(default)]
    pub backtest: Vec<BacktestPoint>,
    /// How the numbers were made, one plain-language paragraph per entry.
    #[serde(default)]
    pub methods: Vec<String>,
    /// What the numbers do not say, one plain-language paragraph per entry.
    #[serde(default)]
    pub caveats: Vec<String>,
    /// The capability scale's figures (density vs date under every ruler, the
    /// benchmark map), inlined after the density figure when the run fitted it.
    #[serde(default)]
    pub capability: Option<crate::capability::CapabilityFigures>,
}

/// One model's measured density and where its numbers came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub name: String,
    pub family: String,
    /// Release date, `YYYY-MM-DD`.
    pub release_date: String,
    /// Parameter count in billions, on the basis named by `ReportInput::params_basis`.
    pub params: f64,
    /// Effective parameter size N̂ in billions; `None` when censored or not computable.
    #[serde(default)]
    pub n_hat: Option<f64>,
    /// N̂ in billions, 95% interval.
    #[serde(default)]
    pub n_hat_ci95: Option<[f64; 2]>,
    /// Density ρ = N̂ / N; `None` when censored or not computable.
    #[serde(default)]
    pub rho: Option<f64>,
    /// ρ, 95% interval.
    #[serde(default)]
    pub rho_ci95: Option<[f64; 2]>,
    /// Set when the score lies outside the calibration's invertible range, so only a
    /// bound on ρ is known.
    #[serde(default)]
    pub censor: Option<Censor>,
    /// The model's density is the highest so far at its release date.
    #[serde(default)]
    pub on_envelope: bool,
    /// The model is one of the points the trend was fitted on.
    #[serde(default)]
    pub in_trend: bool,
    /// Short notes such as "missing MATH" or "chat release".
    #[serde(default)]
    pub flags: Vec<String>,
    /// Name of the model this one was pruned or distilled from (Fig. 5).
    #[serde(default)]
    pub parent: Option<String>,
    /// Where the model's numbers come from: a URL or a citation.
    #[serde(default)]
    pub source: String,
    /// Benchmark name → score in percent (0–100), as measured or reported.
    #[serde(default)]
    pub scores: BTreeMap<String, f64>,
}

/// A one-sided bound on ρ for a model whose score cannot be inverted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Censor {
    pub kind: CensorKind,
    /// The bound on ρ (a plain ratio, like `ModelRow::rho`).
    pub bound: f64,
}

/// Which side of the bound the true density lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CensorKind {
    /// ρ > bound (score above the calibration's top).
    Lower,
    /// ρ < bound (score at or below the calibration's floor).
    Upper,
}

/// The fitted law `ln ρ_max = A·t + B`, t in days since `origin_date`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Slope A, per day.
    pub a: f64,
    /// Intercept B (ln ρ at t = 0).
    pub b: f64,
    /// Coefficient of determination of a least-squares fit on ln ρ (none for
    /// quantile regression).
    #[serde(default)]
    pub r2: Option<f64>,
    /// Which estimator fitted the line, e.g. "censored-quantile τ=0.9".
    #[serde(default)]
    pub estimator: String,
    /// One-sided permutation p-value of the slope under "no trend".
    #[serde(default)]
    pub p_value: Option<f64>,
    /// Models in the fit known only as a bound on ρ.
    #[serde(default)]
    pub n_censored: usize,
    /// ln 2 / A.
    pub doubling_days: f64,
    /// The doubling time's 95% interval; the upper end `null` when unbounded.
    #[serde(default)]
    pub doubling_ci95: Option<[Option<f64>; 2]>,
    /// t = 0, `YYYY-MM-DD` (the paper: 2023-02-24, Llama-1).
    pub origin_date: String,
    /// 95% band of the fitted line, sampled over time, in ln ρ.
    #[serde(default)]
    pub band: Vec<BandPoint>,
    /// Number of models the line was fitted on.
    pub n_points: usize,
}

/// One sample of the trend's 95% band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BandPoint {
    /// Days since the trend's `origin_date`.
    pub t_days: f64,
    /// Lower edge, ln ρ.
    pub lo: f64,
    /// Upper edge, ln ρ.
    pub hi: f64,
}

/// Trends fitted separately before and after `date` (the paper's Fig. 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitTrend {
    /// The split date, `YYYY-MM-DD`.
    pub date: String,
    pub before: Trend,
    pub after: Trend,
}

/// The reference ladder's runs and the fitted loss law, sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderFigure {
    pub points: Vec<LadderPoint>,
    /// The fitted law along each N, sampled by the caller.
    #[serde(default)]
    pub curves: Vec<LadderCurve>,
}

/// One ladder run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LadderPoint {
    /// Parameters N (a raw count).
    pub params: f64,
    /// Training tokens D (a raw count).
    pub tokens: f64,
    /// Conditional loss, nats per token.
    pub loss: f64,
}

/// The fitted loss law at one N, as `(compute 6·N·D in FLOPs, loss)` samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderCurve {
    /// Parameters N (a raw count).
    pub params: f64,
    pub points: Vec<[f64; 2]>,
}

/// Score against loss and the fitted sigmoid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreMapFigure {
    /// What the score measures, e.g. "mean of 5 benchmarks".
    #[serde(default)]
    pub benchmark: String,
    pub points: Vec<ScorePoint>,
    /// The fitted sigmoid as `(loss, score)` samples, score in [0, 1].
    #[serde(default)]
    pub curve: Vec<[f64; 2]>,
}

/// One anchor model on the score map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorePoint {
    /// Conditional loss, nats per token.
    pub loss: f64,
    /// Score in [0, 1].
    pub score: f64,
    pub name: String,
    /// Held out of the fit, shown to check extrapolation.
    #[serde(default)]
    pub heldout: bool,
}

/// Residuals of one fit against one variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualSet {
    /// Which fit, e.g. "loss law (ln L)" or "trend (ln ρ)".
    pub fit_name: String,
    /// What x is, e.g. "compute 6ND (FLOPs)" or "release date (days since origin)".
    #[serde(default)]
    pub x_label: String,
    /// `(x, residual)` pairs; say in `fit_name` which sign convention is used
    /// (observed − fitted or the reverse), the axis is just "residual".
    pub points: Vec<[f64; 2]>,
}

/// One forecast of the rolling-origin backtest: the trend fitted on the models
/// released before `cutoff`, asked for the best density `horizon_days` later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestPoint {
    /// The estimator that fitted the trend (one series per estimator).
    pub estimator: String,
    /// `YYYY-MM-DD`.
    pub cutoff: String,
    pub horizon_days: i64,
    /// |ln(forecast / reached)| of the trend's forecast.
    pub law_log_error: f64,
    /// |ln(forecast / reached)| of "no further growth" (the best density at the cutoff).
    pub baseline_log_error: f64,
}

/// The doubling time under one alternative choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// What was changed, e.g. "MMLU only" or "D0 = 1e13".
    pub label: String,
    pub doubling_days: f64,
    #[serde(default)]
    pub ci95: Option<[f64; 2]>,
    /// Models in the trend fit under this choice.
    pub n: usize,
}
