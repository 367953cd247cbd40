//! Synthetic registries from a known law, to measure what the estimators and
//! their inference actually deliver on the real design: bias, RMSE, the
//! coverage of the 95% interval for A (the reported one, the inverted
//! permutation test; the bootstrap's percentile and BCa intervals beside it), the
//! rate at which the permutation test calls a trend (its size at A = 0, its
//! power at slopes fixed in advance), and the size of the slope-change test
//! at a break where the law does not change.
//!
//! A registry keeps the real one's trend models — their release dates,
//! families, parameter counts, and so the benchmark availability that let them
//! into the trend — and draws `ln ρ_i = A·t_i + B + s(t_i)·(u_f + e_i)` with a
//! family effect `u_f ~ N(0, σ_family²)` shared by a family's members and a
//! model effect `e_i ~ N(0, σ_model²)`, both estimated from the real densities,
//! scaled by `s(t)`, the real residuals' spread as a linear function of the
//! release date (the noise is heteroscedastic: it grows over the period). Each
//! synthetic model carries the real model's calibration draws as offsets from
//! its point value, read by [`PointReading`]: by default the point is one draw
//! among exchangeable ones — the offsets are centred on their mean over the
//! draws, the true ln ρ is the draws' average reading, and every reading (the
//! observed one and each replicate) is the truth plus one draw's centred
//! offset. One draw r*, common to all models (it is one set of curves, one
//! ruler), gives the observed ln ρ, and every draw gives a replicate, so the
//! bootstrap sees the same calibration uncertainty as the real one. The other
//! reading, [`PointReading::Centre`], puts the truth at the point's centre:
//! the observed value is the truth plus a raw offset and the replicates lean
//! off it as the real draws lean off the real point.
//!
//! Censoring. On the five-benchmark scale ([`SimDesign::calibration`] set) a
//! synthetic density is censored by the same inversion as a real one: the
//! synthetic model's N̂ = ρ·N gives each of its benchmarks the score the
//! reference curve of calibration draw r* (the truth) predicts, plus the real
//! model's residual on that benchmark (its score minus the point curve's at
//! its real N̂: the disagreement between benchmarks that real models show);
//! those scores are inverted through the point curves (the observed ln ρ) and
//! through every draw's curves (the replicates) by
//! [`crate::density::combined_n_hat`], so a score past a curve's asymptote
//! gives a bound exactly where a real one would. On the capability scale
//! (no calibration) N̂ beyond the ruler's sizes is an extrapolation, never a
//! bound, as on the real data. The margin rule — censor a density beyond
//! the reference's range by `censor_margin`, chosen so that registries have
//! as many censored models as the real one — remains as a stress test
//! (`densing simulate --censor-margin`).
//! Because the noise scales with t, each quantile of ln ρ has its own slope:
//! `A + z_τ·σ_total·s′`. The slope a simulation is asked for is the frontier's,
//! the τ-quantile line's at [`SimConfig::tau`] (the law the estimators claim
//! to measure), so "slope 0" is a flat frontier; the median slope A is set to
//! match. Each estimator is judged against the population slope of its own
//! line (the envelope, which has none, against the frontier's).

use super::change::slope_change;
use super::estimator::EstimatorKind;
use super::inference::{fit_trend, TrendConfig, TrendPoint, ALPHA};
use super::interval::normal_quantile;
use crate::bootstrap::replicate_rng;
use crate::calibration::Calibration;
use crate::density::combined_n_hat;
use crate::density::Bounded;
use crate::registry::Benchmark;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;

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
    /// The real model's calibration draws as offsets from its point ln ρ (0
    /// where a draw or the point is not a number; empty: no draws).
    pub offsets: Vec<f64>,
    /// Parameters (billions) on the density's basis.
    pub params_b: f64,
    /// The real model's benchmarks with its score's residual from the point
    /// curve at its real N̂ (used when the design re-inverts scores).
    pub residuals: Vec<(Benchmark, f64)>,
}

/// How a synthetic registry reads its calibration draws (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointReading {
    /// The point is one draw among exchangeable ones (on the capability scale:
    /// one reference family's ruler among the pooled): observed = truth +
    /// c(r*), replicate r = truth + c(r), c the offsets centred over the draws.
    #[default]
    OneDraw,
    /// The truth sits at the point's centre: observed = truth + o(r*),
    /// replicate r = observed + o(r), o the raw offsets.
    Centre,
}

