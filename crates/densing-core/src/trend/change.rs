//! "Did the law change after date X?" as one model and one test.
//!
//! The model is the full interaction: `ln ρ = a₁·t + b₁` before X and
//! `ln ρ = a₂·t + b₂` from X on. Every parameter belongs to one side, so the
//! quantile (or Powell) loss separates and the interaction model's fit *is*
//! the two sides' fits — the per-side lines `densing run --split-at` prints are
//! kept for that reason. What two separate fits cannot give is the test: the
//! slope change `Δ = a₂ − a₁` needs its own sampling distribution, with the
//! families that straddle X resampled together on both sides. So one bootstrap
//! replicate resamples families (and takes calibration draw r) over the whole
//! registry, splits at X and refits both sides; `Δ*` over replicates gives a
//! percentile interval (as the trend's, see [`super::inference`]) and the
//! two-sided p-value of "no change",
//! `min(1, 2·min(1 + #{Δ* ≤ 0} + f, 1 + #{Δ* ≥ 0} + f) / (1 + B))`, where a
//! replicate in which either side fails to fit (`f` of them) counts on both
//! sides — a failed refit never makes the change look surer.
//!
//! Any estimator works through the same [`TrendPoint`]s, so other capability
//! scales get the same test.

use super::estimator::{Estimator, EstimatorKind, Obs};
use super::permutation::families;
use super::point::resample_families;
use super::TrendPoint;
use crate::bootstrap::replicate_rng;
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::Serialize;

/// The slope change at a date with its interval and test.
#[derive(Debug, Clone, Serialize)]
pub struct SlopeChange {
    pub estimator: EstimatorKind,
    /// The break, days since the origin.
    pub t_break: f64,
    /// Slopes before and after the break, per day.
    pub a_before: f64,
    pub a_after: f64,
    /// `a_after − a_before`.
    pub delta: f64,
    /// 95% percentile interval of the change.
    pub delta_ci95: Option<[f64; 2]>,
    /// Two-sided bootstrap p-value of "no change of slope".
    pub p_value: Option<f64>,
    /// Monte Carlo standard error of `p_value`.
    pub p_mc_se: Option<f64>,
    pub replicates_used: usize,
    /// Replicates in which a side could not be fitted (counted against the change).
    pub replicates_failed: usize,
    pub n_before: usize,
    pub n_after: usize,
}

/// Slopes of the two sides of `t_break` fitted to `obs`.
fn sides(obs: &[Obs], t_break: f64, est: &dyn Estimator) -> Option<(f64, f64)> {
    let (before, after): (Vec<Obs>, Vec<Obs>) = obs.iter().partition(|o| o.t < t_break);
    Some((est.fit(&before)?.a, est.fit(&after)?.a))
}

/// The slope change at `t_break` (days since the origin) under `est`, with
/// `replicates` bootstrap replicates; `tick` once per replicate.
pub fn slope_change(
    points: &[TrendPoint],
    t_break: f64,
    est: EstimatorKind,
    replicates: usize,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Result<SlopeChange> {
    let obs: Vec<Obs> = points.iter().map(TrendPoint::obs).collect();
    let (a_before, a_after) = sides(&obs, t_break, &est).ok_or_else(|| {
        Error::Fit(format!(
            "the {} estimator cannot fit both sides of the break (too few models or dates on one side)",
            est.label()
        ))
    })?;
    let delta = a_after - a_before;
    let (_, members) = families(points);
    let draws: Vec<Option<f64>> = (0..replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = replicate_rng(seed ^ 0x627265616b, r);
            let obs = resample_families(points, &members, r, &mut rng);
            let d = sides(&obs, t_break, &est).map(|(b, a)| a - b);
            tick();
            d.filter(|d| d.is_finite())
        })
        .collect();
    let ok: Vec<f64> = draws.iter().flatten().copied().collect();
    let failed = replicates - ok.len();
    let (delta_ci95, p_value, p_mc_se) = if ok.len() >= 20 {
        let ci = crate::bootstrap::percentile_interval(&ok, 0.95);
        let low = 1 + ok.iter().filter(|&&d| d <= 0.0).count() + failed;
        let high = 1 + ok.iter().filter(|&&d| d >= 0.0).count() + failed;
        let p = (2.0 * low.min(high) as f64 / (1 + replicates) as f64).min(1.0);
        let se = (p * (1.0 - p) / replicates as f64).sqrt();
        (Some(ci), Some(p), Some(se))
    } else {
        (None, None, None)
    };
    Ok(SlopeChange {
        estimator: est,
        t_break,
        a_before,
        a_after,
        delta,
        delta_ci95,
        p_value,
        p_mc_se,
        replicates_used: ok.len(),
        replicates_failed: failed,
        n_before: obs.iter().filter(|o| o.t < t_break).count(),
        n_after: obs.iter().filter(|o| o.t >= t_break).count(),
    })
}
