//! Bootstrap of the capability fit.
//!
//! Replicate r (seeded, reproducible):
//! 1. resample the model *families* with replacement (members of a family share
//!    a recipe and a release, so their errors are not independent): a cell's
//!    weight is its family's multiplicity;
//! 2. add each score's binomial noise, `N(0, p̂(1 − p̂)/items_b)` with p̂ the
//!    point fit's prediction (no noise where the catalog has no item count);
//! 3. refit the benchmarks' parameters, warm-started from the point estimate;
//! 4. re-estimate *every* model's θ from its own noised scores under those
//!    parameters (a model left out of the resample still gets a capability);
//! 5. at mapping time ([`super::Capability::densities`]) resample the reference
//!    family's sizes and refit θ = α + β ln N.
//!
//! Replicates are independent and run in parallel; each keeps only its θ.

use super::data::CellData;
use super::fit::{predict, Params, Problem, Ridge};
use crate::bootstrap::replicate_rng;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

/// Relative objective decrease at which a replicate's refit stops.
const REPLICATE_TOL: f64 = 1e-8;
/// Sweeps a replicate may take.
const REPLICATE_SWEEPS: usize = 500;

/// θ of every model under `replicates` bootstrap draws, and how many refits
/// stopped at the sweep limit.
pub fn replicate_thetas(
    data: &CellData,
    point: &Params,
    ridge: Ridge,
    replicates: usize,
    seed: u64,
) -> (Vec<Vec<f64>>, usize) {
    let mut all_by_model = vec![Vec::new(); data.models.len()];
    for (k, c) in data.cells.iter().enumerate() {
        all_by_model[c.model].push(k);
    }
    let sd: Vec<f64> = data
        .cells
        .iter()
        .map(|c| {
            let items = data.benches[data.items[c.item].bench].items;
            items.map_or(0.0, |n| {
                let n = n as f64;
                let p = predict(data, point, c.model, c.item).clamp(0.5 / n, 1.0 - 0.5 / n);
                (p * (1.0 - p) / n).sqrt()
            })
        })
        .collect();
    let out: Vec<(Vec<f64>, bool)> = (0..replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = replicate_rng(seed, r);
            let nf = data.families.len();
            let mut mult = vec![0.0; nf];
            for _ in 0..nf {
                mult[rng.random_range(0..nf)] += 1.0;
            }
            let w: Vec<f64> = data
                .cells
                .iter()
                .map(|c| mult[data.family_of[c.model]])
                .collect();
            let y: Vec<f64> = data
                .cells
                .iter()
                .zip(&sd)
                .map(|(c, &s)| {
                    if s > 0.0 {
                        c.y + Normal::new(0.0, s).expect("finite sd").sample(&mut rng)
                    } else {
                        c.y
                    }
                })
                .collect();
            let prob = Problem::with(data, y, w, ridge);
            let mut p = point.clone();
            let rep = prob.solve(&mut p, REPLICATE_TOL, REPLICATE_SWEEPS);
            for (i, cells) in all_by_model.iter().enumerate() {
                prob.theta_only(&mut p, i, cells);
            }
            (p.theta, rep.converged)
        })
        .collect();
    let unconverged = out.iter().filter(|o| !o.1).count();
    (out.into_iter().map(|o| o.0).collect(), unconverged)
}

/// θ of a replicate on the point estimate's gauge: the affine map
/// `g + h·θ_r` closest to the point θ over all models (least squares).
pub fn align(point: &[f64], rep: &[f64]) -> Vec<f64> {
    match crate::trend::fit_line(rep, point) {
        Some((h, g, _)) => rep.iter().map(|t| g + h * t).collect(),
        None => rep.to_vec(),
    }
}