/// The shape of the real registry that synthetic ones copy.
#[derive(Debug, Clone, Serialize)]
pub struct SimDesign {
    pub models: Vec<SimModel>,
    /// Mean ln ρ of the real models (the synthetic cloud is centred on it).
    pub mean_ln_rho: f64,
    /// Spread of the family effect and of the model effect at the mean date.
    pub family_sd: f64,
    pub model_sd: f64,
    /// Change of the noise scale per day: `s(t) = 1 + noise_trend·(t − t̄)`
    /// (floored at 0.1), from the real residuals' absolute size against t.
    pub noise_trend: f64,
    /// Mean release time of the trend models, days.
    pub mean_t: f64,
    /// A synthetic ln ρ is censored when it passes `ceiling + margin` (or
    /// `floor − margin`); chosen to match the real registry's censored count.
    pub censor_margin: f64,
    /// Censored models among the real trend points.
    pub real_censored: usize,
    /// How the draws are read (the censoring margin is matched under the default).
    pub point_reading: PointReading,
    /// The five-benchmark calibration through which synthetic scores are
    /// re-inverted (see the module doc); `None`: no re-inversion (capability
    /// scale, or the margin rule).
    #[serde(skip)]
    pub calibration: Option<Arc<Calibration>>,
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
        // E|r| = σ·√(2/π) for normal residuals: regress |r|·√(π/2) on t, and
        // express the slope relative to the fitted spread at the mean date.
        let abs_r: Vec<f64> = t
            .iter()
            .zip(&y)
            .map(|(t, y)| (y - (a * t + b)).abs() * (std::f64::consts::PI / 2.0).sqrt())
            .collect();
        let (slope_sd, icpt_sd, _) = super::fit_line(&t, &abs_r)?;
        let mean_t = t.iter().sum::<f64>() / t.len() as f64;
        let sd_at_mean = slope_sd * mean_t + icpt_sd;
        let mut design = SimDesign {
            models,
            mean_ln_rho: y.iter().sum::<f64>() / y.len() as f64,
            family_sd,
            model_sd,
            noise_trend: if sd_at_mean > 0.0 {
                slope_sd / sd_at_mean
            } else {
                0.0
            },
            mean_t,
            censor_margin: 0.0,
            real_censored: points.iter().filter(|p| p.ln_rho.is_censored()).count(),
            point_reading: PointReading::default(),
            calibration: None,
        };
        design.censor_margin = design.matching_margin(a);
        Some(design)
    }

    /// Re-invert synthetic scores through `cal` instead of the margin rule.
    pub fn reinverting(self, cal: Calibration) -> SimDesign {
        SimDesign {
            calibration: Some(Arc::new(cal)),
            ..self
        }
    }

    /// Model `m`'s observed ln ρ and its replicates when its true ln ρ is `y`
    /// and calibration draw `truth` is the true curve (the point curve when
    /// the calibration has no draws): its scores re-inverted as a real
    /// model's are.
    fn reinvert(
        &self,
        cal: &Calibration,
        m: &SimModel,
        y: f64,
        truth: usize,
    ) -> (Bounded, Vec<Bounded>) {
        let n = y.exp() * m.params_b;
        let scores: Vec<(Benchmark, f64)> = m
            .residuals
            .iter()
            .filter_map(|&(b, e)| {
                let curve = cal.curve(b, (cal.replicates > 0).then_some(truth))?;
                Some((b, curve.score(n) + e))
            })
            .collect();
        let ln_rho =
            |r: Option<usize>| combined_n_hat(cal, &scores, r).scale(1.0 / m.params_b).ln();
        (
            ln_rho(None),
            (0..cal.replicates).map(|r| ln_rho(Some(r))).collect(),
        )
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

    /// The noise scale `s(t)` at release time `t`.
    pub fn noise_scale(&self, t: f64) -> f64 {
        (1.0 + self.noise_trend * (t - self.mean_t)).max(0.1)
    }

    /// The slope of the population τ-quantile line of registries drawn under
    /// slope `a`: `A + z_τ·σ_total·noise_trend` (σ_total² = σ_family² + σ_model²).
    pub fn quantile_slope(&self, a: f64, tau: f64) -> f64 {
        let sd = (self.family_sd.powi(2) + self.model_sd.powi(2)).sqrt();
        a + normal_quantile(tau) * sd * self.noise_trend
    }

    /// Censor a synthetic ln ρ at model `m`'s range as a real one is.
    fn censor(&self, m: &SimModel, y: f64) -> Bounded {
        if y > m.ceiling + self.censor_margin {
            Bounded::AtLeast(m.ceiling)
        } else if y < m.floor - self.censor_margin {
            Bounded::AtMost(m.floor)
        } else {
            Bounded::Value(y)
        }
    }

    /// Synthetic registry number `i` under true slope `a` (per day).
    pub fn draw(&self, a: f64, seed: u64, i: usize) -> Vec<TrendPoint> {
        let mut rng = replicate_rng(seed ^ 0x73696d, i);
        let b = self.mean_ln_rho - a * self.mean_t;
        let family = Normal::new(0.0, self.family_sd).expect("finite sd");
        let model = Normal::new(0.0, self.model_sd).expect("finite sd");
        let mut effects: Vec<(&str, f64)> = Vec::new();
        // One calibration draw r* plays the real calibration's error, common to
        // every model (it is one set of curves); each replicate is read
        // through its own draw, as `point_reading` says.
        let draws = self
            .models
            .iter()
            .map(|m| m.offsets.len())
            .max()
            .unwrap_or(0);
        let truth = if draws > 0 {
            rng.random_range(0..draws)
        } else {
            0
        };
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
                let y = a * m.t + b + self.noise_scale(m.t) * (u + model.sample(&mut rng));
                let (ln_rho, ln_rho_replicates) = match &self.calibration {
                    Some(cal) if !m.residuals.is_empty() => self.reinvert(cal, m, y, truth),
                    _ => {
                        // The observed density is read through draw r*; `base + o`
                        // is replicate r's reading for raw offset o.
                        let o_star = m.offsets.get(truth).copied().unwrap_or(0.0);
                        let (observed, base) = match self.point_reading {
                            PointReading::OneDraw => {
                                let mean =
                                    m.offsets.iter().sum::<f64>() / m.offsets.len().max(1) as f64;
                                ((y - mean) + o_star, y - mean)
                            }
                            PointReading::Centre => (y + o_star, y + o_star),
                        };
                        let reps = m.offsets.iter().map(|o| self.censor(m, base + o)).collect();
                        (self.censor(m, observed), reps)
                    }
                };
                TrendPoint {
                    name: m.name.clone(),
                    family: m.family.clone(),
                    t: m.t,
                    ln_rho,
                    ln_rho_replicates,
                }
            })
            .collect()
    }
}

