//! The slope's 95% interval by inverting the permutation test: every slope
//! `a0` that a test of "the slope is a0" does not reject at 2.5% on either
//! side.
//!
//! The test of "slope a0" is the permutation test of "no trend"
//! ([`super::permutation`]) on the detrended data `y − a0·t` (a bound
//! detrends to a bound): the estimators are equivariant, so the observed
//! slope of the detrended data is `â − a0`, and refits on registries whose
//! family dates are shuffled give its null distribution. With `b_k(a0)` the
//! k-th permuted slope and `f` the failed refits (counted against the
//! rejection on both sides, so a failure never narrows the interval), the
//! one-sided p-values are
//! `p₊(a0) = (1 + #{b_k + s_k ≥ â − a0} + f)/(1 + m)` (small when a0 is too low) and
//! `p₋(a0) = (1 + #{b_k + s_k ≤ â − a0} + f)/(1 + m)` (a0 too high), `s_k` the
//! ruler's shift below. Since
//! `b_k(a0) + a0` grows with a0 (the shuffled dates are only partly
//! correlated with the real ones), each side's rejection region is a half-line,
//! and its end is found by bisection with the same m shuffles at every a0
//! (common random numbers, so the p-value moves only with a0).
//!
//! The ruler: each shuffled slope carries its calibration draw's shift
//! `s_k = â_k − mean_j â_j` ([`super::permutation::RulerShifts`]), which does
//! not depend on a0 (the estimators are equivariant), so the interval covers
//! the calibration's (on the capability scale, the ruler's) error as well as
//! the families' sampling. Without the shifts it covered 72% on registries
//! simulated on the capability scale's design, with them 98.7% (BENCHMARKS.md).
//! The point estimate is inside by construction (both searches start from it).

use super::estimator::Estimator;
use super::permutation::{null_slopes, RulerShifts};
use super::point::TrendPoint;

/// Shuffles behind the interval: the p-values are compared with 0.025, so
/// (1 + m)·0.025 = 5 shuffles beyond the observed slope reject; a larger m
/// moves the ends by Monte Carlo noise only, not their coverage.
pub const INTERVAL_PERMUTATIONS: usize = 199;

/// Bisection steps per end after the bracket is found: the end is then known
/// to 1/256 of the bracket's width.
const BISECTION_STEPS: usize = 8;

/// Doublings of the bracket before an end is declared unbounded.
const MAX_DOUBLINGS: usize = 20;

/// A test-inversion interval with the work it took.
#[derive(Debug, Clone, Copy)]
pub struct InvertedInterval {
    /// Lower and upper end of the slope's interval; `None`: unbounded on that
    /// side (the test never rejects there).
    pub ends: [Option<f64>; 2],
    /// Slopes a0 at which the test was run (m refits each).
    pub evaluations: usize,
    /// Refits that failed, over every evaluation (counted against rejection).
    pub failed: usize,
}

/// The interval at `level` for the slope `a_hat` fitted by `est` to `points`,
/// from `m` shuffles, each with its ruler shift from `shifts`; `width` is a
/// first guess of the distance from `a_hat` to an end (e.g. the bootstrap's),
/// doubled until the test rejects.
pub fn inverted_interval(
    points: &[TrendPoint],
    est: &dyn Estimator,
    shifts: &RulerShifts,
    a_hat: f64,
    width: f64,
    m: usize,
    level: f64,
    seed: u64,
) -> InvertedInterval {
    let alpha = (1.0 - level) / 2.0;
    let (mut evaluations, mut failed) = (0, 0);
    // Whether "slope a0" is rejected on side `sign` (+1: a0 too low).
    let mut rejects = |a0: f64, sign: f64| {
        let null = null_slopes(points, est, shifts, a0, 0..m, seed, &|| {});
        let f = null.iter().filter(|b| b.is_none()).count();
        let beyond = null
            .iter()
            .flatten()
            .filter(|&&b| sign * (b - (a_hat - a0)) >= 0.0)
            .count();
        evaluations += 1;
        failed += f;
        ((1 + beyond + f) as f64 / (1 + m) as f64) <= alpha
    };
    let width = if width.is_finite() && width > 0.0 {
        width
    } else {
        a_hat.abs().max(1e-4)
    };
    let mut end = |sign: f64| -> Option<f64> {
        // a0 = a_hat − sign·d: `inside` is not rejected, `outside` is.
        let (mut inside, mut outside) = (0.0, width);
        let mut doublings = 0;
        while !rejects(a_hat - sign * outside, sign) {
            inside = outside;
            outside *= 2.0;
            doublings += 1;
            if doublings > MAX_DOUBLINGS {
                return None;
            }
        }
        for _ in 0..BISECTION_STEPS {
            let mid = 0.5 * (inside + outside);
            if rejects(a_hat - sign * mid, sign) {
                outside = mid;
            } else {
                inside = mid;
            }
        }
        Some(a_hat - sign * 0.5 * (inside + outside))
    };
    let lo = end(1.0);
    let hi = end(-1.0);
    InvertedInterval {
        ends: [lo, hi],
        evaluations,
        failed,
    }
}
