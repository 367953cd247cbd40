//! Exact linear quantile regression with one regressor, with censored points
//! handled as in Powell's censored quantile regression (Powell 1986).
//!
//! The line `y = a·t + b` minimises
//! `Σ ρ_τ(y_i − g_i(a·t_i + b))`, `ρ_τ(r) = r·(τ − 1[r < 0])`, where
//! `g_i(u) = u` for a point known exactly, `min(c_i, u)` for one known only as
//! `y > c_i` (its `y_i` is the bound `c_i`) and `max(c_i, u)` for `y < c_i`.
//! A lower bound therefore costs `τ·(c_i − u)₊`: nothing while the line passes
//! above it (its true value may lie anywhere above the bound, so it says nothing
//! more), a pull upward while the line passes below it. An upper bound costs
//! `(1 − τ)·(u − c_i)₊`. Every term is convex and piecewise linear in (a, b), so
//! the optimum sits on a vertex: a line through two points `(t_i, y_i)`.
//!
//! For a fixed slope `a` the best intercept is a weighted quantile of the
//! residuals `y − a·t` (weights τ above, 1 − τ below; a lower bound has no
//! weight below, an upper bound none above), and the profiled loss `f(a)` is
//! convex with its kinks at the pairwise slopes `(y_j − y_i)/(t_j − t_i)`. So
//! the exact optimum is found by sorting those slopes and binary-searching the
//! convex sequence `f(s_k)`: O(n² log n), no iteration, no tolerance. Among
//! slopes with equal loss the smallest is returned (the convention), so
//! the answer is unique; when the tie extends to every smaller slope there is
//! no smallest and no line (`None`). With two exact points at distinct dates
//! the loss grows in every direction, so a line always exists.

/// What an observation's `y` says about its true value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `y` is the value.
    Exact,
    /// The true value is above `y` (a lower bound, `ρ > c`).
    AtLeast,
    /// The true value is below `y` (an upper bound, `ρ < c`).
    AtMost,
}

/// One observation of the regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QPoint {
    pub t: f64,
    pub y: f64,
    pub side: Side,
}

/// A line fitted at quantile `tau`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileLine {
    pub a: f64,
    pub b: f64,
}

/// Loss weights per unit residual (above the line, below it).
fn weights(side: Side, tau: f64) -> (f64, f64) {
    match side {
        Side::Exact => (tau, 1.0 - tau),
        Side::AtLeast => (tau, 0.0),
        Side::AtMost => (0.0, 1.0 - tau),
    }
}

/// Powell's loss of `line` at quantile `tau` (for tests and diagnostics).
pub fn powell_loss(points: &[QPoint], tau: f64, line: QuantileLine) -> f64 {
    points
        .iter()
        .map(|p| {
            let e = p.y - (line.a * p.t + line.b);
            let (up, down) = weights(p.side, tau);
            if e > 0.0 {
                up * e
            } else {
                -down * e
            }
        })
        .sum()
}

/// Best intercept for slope `a` (the smallest minimiser) and its loss:
/// the first sorted residual `r_(k)` at which the weight below,
/// `Σ_{j≤k} w↓`, reaches the weight above, `Σ_{j>k} w↑`.
fn profile(points: &[QPoint], tau: f64, a: f64) -> (f64, f64) {
    let mut r: Vec<(f64, f64, f64)> = points
        .iter()
        .map(|p| {
            let (up, down) = weights(p.side, tau);
            (p.y - a * p.t, up, down)
        })
        .collect();
    r.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut above: f64 = r.iter().map(|x| x.1).sum();
    let mut below = 0.0;
    let mut b = r[r.len() - 1].0;
    for x in &r {
        below += x.2;
        above -= x.1;
        if below >= above {
            b = x.0;
            break;
        }
    }
    let loss = r
        .iter()
        .map(|&(ri, up, down)| {
            let e = ri - b;
            if e > 0.0 {
                up * e
            } else {
                -down * e
            }
        })
        .sum();
    (b, loss)
}

/// Exact Powell τ-quantile line of `points`; `None` when no two points have
/// distinct dates, or the loss is flat toward ever smaller slopes (only
/// bounds, no exact points to pin the line).
pub fn quantile_line(points: &[QPoint], tau: f64) -> Option<QuantileLine> {
    let mut slopes = Vec::with_capacity(points.len() * points.len() / 2);
    for (i, p) in points.iter().enumerate() {
        for q in &points[i + 1..] {
            if p.t != q.t {
                slopes.push((q.y - p.y) / (q.t - p.t));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    slopes.dedup();
    let f = |a: f64| profile(points, tau, a).1;
    // Losses equal up to rounding count as ties (the smaller slope wins).
    let tol = |v: f64| 1e-10 * v.abs().max(1.0);
    // First k whose forward difference is ≥ 0 (within rounding): the leftmost
    // minimum of a convex sequence.
    let (mut lo, mut hi) = (0, slopes.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let (f0, f1) = (f(slopes[mid]), f(slopes[mid + 1]));
        if f1 >= f0 - tol(f0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let a = slopes[lo];
    let (b, best) = profile(points, tau, a);
    // Beyond the outermost kinks f is linear. Below the smallest kink it either
    // rises (the optimum is a kink) or stays flat: then every smaller slope
    // ties and there is no smallest one.
    if lo == 0 {
        let span = slopes[slopes.len() - 1] - slopes[0] + 1.0;
        if f(slopes[0] - span) <= best + tol(best) {
            return None;
        }
    }
    Some(QuantileLine { a, b })
}

/// The uncensored τ-quantile line of `(t, y)` (every point exact).
pub fn exact_quantile_line(t: &[f64], y: &[f64], tau: f64) -> Option<QuantileLine> {
    let points: Vec<QPoint> = t
        .iter()
        .zip(y)
        .map(|(&t, &y)| QPoint {
            t,
            y,
            side: Side::Exact,
        })
        .collect();
    quantile_line(&points, tau)
}

/// The check loss of a line over exact points (for tests and diagnostics).
pub fn check_loss(t: &[f64], y: &[f64], tau: f64, line: QuantileLine) -> f64 {
    t.iter()
        .zip(y)
        .map(|(&t, &y)| {
            powell_loss(
                &[QPoint {
                    t,
                    y,
                    side: Side::Exact,
                }],
                tau,
                line,
            )
        })
        .sum()
}