/// How much inference each synthetic registry gets.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    /// True slope of the τ-quantile frontier, per day.
    pub slope: f64,
    /// The quantile whose line has slope `slope`.
    pub tau: f64,
    pub registries: usize,
    pub replicates: usize,
    pub permutations: usize,
    pub seed: u64,
    /// Also test a change of slope at this date (days since the origin): the
    /// law has none, so the rejection rate is the slope-change test's size.
    pub t_break: Option<f64>,
}

/// One estimator's record over the synthetic registries.
#[derive(Debug, Clone, Serialize)]
pub struct SimRow {
    pub estimator: EstimatorKind,
    pub true_slope: f64,
    /// The slope this estimator's line has in the population (see the module doc).
    pub target_slope: f64,
    pub registries: usize,
    /// Registries where the estimator produced a line.
    pub fitted: usize,
    pub mean_censored: f64,
    pub bias: f64,
    pub rmse: f64,
    /// Share of registries whose reported 95% interval (the inverted
    /// permutation test; an unbounded end holds everything beyond it) holds
    /// the target slope (a registry without an interval counts as a miss).
    pub coverage: f64,
    /// The same for the bootstrap's percentile and BCa intervals.
    pub coverage_percentile: f64,
    pub coverage_bca: f64,
    /// Mean width of the reported intervals with both ends bounded (0 when
    /// none is), and the share with an unbounded end (/day).
    pub mean_width: f64,
    pub unbounded: f64,
    /// Mean width of the percentile interval (/day).
    pub mean_width_percentile: f64,
    /// Share whose point estimate lies inside its percentile interval (the
    /// reported one holds it by construction).
    pub estimate_inside_percentile: f64,
    /// Mean failed permutation refits and bootstrap replicates per registry.
    pub mean_failed_permutations: f64,
    pub mean_failed_replicates: f64,
    /// Share with permutation p < 0.05 (at a true slope of 0: the false-positive rate).
    pub rejection_rate: f64,
    /// Share whose 95% interval lies entirely above 0.
    pub ci_above_zero: f64,
    /// Share whose slope-change test at [`SimConfig::t_break`] has p < 0.05
    /// (the law has no change: the test's size); `None` without a break.
    pub change_rejection_rate: Option<f64>,
    /// Registries where the slope-change test ran (both sides fitted).
    pub change_tested: usize,
}

/// One estimator on one synthetic registry.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    a: f64,
    ci: Option<[f64; 2]>,
    ci_percentile: Option<[f64; 2]>,
    ci_bca: Option<[f64; 2]>,
    p: Option<f64>,
    change_p: Option<f64>,
    failed_permutations: usize,
    failed_replicates: usize,
}

