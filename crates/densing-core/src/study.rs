//! One full analysis: densities of every registry model against a calibration,
//! the trend on those that qualify, and the paper's corollaries. The sweep and
//! the backtest rerun it under other choices.

use crate::calibration::Calibration;
use crate::density::{model_density, Bounded, DensityOptions, ModelDensity};
use crate::error::Result;
use crate::registry::Registry;
use crate::trend::simulate::{SimDesign, SimModel};
use crate::trend::{
    days_since_origin, fit_trend, slope_change, EstimatorKind, SlopeChange, TrendConfig, TrendFit,
    TrendPoint,
};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize)]
pub struct ParentPair {
    pub child: String,
    pub parent: String,
    pub child_rho: Bounded,
    pub parent_rho: Bounded,
    /// ρ_child / ρ_parent where both are numbers.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitTrend {
    pub date: NaiveDate,
    /// The interaction model's two sides, each with its own test of "no trend".
    pub before: Option<TrendFit>,
    pub after: Option<TrendFit>,
    /// The one test of "the slope changed at `date`" (see [`crate::trend::change`]).
    pub change: Option<SlopeChange>,
    /// Why a side could not be fitted.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Study {
    pub reference: String,
    pub densities: Vec<ModelDensity>,
    pub trend: TrendFit,
    pub parents: Vec<ParentPair>,
}

/// Trend points of the models that qualify (censored ones as bounds).
pub fn trend_points(
    densities: &[ModelDensity],
    filter: impl Fn(&ModelDensity) -> bool,
) -> Vec<TrendPoint> {
    densities
        .iter()
        .filter(|d| d.in_trend && filter(d))
        .map(|d| TrendPoint {
            name: d.name.clone(),
            family: d.family.clone(),
            t: days_since_origin(d.release),
            ln_rho: d.rho.ln(),
            ln_rho_replicates: d.ln_rho_replicates.clone(),
        })
        .collect()
}

/// The design synthetic registries copy (see [`crate::trend::simulate`]): the
/// trend models' dates, families, parameter counts and calibration draws. On
/// the five-benchmark scale (`cal` given) synthetic scores are re-inverted
/// through the calibration, censored at its range as real ones are; on the
/// capability scale (`None`) N̂ beyond the ruler's sizes is extrapolated,
/// never censored.
pub fn sim_design(densities: &[ModelDensity], cal: Option<&Calibration>) -> Option<SimDesign> {
    let (lo, hi) = cal.map_or((0.0, f64::INFINITY), |c| c.support);
    let models = densities
        .iter()
        .filter(|d| d.in_trend)
        .map(|d| SimModel {
            name: d.name.clone(),
            family: d.family.clone(),
            t: days_since_origin(d.release),
            ceiling: (hi / d.params_b).ln(),
            floor: (lo / d.params_b).ln(),
            offsets: d
                .ln_rho_replicates
                .iter()
                .map(|r| match (r.value(), d.rho.ln().value()) {
                    (Some(r), Some(p)) => r - p,
                    _ => 0.0,
                })
                .collect(),
            params_b: d.params_b,
            residuals: match (cal, d.n_hat.bound_or_value()) {
                (Some(cal), Some(n_hat)) => d
                    .per_benchmark
                    .iter()
                    .filter_map(|e| {
                        let curve = cal.curve(e.benchmark, None)?;
                        Some((e.benchmark, e.score - curve.score(n_hat)))
                    })
                    .collect(),
                _ => Vec::new(),
            },
        })
        .collect();
    let design = SimDesign::new(models, &trend_points(densities, |_| true))?;
    Some(match cal {
        Some(cal) => design.reinverting(cal.clone()),
        None => design,
    })
}

pub fn densities(reg: &Registry, cal: &Calibration, opts: &DensityOptions) -> Vec<ModelDensity> {
    reg.models
        .iter()
        .map(|m| model_density(m, cal, opts))
        .collect()
}

/// Densities, the trend under `cfg`, and the parent/child pairs; `tick` once
/// per bootstrap replicate or permutation.
pub fn study(
    reg: &Registry,
    cal: &Calibration,
    opts: &DensityOptions,
    cfg: &TrendConfig,
    tick: &(dyn Fn() + Sync),
) -> Result<Study> {
    let densities = densities(reg, cal, opts);
    let trend = fit_trend(&trend_points(&densities, |_| true), cfg, tick)?;
    let parents = parent_pairs(&densities);
    Ok(Study {
        reference: cal.description.clone(),
        densities,
        trend,
        parents,
    })
}

