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
//!
//! The ruler. Shuffled dates give the slope's null law *for one reading of the
//! densities*; the reading itself (the reference curves, on the capability
//! scale the reference family's ruler) is uncertain too, and its error tilts
//! every model's ln ρ at once — shuffling cannot see it, and on registries
//! simulated on the capability scale's design a test blind to it rejected a
//! true "no trend" 25% of the time. So when the points carry calibration draws
//! the null slope of permutation k is `b_k + s_k`: the shuffled refit plus
//! `s_k = â_k − mean_j â_j`, how far reading every model through draw k tilts
//! the slope from the draws' average ([`RulerShifts`]). The point reading is
//! taken as one more draw, exchangeable with the others (on the capability
//! scale it is one reference family's ruler among the pooled ones), so under
//! "no trend" `â = e_sampling + e_ruler` with `e_ruler` distributed as `s_k`;
//! the two terms sample the two errors, as the bootstrap's replicates do. The
//! shifts are centred on the draws' average, not on `â`: `â_k − â` would add
//! the point's own ruler error a second time (with the opposite sign), and on
//! the simulated capability design that uncentred null called a trend in 9.3%
//! of trend-free registries. A draw whose refit fails counts as at least as
//! extreme, like a failed shuffle.

use super::estimator::{Estimator, Obs};
use super::point::{TrendPoint, ALPHA};
use crate::bootstrap::replicate_rng;
use crate::density::Bounded;
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

/// The ruler's share of the slope's error, one shift per calibration draw
/// (see the module doc): `s_k = â_k − mean_j â_j`, with `â_k` refitted on
/// every model at draw k (undetermined draws left out) and the mean over the
/// draws whose refit succeeded; `None` where that refit fails. The default
/// has no draws: every shift is 0. Computed once per fit and shared by the
/// test and its inversion (whose tested slope `a0` does not move them: the
/// estimators are equivariant).
#[derive(Debug, Clone, Default)]
pub struct RulerShifts(Vec<Option<f64>>);

impl RulerShifts {
    /// The shifts of every draw the points carry; none (every shift 0) when no
    /// point carries draws, i.e. the reading is taken as exact.
    pub fn new(points: &[TrendPoint], est: &dyn Estimator) -> RulerShifts {
        let draws = points
            .iter()
            .map(|p| p.ln_rho_replicates.len())
            .max()
            .unwrap_or(0);
        let slopes: Vec<Option<f64>> = (0..draws)
            .into_par_iter()
            .map(|k| {
                let obs: Vec<Obs> = points
                    .iter()
                    .map(|p| Obs {
                        t: p.t,
                        y: p.replicate(k),
                    })
                    .filter(|o| o.y != Bounded::Undetermined)
                    .collect();
                est.fit(&obs).map(|l| l.a).filter(|a| a.is_finite())
            })
            .collect();
        let fitted: Vec<f64> = slopes.iter().flatten().copied().collect();
        let mean = fitted.iter().sum::<f64>() / fitted.len().max(1) as f64;
        RulerShifts(slopes.into_iter().map(|a| Some(a? - mean)).collect())
    }

    /// The shift paired with permutation `k`: draw `k` modulo the draws (the
    /// pairing bootstrap replicates use), `Some(0.0)` without draws.
    pub fn get(&self, k: usize) -> Option<f64> {
        if self.0.is_empty() {
            Some(0.0)
        } else {
            self.0[k % self.0.len()]
        }
    }
}

/// Null slopes `b_k + s_k` for permutations `range`: shuffled refits (of the
/// data detrended by `a0`) plus the ruler's shifts; `None` where either failed.
pub fn null_slopes(
    points: &[TrendPoint],
    est: &dyn Estimator,
    shifts: &RulerShifts,
    a0: f64,
    range: std::ops::Range<usize>,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Vec<Option<f64>> {
    let start = range.start;
    permuted_slopes(points, est, a0, range, seed, tick)
        .into_iter()
        .enumerate()
        .map(|(i, b)| Some(b? + shifts.get(start + i)?))
        .collect()
}

/// `(1 + #{x ≥ a} + #{failed}) / (1 + m)` and its Monte Carlo standard error.
pub fn p_value(a: f64, null: &[Option<f64>]) -> (f64, f64) {
    let extreme = null.iter().filter(|x| x.is_none_or(|x| x >= a)).count();
    let m = null.len();
    let p = (1 + extreme) as f64 / (1 + m) as f64;
    (p, (p * (1.0 - p) / m.max(1) as f64).sqrt())
}

/// One-sided permutation test of slope `a` with `permutations` shuffles (each
/// with its ruler shift from `shifts`), extended while p is within 3 MC
/// standard errors of 0.05 (see the module doc); `None` when `permutations` is 0.
pub fn permutation_test(
    points: &[TrendPoint],
    est: &dyn Estimator,
    shifts: &RulerShifts,
    a: f64,
    permutations: usize,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Option<PermutationTest> {
    if permutations == 0 {
        return None;
    }
    let cap = permutations * ADAPTIVE_FACTOR;
    let mut null = null_slopes(points, est, shifts, 0.0, 0..permutations, seed, tick);
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
        null.extend(null_slopes(
            points,
            est,
            shifts,
            0.0,
            null.len()..next,
            seed,
            tick,
        ));
    }
}
