//! Inference shared by every estimator: a bootstrap interval for the slope and
//! a permutation test of "no trend".
//!
//! *Bootstrap.* Replicate `r` pairs calibration draw `r` (carried in every
//! model's ln ρ) with a resample of model *families* drawn with replacement:
//! members of a family share a recipe, a release date and most of their
//! density error, so they are resampled together. The 95% interval is the
//! percentile interval of the refitted slopes; its coverage is measured in
//! [`super::simulate`].
//!
//! *Permutation test.* Under "no trend", release dates carry no information
//! about density, so refitting on registries whose dates are shuffled gives the
//! slope's null distribution *for the same estimator* — which matters for the
//! envelope, whose slope is positive for any data. Dates are shuffled among
//! *families*: each family's first release date goes to another family, its
//! members keeping their offsets from it. Shuffling single models instead
//! would break up families that share a date and a density level (their
//! spread is twice the within-family spread on the bundled registry), make
//! the null too narrow, and call a trend in ~15% of trend-free simulated
//! registries (see [`super::simulate`]). A family of one is a model, so on a
//! registry without families both are the same. The one-sided p-value is
//! `(1 + #{permuted slope ≥ observed}) / (1 + permutations)`.

use super::estimator::{envelope, envelope_fit, Estimator, EstimatorKind, Line, Obs};
use crate::bootstrap::{percentile_interval, replicate_rng};
use crate::density::Bounded;
use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::f64::consts::LN_2;

/// A model on the trend's axes: its ln ρ (a number or a bound) and its ln ρ
/// under every calibration draw, indexed by draw (empty: no calibration
/// uncertainty, the point value is used in every replicate).
#[derive(Debug, Clone)]
pub struct TrendPoint {
    pub name: String,
    pub family: String,
    pub t: f64,
    pub ln_rho: Bounded,
    pub ln_rho_replicates: Vec<Bounded>,
}

impl TrendPoint {
    fn obs(&self) -> Obs {
        Obs {
            t: self.t,
            y: self.ln_rho,
        }
    }

    /// ln ρ under calibration draw `r`.
    fn replicate(&self, r: usize) -> Bounded {
        if self.ln_rho_replicates.is_empty() {
            self.ln_rho
        } else {
            self.ln_rho_replicates[r % self.ln_rho_replicates.len()]
        }
    }
}

/// Which estimator, and how much inference.
#[derive(Debug, Clone, Copy)]
pub struct TrendConfig {
    pub estimator: EstimatorKind,
    /// Bootstrap replicates (0: no interval).
    pub replicates: usize,
    /// Permutations of the release dates (0: no test).
    pub permutations: usize,
    pub seed: u64,
}

/// Permutations `densing run` draws by default.
pub const DEFAULT_PERMUTATIONS: usize = 999;

/// Significance level at which the CLI and the report call a trend distinguishable from none.
pub const ALPHA: f64 = 0.05;

/// A 95% band point of the fitted line, in ln ρ.
#[derive(Debug, Clone, Serialize)]
pub struct BandPoint {
    pub t_days: f64,
    pub lo: f64,
    pub hi: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendFit {
    pub estimator: EstimatorKind,
    /// Slope of ln ρ per day.
    #[serde(rename = "A")]
    pub a: f64,
    #[serde(rename = "B")]
    pub b: f64,
    /// R² of the envelope's least-squares line (envelope estimator only).
    pub r2: Option<f64>,
    pub doubling_days: f64,
    pub a_ci95: Option<[f64; 2]>,
    /// 95% CI of the doubling time; the upper end is `None` (unbounded) when
    /// the slope's CI reaches zero.
    pub doubling_ci95: Option<[Option<f64>; 2]>,
    /// One-sided permutation p-value for a slope at least this large under "no trend".
    pub p_value: Option<f64>,
    /// Permutations whose refit succeeded (the p-value's denominator less one).
    pub permutations: usize,
    pub n_points: usize,
    /// Models known only as a bound (`ρ > x` or `ρ < x`).
    pub n_censored: usize,
    /// The same estimator's slope with the censored models left out.
    pub a_without_censored: Option<f64>,
    /// (model, calibration draw) pairs whose ln ρ was undetermined, left out of that replicate.
    pub undetermined_draws: usize,
    pub envelope: Vec<String>,
    pub band: Vec<BandPoint>,
    pub replicates_used: usize,
}

impl TrendFit {
    /// Whether the permutation test rejects "no trend" at [`ALPHA`].
    pub fn distinguishable(&self) -> Option<bool> {
        self.p_value.map(|p| p < ALPHA)
    }
}

/// Fit the trend with its bootstrap interval and permutation test; `tick` is
/// called once per finished replicate or permutation (progress).
pub fn fit_trend(
    points: &[TrendPoint],
    cfg: &TrendConfig,
    tick: &(dyn Fn() + Sync),
) -> Result<TrendFit> {
    let obs: Vec<Obs> = points.iter().map(TrendPoint::obs).collect();
    let est = cfg.estimator;
    let line = est.fit(&obs).ok_or_else(|| {
        Error::Fit(format!(
            "the {} estimator cannot fit a line to {} model(s) (too few release dates, or too many censored)",
            est.label(),
            points.len()
        ))
    })?;
    let env = envelope(&obs);
    let r2 = match est {
        EstimatorKind::Envelope => envelope_fit(&obs).map(|(_, r2, _)| r2),
        _ => None,
    };
    let n_censored = obs.iter().filter(|o| o.y.value().is_none()).count();
    let a_without_censored = if n_censored > 0 && est.uses_censored() {
        let exact: Vec<Obs> = obs
            .iter()
            .copied()
            .filter(|o| o.y.value().is_some())
            .collect();
        est.fit(&exact).map(|l| l.a)
    } else {
        None
    };
    let lines = bootstrap_lines(points, &est, cfg.replicates, cfg.seed, tick);
    let (a_ci95, doubling_ci95, band) = if lines.len() >= 20 {
        let ci = percentile_interval(&lines.iter().map(|l| l.a).collect::<Vec<_>>(), 0.95);
        let (t0, t1) = obs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), o| {
                (lo.min(o.t), hi.max(o.t))
            });
        let band = crate::fit::linspace(t0, t1, 60)
            .into_iter()
            .map(|tt| {
                let vals: Vec<f64> = lines.iter().map(|l| l.at(tt)).collect();
                let [lo, hi] = percentile_interval(&vals, 0.95);
                BandPoint { t_days: tt, lo, hi }
            })
            .collect();
        (Some(ci), Some(doubling_interval(ci)), band)
    } else {
        (None, None, Vec::new())
    };
    let null = permuted_slopes(points, &est, cfg.permutations, cfg.seed, tick);
    let undetermined_draws = if cfg.replicates > 0 {
        points
            .iter()
            .map(|p| {
                (0..cfg.replicates)
                    .filter(|&r| p.replicate(r) == Bounded::Undetermined)
                    .count()
            })
            .sum()
    } else {
        0
    };
    Ok(TrendFit {
        estimator: est,
        a: line.a,
        b: line.b,
        r2,
        doubling_days: LN_2 / line.a,
        a_ci95,
        doubling_ci95,
        p_value: p_value(line.a, &null),
        permutations: null.len(),
        n_points: points.len(),
        n_censored,
        a_without_censored,
        undetermined_draws,
        envelope: env.iter().map(|&i| points[i].name.clone()).collect(),
        band,
        replicates_used: lines.len(),
    })
}

