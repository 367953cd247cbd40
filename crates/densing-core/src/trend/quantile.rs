//! Exact linear quantile regression with one regressor: the line `y = a·t + b`
//! minimising the check loss `Σ ρ_τ(y_i − a·t_i − b)`, `ρ_τ(r) = r·(τ − 1[r < 0])`.
//!
//! The problem is a linear programme whose optimum sits on a vertex: a line
//! through two data points (Koenker 2005, §2.2). For a fixed slope `a` the best
//! intercept is the τ-quantile of the residuals `y − a·t`, and the profiled loss
//! `f(a)` is convex and piecewise linear with its kinks at the pairwise slopes
//! `(y_j − y_i)/(t_j − t_i)`. So the exact optimum is found by sorting those
//! slopes and binary-searching the convex sequence `f(s_k)` — no iteration, no
//! tolerance, O(n² log n) for n points.
//!
//! Points known only to lie above (below) every line of interest enter as `+∞`
//! (`−∞`): their residual's sign is fixed, so they shift which order statistic
//! is the intercept but never a kink.

/// A line fitted at quantile `tau`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileLine {
    pub a: f64,
    pub b: f64,
}

/// `ρ_τ(e)`: τ·e above the line, (τ − 1)·e below it.
fn check(e: f64, tau: f64) -> f64 {
    e * (tau - if e < 0.0 { 1.0 } else { 0.0 })
}

/// The residual order statistic that minimises the check loss over `b`:
/// with `n` points in all (finite and infinite), the `⌈τ·n⌉`-th smallest.
fn intercept_rank(n: usize, tau: f64) -> usize {
    ((tau * n as f64).ceil() as usize).clamp(1, n)
}

/// Best intercept for slope `a` and its loss; `None` when the optimal intercept
/// is one of the infinite points (the quantile is unbounded).
fn profile(t: &[f64], y: &[f64], up: &[f64], down: &[f64], tau: f64, a: f64) -> Option<(f64, f64)> {
    let mut r: Vec<f64> = t.iter().zip(y).map(|(t, y)| y - a * t).collect();
    let n_down = down.len();
    let n = r.len() + up.len() + n_down;
    let k = intercept_rank(n, tau);
    if k <= n_down || k > n_down + r.len() {
        return None;
    }
    let (_, b, _) = r.select_nth_unstable_by(k - n_down - 1, f64::total_cmp);
    let b = *b;
    let loss: f64 = r
        .iter()
        .map(|&ri| check(ri - b, tau))
        .sum::<f64>()
        // Points at ±∞ contribute −τ·(a·t + b) resp. (1 − τ)·(a·t + b), plus constants.
        - tau * up.iter().map(|t| a * t + b).sum::<f64>()
        + (1.0 - tau) * down.iter().map(|t| a * t + b).sum::<f64>();
    Some((b, loss))
}

/// Exact τ-quantile line of the finite points `(t, y)` together with points at
/// `+∞` at the times `up` and at `−∞` at the times `down`. `None` when fewer
/// than two finite points have distinct `t`, or the points at infinity push the
/// line to infinity (in level or in slope).
pub fn quantile_line(
    t: &[f64],
    y: &[f64],
    up: &[f64],
    down: &[f64],
    tau: f64,
) -> Option<QuantileLine> {
    let mut slopes = Vec::with_capacity(t.len() * t.len() / 2);
    for i in 0..t.len() {
        for j in i + 1..t.len() {
            if t[i] != t[j] {
                slopes.push((y[j] - y[i]) / (t[j] - t[i]));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    slopes.dedup();
    let f = |a: f64| profile(t, y, up, down, tau, a);
    // First k whose forward difference is ≥ 0: the minimum of a convex sequence.
    let (mut lo, mut hi) = (0, slopes.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let (_, f0) = f(slopes[mid])?;
        let (_, f1) = f(slopes[mid + 1])?;
        if f1 >= f0 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let a = slopes[lo];
    let (b, best) = f(a)?;
    // Beyond the outermost kinks f is linear; with points at ±∞ it may keep
    // falling there, and then the loss has no minimum (the line tilts without bound).
    let span = slopes[slopes.len() - 1] - slopes[0] + 1.0;
    for outside in [slopes[0] - span, slopes[slopes.len() - 1] + span] {
        if f(outside)?.1 < best - 1e-12 * best.abs().max(1.0) {
            return None;
        }
    }
    Some(QuantileLine { a, b })
}

/// The check loss of a line (for tests and diagnostics).
pub fn check_loss(t: &[f64], y: &[f64], tau: f64, line: QuantileLine) -> f64 {
    t.iter()
        .zip(y)
        .map(|(t, y)| check(y - line.a * t - line.b, tau))
        .sum()
}