/// Each compressed model (one with a `parent`) beside its parent, with the
/// ratio of their densities where both are numbers. Parents are found by name
/// through an index: a linear search per child made a 20,000-model registry
/// cost 4·10⁸ comparisons per call.
pub fn parent_pairs(densities: &[ModelDensity]) -> Vec<ParentPair> {
    let mut by_name: HashMap<&str, &ModelDensity> = HashMap::new();
    for d in densities {
        by_name.entry(d.name.as_str()).or_insert(d);
    }
    densities
        .iter()
        .filter_map(|child| {
            let parent = by_name.get(child.parent.as_deref()?)?;
            Some(ParentPair {
                child: child.name.clone(),
                parent: parent.name.clone(),
                child_rho: child.rho,
                parent_rho: parent.rho,
                ratio: child
                    .rho
                    .value()
                    .zip(parent.rho.value())
                    .map(|(c, p)| c / p),
            })
        })
        .collect()
}

/// The interaction model at `date`: the trend before and after it (each side
/// its own line and envelope) and the bootstrap test of a slope change.
pub fn split_trend(densities: &[ModelDensity], date: NaiveDate, cfg: &TrendConfig) -> SplitTrend {
    let mut notes = Vec::new();
    let mut side = |name: &str, pts: Vec<TrendPoint>| match fit_trend(&pts, cfg, &|| {}) {
        Ok(t) => Some(t),
        Err(e) => {
            notes.push(format!("{name}: {e}"));
            None
        }
    };
    let before = side("before", trend_points(densities, |d| d.release < date));
    let after = side("after", trend_points(densities, |d| d.release >= date));
    let all = trend_points(densities, |_| true);
    let t_break = days_since_origin(date);
    let change = match slope_change(
        &all,
        t_break,
        cfg.estimator,
        cfg.replicates,
        cfg.seed,
        &|| {},
    ) {
        Ok(c) => Some(c),
        Err(e) => {
            notes.push(format!("slope change: {e}"));
            None
        }
    };
    SplitTrend {
        date,
        before,
        after,
        change,
        notes,
    }
}

/// One row of the rolling-origin backtest.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestRow {
    pub estimator: EstimatorKind,
    pub cutoff: NaiveDate,
    pub horizon_days: i64,
    pub n_fit: usize,
    /// Permutation p-value of the trend fitted at the cutoff.
    pub p_value: Option<f64>,
    /// The law's forecast of ρ_max at cutoff + horizon.
    pub predicted_rho_max: f64,
    /// The best density actually reached by then.
    pub observed_rho_max: f64,
    /// Best density known at the cutoff (the no-growth baseline's forecast).
    pub baseline_rho_max: f64,
    /// |ln(predicted/observed)|, and the same for the baseline.
    pub law_log_error: f64,
    pub baseline_log_error: f64,
}

/// Fit the trend (estimator and permutation count from `cfg`; no bootstrap)
/// on models released before each cutoff and compare its forecast of the best
/// density `horizon_days` later with what was reached, next to the naive
/// forecast "no further growth". Cutoffs step by `step_days`. The best density
/// counts a model known as `ρ > x` at its bound. For a quantile estimator the
/// forecast is the τ-quantile line, which sits below the maximum by design.
pub fn backtest(
    densities: &[ModelDensity],
    cfg: &TrendConfig,
    horizon_days: i64,
    step_days: i64,
) -> Vec<BacktestRow> {
    let all = trend_points(densities, |_| true);
    let dates: Vec<NaiveDate> = densities
        .iter()
        .filter(|d| d.in_trend)
        .map(|d| d.release)
        .collect();
    let (Some(first), Some(last)) = (dates.iter().min(), dates.iter().max()) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    let mut cutoff = *first + chrono::Duration::days(365);
    while cutoff + chrono::Duration::days(horizon_days) <= *last {
        let t_cut = days_since_origin(cutoff);
        let t_end = t_cut + horizon_days as f64;
        let before: Vec<TrendPoint> = all.iter().filter(|p| p.t < t_cut).cloned().collect();
        let cut_cfg = TrendConfig {
            replicates: 0,
            ..*cfg
        };
        if let Ok(fit) = fit_trend(&before, &cut_cfg, &|| {}) {
            let best = |t_max: f64| {
                all.iter()
                    .filter(|p| p.t <= t_max)
                    .filter_map(|p| match p.ln_rho {
                        Bounded::Value(v) | Bounded::AtLeast(v) => Some(v),
                        _ => None,
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            let (observed, baseline) = (best(t_end), best(t_cut - 1.0));
            let predicted = fit.a * t_end + fit.b;
            rows.push(BacktestRow {
                estimator: cfg.estimator,
                cutoff,
                horizon_days,
                n_fit: before.len(),
                p_value: fit.p_value,
                predicted_rho_max: predicted.exp(),
                observed_rho_max: observed.exp(),
                baseline_rho_max: baseline.exp(),
                law_log_error: (predicted - observed).abs(),
                baseline_log_error: (baseline - observed).abs(),
            });
        }
        cutoff += chrono::Duration::days(step_days);
    }
    rows
}
