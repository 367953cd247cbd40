//! How well the capability scale works, measured on the registry itself.
//!
//! * [`cross_validate`]: k-fold cross-validation over the cells of models with
//!   ≥ 3 scores: each fold's scores are held out, the model refitted from
//!   scratch on the rest, and the held-out scores predicted; beside two
//!   baselines fitted on the same training cells — the benchmark's mean score,
//!   and a per-model z-score (`μ_b + z̄_m·σ_b`, z̄_m the model's mean
//!   standardised score on its training benchmarks).
//! * [`leave_one_benchmark_out`]: for each model with ≥ 3 benchmarks and each
//!   of its benchmarks, refit without that model's scores on it and check
//!   whether its ρ stays inside its original 95% interval.

use super::data::CellData;
use super::fit::{predict, Problem, Ridge};
use super::{CapDensity, RefMembers};
use crate::bootstrap::replicate_rng;
use rand::seq::SliceRandom;
use serde::Serialize;
use std::collections::HashMap;

/// Held-out mean absolute errors, in score points (percent).
#[derive(Debug, Clone, Serialize)]
pub struct CvReport {
    pub folds: usize,
    pub n_cells: usize,
    pub mae_capability: f64,
    pub mae_benchmark_mean: f64,
    pub mae_model_zscore: f64,
}

/// k-fold CV of the fit against the two baselines (see the module doc).
pub fn cross_validate(data: &CellData, ridge: Ridge, folds: usize, seed: u64) -> CvReport {
    let mut per_model = vec![0usize; data.models.len()];
    for c in &data.cells {
        per_model[c.model] += 1;
    }
    let mut eligible: Vec<usize> = (0..data.cells.len())
        .filter(|&k| per_model[data.cells[k].model] >= 3)
        .collect();
    eligible.shuffle(&mut replicate_rng(seed, 0));
    let (mut e_fit, mut e_mean, mut e_z) = (0.0, 0.0, 0.0);
    for f in 0..folds {
        let held: Vec<usize> = eligible.iter().copied().skip(f).step_by(folds).collect();
        let mut w = vec![1.0; data.cells.len()];
        for &k in &held {
            w[k] = 0.0;
        }
        let y: Vec<f64> = data.cells.iter().map(|c| c.y).collect();
        let prob = Problem::with(data, y, w.clone(), ridge);
        let mut p = prob.start();
        prob.solve(&mut p, 1e-10, 20_000);
        let base = Baselines::fit(data, &w);
        for &k in &held {
            let c = &data.cells[k];
            e_fit += (predict(data, &p, c.model, c.item) - c.y).abs();
            e_mean += (base.mean(data, k) - c.y).abs();
            e_z += (base.zscore(data, k) - c.y).abs();
        }
    }
    let n = eligible.len().max(1) as f64;
    CvReport {
        folds,
        n_cells: eligible.len(),
        mae_capability: 100.0 * e_fit / n,
        mae_benchmark_mean: 100.0 * e_mean / n,
        mae_model_zscore: 100.0 * e_z / n,
    }
}

/// Per-benchmark mean and sd, and per-model mean z, on the weighted cells.
struct Baselines {
    mean: HashMap<usize, (f64, f64)>,
    overall: f64,
    z: HashMap<usize, f64>,
}

impl Baselines {
    fn fit(data: &CellData, w: &[f64]) -> Baselines {
        let bench = |k: usize| data.items[data.cells[k].item].bench;
        let mut acc: HashMap<usize, Vec<f64>> = HashMap::new();
        let train: Vec<usize> = (0..data.cells.len()).filter(|&k| w[k] > 0.0).collect();
        for &k in &train {
            acc.entry(bench(k)).or_default().push(data.cells[k].y);
        }
        let mean: HashMap<usize, (f64, f64)> = acc
            .into_iter()
            .map(|(b, v)| {
                let m = v.iter().sum::<f64>() / v.len() as f64;
                let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
                (b, (m, var.sqrt()))
            })
            .collect();
        let overall = train.iter().map(|&k| data.cells[k].y).sum::<f64>() / train.len() as f64;
        let mut zs: HashMap<usize, Vec<f64>> = HashMap::new();
        for &k in &train {
            let (m, s) = mean[&bench(k)];
            if s > 0.0 {
                zs.entry(data.cells[k].model)
                    .or_default()
                    .push((data.cells[k].y - m) / s);
            }
        }
        let z = zs
            .into_iter()
            .map(|(m, v)| (m, v.iter().sum::<f64>() / v.len() as f64))
            .collect();
        Baselines { mean, overall, z }
    }

