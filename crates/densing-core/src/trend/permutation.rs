//! The permutation test of "no trend", with nothing dropped and its Monte
//! Carlo error stated.
//!
//! Under "no trend", release dates carry no information about density, so
//! refitting on registries whose dates are shuffled gives the slope's null
//! distribution *for the same estimator* — which matters for the envelope,
//! whose slope is positive for any data. Dates are shuffled among *families*:
//! each family's first release date goes to another family, its members
//! keeping their offsets from it. Shuffling single models instead would break
//! up families that share a date and a density level, make the null too
//! narrow, and call a trend in ~15% of trend-free simulated registries. A
//! family of one is a model, so on a registry without families both are the same.
//!
//! The one-sided p-value is
//! `(1 + #{permuted slope ≥ observed} + #{failed refits}) / (1 + permutations)`:
//! a permutation whose refit fails (no line, or one tilting without bound)
//! counts as at least as extreme — dropping it would make p smaller than the
//! data allow. Its Monte Carlo standard error is `√(p(1 − p)/m)`. When p lies
//! within 3 standard errors of [`ALPHA`] the test draws more permutations
//! (doubling, up to [`ADAPTIVE_FACTOR`] × the requested count) until it does
//! not, so a verdict never rests on Monte Carlo noise without saying so.

use super::estimator::{Estimator, Obs};
use super::point::{TrendPoint, ALPHA};
use crate::bootstrap::replicate_rng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::Serialize;

/// The adaptive test stops at this multiple of the requested permutations.
pub const ADAPTIVE_FACTOR: usize = 10;

/// A permutation test's result, every refit accounted for.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PermutationTest {
    pub p_value: f64,
    /// Monte Carlo standard error of `p_value`.
    pub mc_se: f64,
    /// Permutations drawn in all (requested plus added).
    pub drawn: usize,
    /// Permutations whose refit failed, counted as at least as extreme.
    pub failed: usize,
    /// Permutations added because p was within 3 MC standard errors of 0.05.
    pub added: usize,
    /// Whether p was still within 3 standard errors of 0.05 at the cap.
    pub at_cap: bool,
}

/// Each point's family as an index, and the members of every family.
pub fn families(points: &[TrendPoint]) -> (Vec<usize>, Vec<Vec<usize>>) {
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

/// Slopes refitted with the families' release dates shuffled among the
/// families, for permutations `range` (permutation k always draws the same
/// shuffle); `None` where the refit failed. Each ln ρ is first detrended by
/// `a0` at its own date, `y − a0·t` (0: the test of "no trend"; other values:
/// the test of "slope a0" that [`super::inversion`] inverts).
pub fn permuted_slopes(
    points: &[TrendPoint],
    est: &dyn Estimator,
    a0: f64,
    range: std::ops::Range<usize>,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Vec<Option<f64>> {
    let (group, members) = families(points);
    let first: Vec<f64> = members
        .iter()
        .map(|m| m.iter().map(|&i| points[i].t).fold(f64::INFINITY, f64::min))
        .collect();
    range
        .into_par_iter()
        .map(|k| {
            let mut rng = replicate_rng(seed ^ 0x7065726d, k);
            let mut to = first.clone();
            to.shuffle(&mut rng);
            let shuffled: Vec<Obs> = points
                .iter()
                .zip(&group)
                .map(|(p, &g)| Obs {
                    t: to[g] + (p.t - first[g]),
                    y: p.ln_rho.shift(-a0 * p.t),
                })
                .collect();
            let a = est.fit(&shuffled).map(|l| l.a).filter(|a| a.is_finite());
            tick();
            a
        })
        .collect()
}

/// `(1 + #{x ≥ a} + #{failed}) / (1 + m)` and its Monte Carlo standard error.
pub fn p_value(a: f64, null: &[Option<f64>]) -> (f64, f64) {
    let extreme = null.iter().filter(|x| x.is_none_or(|x| x >= a)).count();
    let m = null.len();
    let p = (1 + extreme) as f64 / (1 + m) as f64;
    (p, (p * (1.0 - p) / m.max(1) as f64).sqrt())
}

/// One-sided permutation test of slope `a` with `permutations` shuffles,
/// extended while p is within 3 MC standard errors of 0.05 (see the module
/// doc); `None` when `permutations` is 0.
pub fn permutation_test(
    points: &[TrendPoint],
    est: &dyn Estimator,
    a: f64,
    permutations: usize,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Option<PermutationTest> {
    if permutations == 0 {
        return None;
    }
    let cap = permutations * ADAPTIVE_FACTOR;
    let mut null = permuted_slopes(points, est, 0.0, 0..permutations, seed, tick);
    loop {
        let (p, se) = p_value(a, &null);
        let close = (p - ALPHA).abs() < 3.0 * se;
        if !close || null.len() >= cap {
            return Some(PermutationTest {
                p_value: p,
                mc_se: se,
                drawn: null.len(),
                failed: null.iter().filter(|x| x.is_none()).count(),
                added: null.len() - permutations,
                at_cap: close,
            });
        }
        let next = (2 * null.len()).min(cap);
        null.extend(permuted_slopes(
            points,
            est,
            0.0,
            null.len()..next,
            seed,
            tick,
        ));
    }
}
