//! Synthetic registries from a known law, to measure what the estimators and
//! their inference actually deliver: bias, RMSE, the coverage of the 95%
//! interval for A, and the rate at which the permutation test calls a trend.
//!
//! A registry keeps the real one's release dates, families and parameter
//! counts, and draws `ln ρ_i = A·t_i + B + u_f + e_i` with a family effect
//! `u_f ~ N(0, σ_family²)` shared by a family's members and a model effect
//! `e_i ~ N(0, σ_model²)`, both estimated from the real densities. A density
//! far enough beyond the reference's range is censored as a real one is, to
//! `ρ > N_max/N` above the largest reference size and `ρ < N_min/N` below the
//! smallest. How far is "far enough" is set so that synthetic registries have
//! as many censored models as the real one: a real model is censored only when
//! a score passes the reference curve's asymptote, well beyond N_max (N̂ up to
//! a few times N_max is still a number, flagged as extrapolated). Noise is
//! homoscedastic, so every quantile line has the true slope A.

use super::estimator::{Estimator, EstimatorKind};
use super::inference::{bootstrap_lines, p_value, permuted_slopes, TrendPoint, ALPHA};
use crate::bootstrap::{percentile_interval, replicate_rng};
use crate::density::Bounded;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::Serialize;

/// One model slot of a synthetic registry.
#[derive(Debug, Clone, Serialize)]
pub struct SimModel {
    pub name: String,
    pub family: String,
    pub t: f64,
    /// ln ρ above which a density is censored (`ln(N_max_ref/N)`).
    pub ceiling: f64,
    /// ln ρ below which a density is censored (`ln(N_min_ref/N)`).
    pub floor: f64,
}

/// The shape of the real registry that synthetic ones copy.
#[derive(Debug, Clone, Serialize)]
pub struct SimDesign {
    pub models: Vec<SimModel>,
    /// Mean ln ρ of the real models (the synthetic cloud is centred on it).
    pub mean_ln_rho: f64,
    pub family_sd: f64,
    pub model_sd: f64,
    /// A synthetic ln ρ is censored when it passes `ceiling + margin` (or
    /// `floor − margin`); chosen to match the real registry's censored count.
    pub censor_margin: f64,
    /// Censored models among the real trend points.
    pub real_censored: usize,
}

impl SimDesign {
    /// Noise levels from the real points: residuals of the least-squares line
    /// through the models with numeric densities, split into the spread of the
    /// family means (σ_family) and the pooled spread within families (σ_model).
    pub fn new(models: Vec<SimModel>, points: &[TrendPoint]) -> Option<SimDesign> {
        let exact: Vec<(&str, f64, f64)> = points
            .iter()
            .filter_map(|p| p.ln_rho.value().map(|y| (p.family.as_str(), p.t, y)))
            .collect();
        let (t, y): (Vec<f64>, Vec<f64>) = exact.iter().map(|e| (e.1, e.2)).unzip();
        let (a, b, _) = super::fit_line(&t, &y)?;
        let mut families: Vec<&str> = exact.iter().map(|e| e.0).collect();
        families.sort_unstable();
        families.dedup();
        let (mut between, mut within, mut within_df) = (Vec::new(), 0.0, 0usize);
        for f in families {
            let r: Vec<f64> = exact
                .iter()
                .filter(|e| e.0 == f)
                .map(|e| e.2 - (a * e.1 + b))
                .collect();
            let m = r.iter().sum::<f64>() / r.len() as f64;
            between.push(m);
            within += r.iter().map(|x| (x - m).powi(2)).sum::<f64>();
            within_df += r.len() - 1;
        }
        let model_sd = (within / within_df.max(1) as f64).sqrt();
        let mb = between.iter().sum::<f64>() / between.len() as f64;
        let var_b = between.iter().map(|x| (x - mb).powi(2)).sum::<f64>()
            / (between.len().max(2) - 1) as f64;
        let mean_size = exact.len() as f64 / between.len() as f64;
        // Family means carry σ_model²/size of model noise on top of σ_family².
        let family_sd = (var_b - model_sd.powi(2) / mean_size).max(0.0).sqrt();
        let mut design = SimDesign {
            models,
            mean_ln_rho: y.iter().sum::<f64>() / y.len() as f64,
            family_sd,
            model_sd,
            censor_margin: 0.0,
            real_censored: points.iter().filter(|p| p.ln_rho.is_censored()).count(),
        };
        design.censor_margin = design.matching_margin(a);
        Some(design)
    }