    fn mean(&self, data: &CellData, k: usize) -> f64 {
        let b = data.items[data.cells[k].item].bench;
        self.mean.get(&b).map_or(self.overall, |m| m.0)
    }

    fn zscore(&self, data: &CellData, k: usize) -> f64 {
        let b = data.items[data.cells[k].item].bench;
        let z = self.z.get(&data.cells[k].model).copied().unwrap_or(0.0);
        self.mean.get(&b).map_or(self.overall, |(m, s)| m + z * s)
    }
}

/// One leave-one-benchmark-out refit.
#[derive(Debug, Clone, Serialize)]
pub struct LoboCase {
    pub model: String,
    pub benchmark: String,
    pub rho: f64,
    pub rho_ci95: [f64; 2],
    pub rho_without: f64,
    pub inside: bool,
}

/// Leave-one-benchmark-out (see the module doc): the point fit is refitted
/// warm without one model's scores on one benchmark, and the model's ρ is
/// read through the reference line refitted on the new θ.
pub fn leave_one_benchmark_out(
    data: &CellData,
    point: &super::Params,
    ridge: Ridge,
    reference: &RefMembers,
    densities: &[CapDensity],
) -> Vec<LoboCase> {
    use rayon::prelude::*;
    let mut tasks = Vec::new();
    for d in densities.iter().filter(|d| d.n_benchmarks >= 3) {
        let Some(ci) = d.rho_ci95 else { continue };
        let Some(m) = data.model_index(&d.model) else {
            continue;
        };
        for b in &d.benchmarks {
            tasks.push((d, m, b.clone(), ci));
        }
    }
    tasks
        .into_par_iter()
        .filter_map(|(d, m, b, ci)| {
            let w: Vec<f64> = data
                .cells
                .iter()
                .map(|c| {
                    if c.model == m && data.items[c.item].benchmark == b {
                        0.0
                    } else {
                        1.0
                    }
                })
                .collect();
            let y = data.cells.iter().map(|c| c.y).collect();
            let prob = Problem::with(data, y, w, ridge);
            let mut p = point.clone();
            prob.solve(&mut p, 1e-10, 20_000);
            let map = reference.fit_all(&p.theta)?;
            let rho = (map.ln_n_hat(p.theta[m])).exp() / d.params_b;
            Some(LoboCase {
                model: d.model.clone(),
                benchmark: b,
                rho: d.rho,
                rho_ci95: ci,
                rho_without: rho,
                inside: rho >= ci[0] && rho <= ci[1],
            })
        })
        .collect()
}

/// One reference size held out of its family's map: the error of ln N̂
/// predicted from its θ by the map fitted on the other sizes, under the
/// straight line, the monotone quadratic ([`MonotoneQuadratic`]) continued
/// beyond its range with its own end slope, and the same quadratic continued
/// with the straight line's slope (the hybrid).
#[derive(Debug, Clone, Serialize)]
pub struct SizeOutCase {
    pub family: String,
    pub size_b: f64,
    /// The held-out size is the family's smallest or largest (an extrapolation).
    pub end: bool,
    pub ln_error_line: f64,
    pub ln_error_curve: f64,
    pub ln_error_hybrid: f64,
}

/// Leave-one-size-out (issue 17's choice of the reference map): for each
/// distinct size of `reference`, fit the map on the others and predict that
/// size's ln N from its members' capabilities `theta`; |ln N̂ − ln N| under
/// the line and under the monotone quadratic, averaged over the size's members.
pub fn leave_one_size_out(reference: &RefMembers, theta: &[f64]) -> Vec<SizeOutCase> {
    let mut sizes: Vec<f64> = reference.members.iter().map(|m| m.1).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let (smallest, largest) = (sizes[0], sizes[sizes.len() - 1]);
    sizes
        .iter()
        .filter_map(|&size| {
            let (held, kept): (Vec<&(usize, f64)>, Vec<_>) =
                reference.members.iter().partition(|m| m.1 == size);
            let x: Vec<f64> = kept.iter().map(|m| m.1.ln()).collect();
            let y: Vec<f64> = kept.iter().map(|m| theta[m.0]).collect();
            let (beta, alpha, _) = crate::trend::fit_line(&x, &y)?;
            let curve = MonotoneQuadratic::fit(&x, &y)?;
            let err = |ln_n: &dyn Fn(f64) -> f64| {
                held.iter()
                    .map(|m| (ln_n(theta[m.0]) - size.ln()).abs())
                    .sum::<f64>()
                    / held.len() as f64
            };
            Some(SizeOutCase {
                family: reference.family.clone(),
                size_b: size,
                end: size == smallest || size == largest,
                ln_error_line: err(&|t| (t - alpha) / beta),
                ln_error_curve: err(&|t| curve.ln_n(t, None)),
                ln_error_hybrid: err(&|t| curve.ln_n(t, Some(beta))),
            })
        })
        .collect()
}

