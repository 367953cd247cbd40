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
use super::reference::MonotoneQuadratic;
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