/// Doubling-time interval from a slope interval (`None`: unbounded above).
pub fn doubling_interval(a_ci: [f64; 2]) -> [Option<f64>; 2] {
    [
        (a_ci[1] > 0.0).then(|| LN_2 / a_ci[1]),
        (a_ci[0] > 0.0).then(|| LN_2 / a_ci[0]),
    ]
}

/// One-sided permutation p-value of slope `a` against the permuted slopes.
pub fn p_value(a: f64, null: &[f64]) -> Option<f64> {
    (!null.is_empty()).then(|| {
        let at_least = null.iter().filter(|&&x| x >= a).count();
        (1 + at_least) as f64 / (1 + null.len()) as f64
    })
}

/// Each point's family as an index, and the members of every family.
fn families(points: &[TrendPoint]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut names: Vec<&str> = points.iter().map(|p| p.family.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let group: Vec<usize> = points
        .iter()
        .map(|p| names.binary_search(&p.family.as_str()).expect("listed"))
        .collect();
    let mut members = vec![Vec::new(); names.len()];
    for (i, &g) in group.iter().enumerate() {
        members[g].push(i);
    }
    (group, members)
}

/// Bootstrap lines: replicate `r` uses calibration draw `r` and a resample of
/// families (undetermined draws are left out of their replicate).
pub fn bootstrap_lines(
    points: &[TrendPoint],
    est: &dyn Estimator,
    replicates: usize,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Vec<Line> {
    let (_, members) = families(points);
    (0..replicates)
        .into_par_iter()
        .filter_map(|r| {
            let mut rng = replicate_rng(seed ^ 0x7472656e64, r);
            let obs: Vec<Obs> = (0..members.len())
                .flat_map(|_| &members[rng.random_range(0..members.len())])
                .map(|&i| Obs {
                    t: points[i].t,
                    y: points[i].replicate(r),
                })
                .filter(|o| o.y != Bounded::Undetermined)
                .collect();
            let line = est.fit(&obs);
            tick();
            line
        })
        .collect()
}

/// Slopes refitted with the families' release dates shuffled among the
/// families (permutations whose fit fails are left out).
pub fn permuted_slopes(
    points: &[TrendPoint],
    est: &dyn Estimator,
    permutations: usize,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Vec<f64> {
    let (group, members) = families(points);
    let first: Vec<f64> = members
        .iter()
        .map(|m| m.iter().map(|&i| points[i].t).fold(f64::INFINITY, f64::min))
        .collect();
    (0..permutations)
        .into_par_iter()
        .filter_map(|k| {
            let mut rng = replicate_rng(seed ^ 0x7065726d, k);
            let mut to = first.clone();
            to.shuffle(&mut rng);
            let shuffled: Vec<Obs> = points
                .iter()
                .zip(&group)
                .map(|(p, &g)| Obs {
                    t: to[g] + (p.t - first[g]),
                    y: p.ln_rho,
                })
                .collect();
            let a = est.fit(&shuffled).map(|l| l.a);
            tick();
            a
        })
        .collect()
}
