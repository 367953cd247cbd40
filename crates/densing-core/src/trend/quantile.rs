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
//! the exact optimum is found by sorting those slopes and binary-searching
//! them on the sign of `f′` between neighbours: O(n² log n), no iteration (up
//! to [`PAIRS_UP_TO`] points); for more, bisection on the sign of `f′` narrows
//! the slopes to a window of O(n) kinks, counted and listed as inversions
//! between two residual orders (O(n log n) a step, [`quantile_line_search`]). Among
//! slopes with equal loss the smallest is returned (the convention), so
//! the answer is unique; when the tie extends to every smaller slope there is
//! no smallest and no line (`None`). With two exact points at distinct dates
//! the loss grows in every direction, so a line always exists.

mod kinks;

use kinks::{count, kinks_in, Scale};

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

/// Above this many points [`quantile_line`] searches the kinks
/// ([`quantile_line_search`]) instead of listing all n²/2 of them
/// ([`quantile_line_pairs`]), whose n²/2 slopes cost O(n²) memory.
pub const PAIRS_UP_TO: usize = 500;

/// Exact Powell τ-quantile line of `points`; `None` when no two points have
/// distinct dates, or the loss is flat toward ever smaller slopes (only
/// bounds, no exact points to pin the line).
pub fn quantile_line(points: &[QPoint], tau: f64) -> Option<QuantileLine> {
    if points.len() <= PAIRS_UP_TO {
        quantile_line_pairs(points, tau)
    } else {
        quantile_line_search(points, tau)
    }
}

/// [`quantile_line`] by listing and sorting every pairwise slope:
/// O(n² log n) time, O(n²) memory.
///
/// Slopes equal but for rounding (three collinear points, data on a lattice)
/// are one kink: they are merged before the search, and the search follows
/// the sign of `f′` between neighbouring kinks, not the difference of `f` at
/// them — two copies of one kink have losses equal within rounding, which a
/// search on differences reads as the flat bottom wherever it meets them
/// (it stopped at a loss 20% above the optimum on a 24-point lattice).
pub fn quantile_line_pairs(points: &[QPoint], tau: f64) -> Option<QuantileLine> {
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
    slopes.dedup_by(|b, a| (*b - *a).abs() <= 1e-12 * a.abs().max(b.abs()));
    let f = |a: f64| profile(points, tau, a).1;
    let lo = least_kink(points, tau, &slopes);
    let best = f(slopes[lo]);
    let thr = best + tol(best);
    // Beyond the outermost kinks f is linear. Below the smallest kink it either
    // rises (the optimum is a kink) or stays flat: then every smaller slope
    // ties and there is no smallest one.
    let span = slopes[slopes.len() - 1] - slopes[0] + 1.0;
    if f(slopes[0] - span) <= thr {
        return None;
    }
    let a = slopes[smallest_tied(&slopes, lo, thr, f)];
    Some(QuantileLine {
        a,
        b: profile(points, tau, a).0,
    })
}