    /// The margin at which registries drawn under slope `a` have, on average,
    /// the real number of censored models (bisection; the count falls as the
    /// margin grows). Calibration draws use their own seed.
    fn matching_margin(&self, a: f64) -> f64 {
        let target = self.real_censored as f64;
        let mean_censored = |margin: f64| {
            let d = SimDesign {
                censor_margin: margin,
                ..self.clone()
            };
            let draws = 200;
            (0..draws)
                .map(|i| {
                    d.draw(a, 0x6d617267696e, i)
                        .iter()
                        .filter(|p| p.ln_rho.is_censored())
                        .count()
                })
                .sum::<usize>() as f64
                / draws as f64
        };
        let (mut lo, mut hi) = (0.0, 20.0);
        if mean_censored(lo) <= target {
            return lo;
        }
        for _ in 0..30 {
            let mid = 0.5 * (lo + hi);
            if mean_censored(mid) > target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }

    /// Synthetic registry number `i` under true slope `a` (per day).
    pub fn draw(&self, a: f64, seed: u64, i: usize) -> Vec<TrendPoint> {
        let mut rng = replicate_rng(seed ^ 0x73696d, i);
        let mean_t = self.models.iter().map(|m| m.t).sum::<f64>() / self.models.len() as f64;
        let b = self.mean_ln_rho - a * mean_t;
        let family = Normal::new(0.0, self.family_sd).expect("finite sd");
        let model = Normal::new(0.0, self.model_sd).expect("finite sd");
        let mut effects: Vec<(&str, f64)> = Vec::new();
        self.models
            .iter()
            .map(|m| {
                let u = match effects.iter().find(|e| e.0 == m.family) {
                    Some(e) => e.1,
                    None => {
                        let u = family.sample(&mut rng);
                        effects.push((&m.family, u));
                        u
                    }
                };
                let y = a * m.t + b + u + model.sample(&mut rng);
                let ln_rho = if y > m.ceiling + self.censor_margin {
                    Bounded::AtLeast(m.ceiling)
                } else if y < m.floor - self.censor_margin {
                    Bounded::AtMost(m.floor)
                } else {
                    Bounded::Value(y)
                };
                TrendPoint {
                    name: m.name.clone(),
                    family: m.family.clone(),
                    t: m.t,
                    ln_rho,
                    ln_rho_replicates: Vec::new(),
                }
            })
            .collect()
    }
}

/// How much inference each synthetic registry gets.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    /// True slope A, per day.
    pub slope: f64,
    pub registries: usize,
    pub replicates: usize,
    pub permutations: usize,
    pub seed: u64,
}

/// One estimator's record over the synthetic registries.
#[derive(Debug, Clone, Serialize)]
pub struct SimRow {
    pub estimator: EstimatorKind,
    pub true_slope: f64,
    pub registries: usize,
    /// Registries where the estimator produced a line.
    pub fitted: usize,
    pub mean_censored: f64,
    pub bias: f64,
    pub rmse: f64,
    /// Share of registries whose 95% bootstrap interval holds the true A
    /// (a registry without an interval counts as a miss).
    pub coverage: f64,
    /// Share with permutation p < 0.05 (at a true slope of 0: the false-positive rate).
    pub rejection_rate: f64,
    /// Share whose 95% interval lies entirely above 0.
    pub ci_above_zero: f64,
}

/// One estimator on one synthetic registry.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    a: f64,
    ci: Option<[f64; 2]>,
    p: Option<f64>,
}

/// Run every estimator on `cfg.registries` synthetic registries; `tick` once per registry.
pub fn simulate(
    design: &SimDesign,
    estimators: &[EstimatorKind],
    cfg: &SimConfig,
    tick: &(dyn Fn() + Sync),
) -> Vec<SimRow> {
    // Per registry: its censored count and each estimator's outcome (None: no fit).
    let runs: Vec<(usize, Vec<Option<Outcome>>)> = (0..cfg.registries)
        .into_par_iter()
        .map(|i| {
            let points = design.draw(cfg.slope, cfg.seed, i);
            let censored = points.iter().filter(|p| p.ln_rho.value().is_none()).count();
            let obs: Vec<_> = points
                .iter()
                .map(|p| super::Obs {
                    t: p.t,
                    y: p.ln_rho,
                })
                .collect();
            let outcomes = estimators
                .iter()
                .map(|est| {
                    let line = est.fit(&obs)?;
                    let seed = cfg.seed.wrapping_add(i as u64);
                    let lines = bootstrap_lines(&points, est, cfg.replicates, seed, &|| {});
                    let ci = (lines.len() >= 20).then(|| {
                        percentile_interval(&lines.iter().map(|l| l.a).collect::<Vec<_>>(), 0.95)
                    });
                    let null = permuted_slopes(&points, est, cfg.permutations, seed, &|| {});
                    Some(Outcome {
                        a: line.a,
                        ci,
                        p: p_value(line.a, &null),
                    })
                })
                .collect();
            tick();
            (censored, outcomes)
        })
        .collect();
    let n = cfg.registries as f64;
    let mean_censored = runs.iter().map(|r| r.0 as f64).sum::<f64>() / n;
    estimators
        .iter()
        .enumerate()
        .map(|(k, est)| {
            let got: Vec<_> = runs.iter().filter_map(|r| r.1[k]).collect();
            let m = got.len().max(1) as f64;
            let err: Vec<f64> = got.iter().map(|g| g.a - cfg.slope).collect();
            let share =
                |f: &dyn Fn(&Outcome) -> bool| got.iter().filter(|g| f(g)).count() as f64 / n;
            SimRow {
                estimator: *est,
                true_slope: cfg.slope,
                registries: cfg.registries,
                fitted: got.len(),
                mean_censored,
                bias: err.iter().sum::<f64>() / m,
                rmse: (err.iter().map(|e| e * e).sum::<f64>() / m).sqrt(),
                coverage: share(&|g| g.ci.is_some_and(|c| c[0] <= cfg.slope && cfg.slope <= c[1])),
                rejection_rate: share(&|g| g.p.is_some_and(|p| p < ALPHA)),
                ci_above_zero: share(&|g| g.ci.is_some_and(|c| c[0] > 0.0)),
            }
        })
        .collect()
}