/// θ = a + b·x + c·x² (x = ln N) by least squares subject to dθ/dx ≥ 0 over
/// the fitted sizes' range [x_lo, x_hi], continued as a straight line with the
/// end slope beyond it. The derivative is linear in x, so monotone on the
/// range means monotone at its two ends; the constrained optimum is the
/// unconstrained fit when that is monotone, else the best fit with a vertex
/// at one end (one constraint active; θ = a + c·(x − x_e)²).
#[derive(Debug, Clone, Copy)]
pub struct MonotoneQuadratic {
    a: f64,
    b: f64,
    c: f64,
    lo: f64,
    hi: f64,
}

impl MonotoneQuadratic {
    /// `None` with fewer than 3 distinct x or no increasing fit.
    pub fn fit(x: &[f64], y: &[f64]) -> Option<MonotoneQuadratic> {
        let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sse = |q: &MonotoneQuadratic| -> f64 {
            x.iter().zip(y).map(|(x, y)| (y - q.at(*x)).powi(2)).sum()
        };
        let make = |a, b, c| MonotoneQuadratic { a, b, c, lo, hi };
        let full = {
            let m = nalgebra::DMatrix::from_fn(x.len(), 3, |i, j| x[i].powi(j as i32));
            let v = nalgebra::DVector::from_column_slice(y);
            let s = m.svd(true, true).solve(&v, 1e-12).ok()?;
            make(s[0], s[1], s[2])
        };
        if full.slope(lo) >= 0.0 && full.slope(hi) >= 0.0 && full.slope(hi) + full.slope(lo) > 0.0 {
            return Some(full);
        }
        [lo, hi]
            .into_iter()
            .filter_map(|e| {
                let z: Vec<f64> = x.iter().map(|x| (x - e).powi(2)).collect();
                let (c, a, _) = crate::trend::fit_line(&z, y)?;
                // a + c(x − e)²: increasing on the range when the vertex is at
                // the low end with c > 0, or at the high end with c < 0.
                ((e == lo && c > 0.0) || (e == hi && c < 0.0))
                    .then(|| make(a + c * e * e, -2.0 * c * e, c))
            })
            .min_by(|p, q| sse(p).total_cmp(&sse(q)))
    }

    fn at(&self, x: f64) -> f64 {
        let xc = x.clamp(self.lo, self.hi);
        self.a + self.b * xc + self.c * xc * xc + self.slope(xc) * (x - xc)
    }

    fn slope(&self, x: f64) -> f64 {
        self.b + 2.0 * self.c * x
    }

    /// ln N at capability `theta`: bisection inside the range; beyond it a
    /// line of slope `beyond` (`None`: the curve's end slope, infinite where
    /// that is 0: the curve is flat there and cannot tell sizes apart).
    pub fn ln_n(&self, theta: f64, beyond: Option<f64>) -> f64 {
        let (t_lo, t_hi) = (self.at(self.lo), self.at(self.hi));
        if theta > t_hi {
            return self.hi + (theta - t_hi) / beyond.unwrap_or(self.slope(self.hi));
        }
        if theta < t_lo {
            return self.lo + (theta - t_lo) / beyond.unwrap_or(self.slope(self.lo));
        }
        let (mut a, mut b) = (self.lo, self.hi);
        for _ in 0..100 {
            let m = 0.5 * (a + b);
            if self.at(m) < theta {
                a = m;
            } else {
                b = m;
            }
        }
        0.5 * (a + b)
    }
}