/// Index of the sorted, distinct `kinks` at which the profiled loss stops
/// falling: binary search on the sign of `f′` between neighbouring kinks
/// (constant there). Comparing `f` at neighbours instead reads two kinks
/// equal but for rounding as the flat bottom wherever it meets them.
fn least_kink(points: &[QPoint], tau: f64, kinks: &[f64]) -> usize {
    let (mut lo, mut hi) = (0, kinks.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if profile_slope(points, tau, bit_mid(kinks[mid], kinks[mid + 1])) >= 0.0 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Smallest index `≤ best` whose loss is within `thr` (f falls until the
/// least-loss kink `best`, so the tied kinks are a run ending there).
fn smallest_tied(kinks: &[f64], best: usize, thr: f64, f: impl Fn(f64) -> f64) -> usize {
    let (mut k, mut j) = (0, best);
    while k < j {
        let mid = (k + j) / 2;
        if f(kinks[mid]) <= thr {
            j = mid;
        } else {
            k = mid + 1;
        }
    }
    k
}

/// Kinks a search window may hold before they are listed.
fn window_cap(n: usize) -> u64 {
    8 * n as u64
}

/// Losses equal up to rounding count as ties (the smaller slope wins).
fn tol(v: f64) -> f64 {
    1e-10 * v.abs().max(1.0)
}

/// Slope of the profiled loss `f` at `a` between kinks: with the intercept
/// following the point `m` at the weighted quantile, each residual
/// `e_i = (y_i − y_m) − a·(t_i − t_m)` changes at rate `t_m − t_i`, so
/// `f'(a) = Σ_{above m} w↑_i (t_m − t_i) + Σ_{below m} w↓_i (t_i − t_m)`.
fn profile_slope(points: &[QPoint], tau: f64, a: f64) -> f64 {
    let mut r: Vec<(f64, f64, f64, f64)> = points
        .iter()
        .map(|p| {
            let (up, down) = weights(p.side, tau);
            (p.y - a * p.t, up, down, p.t)
        })
        .collect();
    r.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut above: f64 = r.iter().map(|x| x.1).sum();
    let mut below = 0.0;
    let mut m = r.len() - 1;
    for (k, x) in r.iter().enumerate() {
        below += x.2;
        above -= x.1;
        if below >= above {
            m = k;
            break;
        }
    }
    let tm = r[m].3;
    let below: f64 = r[..m].iter().map(|x| x.2 * (x.3 - tm)).sum();
    let above: f64 = r[m + 1..].iter().map(|x| x.1 * (tm - x.3)).sum();
    below + above
}

/// The double halfway between `lo` and `hi` in the order of their bit
/// patterns, so that any interval closes in at most 64 halvings.
fn bit_mid(lo: f64, hi: f64) -> f64 {
    let key = |x: f64| {
        let b = x.to_bits() as i64;
        if b < 0 {
            b ^ i64::MAX
        } else {
            b
        }
    };
    let k = ((key(lo) as i128 + key(hi) as i128) / 2) as i64;
    f64::from_bits((if k < 0 { k ^ i64::MAX } else { k }) as u64)
}

/// Smallest and largest pairwise slope: for dates `t_1 < t_2 < t_3` the slope
/// of (1, 3) lies between those of (1, 2) and (2, 3), so both come from
/// consecutive dates (lowest value of the later against highest of the
/// earlier, and the reverse). `None` when every date is the same.
fn slope_range(points: &[QPoint]) -> Option<(f64, f64)> {
    let mut by_t: Vec<(f64, f64)> = points.iter().map(|p| (p.t, p.y)).collect();
    by_t.sort_by(|x, y| x.0.total_cmp(&y.0));
    // (date, lowest y, highest y) per date.
    let mut groups: Vec<(f64, f64, f64)> = Vec::new();
    for (t, y) in by_t {
        match groups.last_mut() {
            Some(g) if g.0 == t => (g.1, g.2) = (g.1.min(y), g.2.max(y)),
            _ => groups.push((t, y, y)),
        }
    }
    groups
        .windows(2)
        .map(|w| {
            let dt = w[1].0 - w[0].0;
            ((w[1].1 - w[0].2) / dt, (w[1].2 - w[0].1) / dt)
        })
        .reduce(|x, y| (x.0.min(y.0), x.1.max(y.1)))
}

/// [`quantile_line`] without listing every pair, in O(n log n) per step:
///
/// 1. Bisect the slope (by [`bit_mid`], at most 64 steps) on the sign of
///    [`profile_slope`] until the window `[lo, hi]` around the minimum holds at
///    most 8n pairwise slopes (counted as inversions, [`kinks::count`]).
/// 2. List the window's kinks ([`kinks::kinks_in`]), find its least loss `f*`
///    by binary search on the sign of `f′` between them, and return the
///    smallest kink with loss within rounding (`1e-10·max(f*, 1)`) of it.
/// 3. That is the global answer once no kink outside can tie or beat it: by
///    convexity, when `f(lo) > f* + tol` no kink left of `lo` can, and when
///    `f(hi) ≥ f*` none right of `hi` beats `f*`. Otherwise the window widens
///    on that side (fourfold) and is searched again; past 64·8n kinks (a tie
///    spread over a huge flat stretch) the pairwise listing finishes the job.
///
/// Same answer as [`quantile_line_pairs`], including `None`, except where
/// several vertices lie within rounding of the least loss (this one returns
/// the smallest), or where the listing's neighbour test stops early on two
/// nearly equal slopes (this one returns the vertex of least loss).
pub fn quantile_line_search(points: &[QPoint], tau: f64) -> Option<QuantileLine> {
    let (smin, smax) = slope_range(points)?;
    // Beyond the outermost kinks f is linear (as in the pairwise search).
    let span = smax - smin + 1.0;
    let (far_lo, far_hi) = (smin - span, smax + span);
    let f = |a: f64| profile(points, tau, a).1;
    let cap = window_cap(points.len());
    let scale = Scale::of(points);
    let (mut lo, mut hi) = (far_lo, far_hi);
    while count(points, lo, hi) > cap {
        let mid = bit_mid(lo, hi);
        if mid <= lo || mid >= hi {
            break;
        }
        // Toward the minimum; when that half holds no kink (f flat beyond the
        // outermost kinks, or rounding), toward the nearest kinks instead.
        let left = profile_slope(points, tau, mid) >= 0.0;
        let empty = if left {
            count(points, lo, mid) == 0
        } else {
            count(points, mid, hi) == 0
        };
        if left != empty {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    loop {
        if count(points, lo, hi) > 64 * cap {
            return quantile_line_pairs(points, tau);
        }
        let w = kinks_in(points, &scale, lo, hi);
        let mut widen = (w.is_empty(), w.is_empty());
        if !w.is_empty() {
            let i = least_kink(points, tau, &w);
            let best = f(w[i]);
            let thr = best + tol(best);
            widen = (lo > far_lo && f(lo) <= thr, hi < far_hi && f(hi) < best);
            if !widen.0 && !widen.1 {
                if f(far_lo) <= thr {
                    // The tie runs to every smaller slope: no smallest one.
                    return None;
                }
                let a = w[smallest_tied(&w, i, thr, f)];
                return Some(QuantileLine {
                    a,
                    b: profile(points, tau, a).0,
                });
            }
        }
        let width = hi - lo;
        if widen.0 {
            lo = (lo - 4.0 * width).max(far_lo);
        }
        if widen.1 {
            hi = (hi + 4.0 * width).min(far_hi);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The search's rule by brute force: every pairwise slope, its profiled
    /// loss, and the smallest slope within rounding of the least loss.
    fn smallest_tied_kink(points: &[QPoint], tau: f64) -> Option<f64> {
        let mut slopes = Vec::new();
        for (i, p) in points.iter().enumerate() {
            for q in &points[i + 1..] {
                if p.t != q.t {
                    slopes.push((q.y - p.y) / (q.t - p.t));
                }
            }
        }
        slopes.sort_by(f64::total_cmp);
        slopes.dedup();
        let f: Vec<f64> = slopes.iter().map(|&a| profile(points, tau, a).1).collect();
        let best = f.iter().copied().fold(f64::INFINITY, f64::min);
        let k = f.iter().position(|&v| v <= best + tol(best))?;
        Some(slopes[k])
    }

    #[test]
    fn search_returns_the_smallest_kink_within_rounding_of_the_least_loss() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        for case in 0..120 {
            let n = rng.random_range(20..160);
            let grid = case % 4 == 3;
            let points: Vec<QPoint> = (0..n)
                .map(|_| {
                    let t = rng.random_range(0..10) as f64 * 45.0;
                    // Grid values give exact ties between vertices.
                    let e = if grid {
                        rng.random_range(-2..3) as f64 * 0.5
                    } else {
                        rng.random_range(-1.0..1.0)
                    };
                    let side = match rng.random_range(0..10) {
                        0 => Side::AtLeast,
                        1 => Side::AtMost,
                        _ => Side::Exact,
                    };
                    QPoint {
                        t,
                        y: 0.003 * t + e,
                        side,
                    }
                })
                .collect();
            let tau = [0.5, 0.9, 0.25][case % 3];
            let want = smallest_tied_kink(&points, tau).expect("exact points pin a line");
            let got = quantile_line_search(&points, tau).expect("a line");
            assert_eq!(got.a, want, "case {case}");
            assert_eq!(got.b, profile(&points, tau, want).0, "case {case}");
        }
    }

    #[test]
    fn bisection_midpoint_halves_the_doubles_between() {
        assert_eq!(bit_mid(1.0, 4.0), 2.0);
        let (lo, hi) = (-3.0, 1e-300);
        let m = bit_mid(lo, hi);
        assert!(lo < m && m < hi);
        let next = f64::from_bits(1.0f64.to_bits() + 1);
        assert!(bit_mid(1.0, next) == 1.0 || bit_mid(1.0, next) == next);
    }
}