/// Run every estimator on `cfg.registries` synthetic registries through
/// [`fit_trend`] — the interval and test `densing run` reports, adaptive
/// permutations included; `tick` once per registry.
pub fn simulate(
    design: &SimDesign,
    estimators: &[EstimatorKind],
    cfg: &SimConfig,
    tick: &(dyn Fn() + Sync),
) -> Vec<SimRow> {
    let median_slope = cfg.slope - design.quantile_slope(0.0, cfg.tau);
    // Per registry: its censored count and each estimator's outcome (None: no fit).
    let runs: Vec<(usize, Vec<Option<Outcome>>)> = (0..cfg.registries)
        .into_par_iter()
        .map(|i| {
            let points = design.draw(median_slope, cfg.seed, i);
            let censored = points.iter().filter(|p| p.ln_rho.value().is_none()).count();
            let outcomes = estimators
                .iter()
                .map(|&estimator| {
                    let trend_cfg = TrendConfig {
                        estimator,
                        replicates: cfg.replicates,
                        permutations: cfg.permutations,
                        seed: cfg.seed.wrapping_add(i as u64),
                    };
                    let fit = fit_trend(&points, &trend_cfg, &|| {}).ok()?;
                    let change_p = cfg.t_break.and_then(|t| {
                        slope_change(
                            &points,
                            t,
                            estimator,
                            cfg.replicates,
                            trend_cfg.seed,
                            &|| {},
                        )
                        .ok()
                        .and_then(|c| c.p_value)
                    });
                    Some(Outcome {
                        a: fit.a,
                        ci: fit.a_ci95,
                        ci_percentile: fit.a_ci95_percentile,
                        ci_bca: fit.a_ci95_bca,
                        p: fit.p_value,
                        change_p,
                        failed_permutations: fit.permutations_failed,
                        failed_replicates: fit.replicates_failed,
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
            let target = match *est {
                EstimatorKind::Envelope => cfg.slope,
                EstimatorKind::Quantile { tau } | EstimatorKind::CensoredQuantile { tau } => {
                    design.quantile_slope(median_slope, tau)
                }
            };
            let got: Vec<_> = runs.iter().filter_map(|r| r.1[k]).collect();
            let m = got.len().max(1) as f64;
            let err: Vec<f64> = got.iter().map(|g| g.a - target).collect();
            let share =
                |f: &dyn Fn(&Outcome) -> bool| got.iter().filter(|g| f(g)).count() as f64 / n;
            let holds = |ci: Option<[f64; 2]>, x: f64| ci.is_some_and(|c| c[0] <= x && x <= c[1]);
            let width = |f: &dyn Fn(&Outcome) -> Option<[f64; 2]>| {
                let w: Vec<f64> = got
                    .iter()
                    .filter_map(f)
                    .map(|c| c[1] - c[0])
                    .filter(|w| w.is_finite())
                    .collect();
                if w.is_empty() {
                    0.0
                } else {
                    w.iter().sum::<f64>() / w.len() as f64
                }
            };
            let change_tested = got.iter().filter(|g| g.change_p.is_some()).count();
            SimRow {
                estimator: *est,
                true_slope: cfg.slope,
                target_slope: target,
                registries: cfg.registries,
                fitted: got.len(),
                mean_censored,
                bias: err.iter().sum::<f64>() / m,
                rmse: (err.iter().map(|e| e * e).sum::<f64>() / m).sqrt(),
                coverage: share(&|g| holds(g.ci, target)),
                coverage_percentile: share(&|g| holds(g.ci_percentile, target)),
                coverage_bca: share(&|g| holds(g.ci_bca, target)),
                mean_width: width(&|g| g.ci),
                unbounded: share(&|g| g.ci.is_some_and(|c| !(c[1] - c[0]).is_finite())),
                mean_width_percentile: width(&|g| g.ci_percentile),
                estimate_inside_percentile: share(&|g| holds(g.ci_percentile, g.a)),
                mean_failed_permutations: got
                    .iter()
                    .map(|g| g.failed_permutations as f64)
                    .sum::<f64>()
                    / m,
                mean_failed_replicates: got.iter().map(|g| g.failed_replicates as f64).sum::<f64>()
                    / m,
                rejection_rate: share(&|g| g.p.is_some_and(|p| p < ALPHA)),
                ci_above_zero: share(&|g| g.ci.is_some_and(|c| c[0] > 0.0)),
                change_rejection_rate: cfg.t_break.map(|_| {
                    got.iter()
                        .filter(|g| g.change_p.is_some_and(|p| p < ALPHA))
                        .count() as f64
                        / change_tested.max(1) as f64
                }),
                change_tested,
            }
        })
        .collect()
}
