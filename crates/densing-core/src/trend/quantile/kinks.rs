//! The pairwise slopes `(y_j − y_i)/(t_j − t_i)` (the kinks of the profiled
//! loss) inside a slope interval, counted and listed without forming all n²/2.
//!
//! Sort the points by residual `y − a·t` at two slopes `lo < hi`: the pair
//! (i, j), `t_i < t_j`, is in residual order i before j while `a` is below its
//! slope and j before i above it, so the pairs whose slope lies in `(lo, hi)`
//! are exactly the inversions between the two orders: counted by merge sort in
//! O(n log n), listed in O(n log n + count).

use super::QPoint;

/// Point indices in residual order at slope `a`; ties (equal computed
/// residuals) by date, then value, then index, so that a pair of equal dates
/// never swaps and a pair tied at `a` reads as not yet crossed.
fn order(points: &[QPoint], a: f64) -> Vec<u32> {
    let r: Vec<f64> = points.iter().map(|p| p.y - a * p.t).collect();
    let mut idx: Vec<u32> = (0..points.len() as u32).collect();
    idx.sort_unstable_by(|&i, &j| {
        let (i, j) = (i as usize, j as usize);
        r[i].total_cmp(&r[j])
            .then(points[i].t.total_cmp(&points[j].t))
            .then(points[i].y.total_cmp(&points[j].y))
            .then(i.cmp(&j))
    });
    idx
}

/// Inversions of `seq` (its pairs out of order) by merge sort; with `pairs`,
/// also the positions (in `seq`'s order, as values) of every inverted pair.
fn inversions(mut seq: Vec<u32>, mut pairs: Option<&mut Vec<(u32, u32)>>) -> u64 {
    let n = seq.len();
    let mut buf = vec![0u32; n];
    let mut count = 0u64;
    let mut width = 1;
    while width < n {
        for start in (0..n).step_by(2 * width) {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut i, mut j, mut k) = (start, mid, start);
            while i < mid && j < end {
                if seq[i] <= seq[j] {
                    buf[k] = seq[i];
                    i += 1;
                } else {
                    // seq[j] is smaller than every seq[i..mid].
                    count += (mid - i) as u64;
                    if let Some(out) = pairs.as_deref_mut() {
                        out.extend(seq[i..mid].iter().map(|&x| (x, seq[j])));
                    }
                    buf[k] = seq[j];
                    j += 1;
                }
                k += 1;
            }
            buf[k..k + mid - i].copy_from_slice(&seq[i..mid]);
            let k = k + mid - i;
            buf[k..k + end - j].copy_from_slice(&seq[j..end]);
        }
        std::mem::swap(&mut seq, &mut buf);
        width *= 2;
    }
    count
}

/// The order at `hi` written as positions in the order at `lo`: each inversion
/// of it is a pair that swapped between `lo` and `hi`.
fn swaps(points: &[QPoint], lo: f64, hi: f64) -> (Vec<u32>, Vec<u32>) {
    let at_lo = order(points, lo);
    let mut pos = vec![0u32; points.len()];
    for (k, &i) in at_lo.iter().enumerate() {
        pos[i as usize] = k as u32;
    }
    let seq = order(points, hi).iter().map(|&i| pos[i as usize]).collect();
    (at_lo, seq)
}

/// About how many pairwise slopes lie between `lo` and `hi` (exact but for
/// slopes within rounding of either end), in O(n log n).
pub fn count(points: &[QPoint], lo: f64, hi: f64) -> u64 {
    inversions(swaps(points, lo, hi).1, None)
}

/// Scales that bound the rounding of residual comparisons.
pub struct Scale {
    /// Largest |y| and |t|.
    y: f64,
    t: f64,
    /// Smallest gap between two distinct dates.
    dt: f64,
}

impl Scale {
    pub fn of(points: &[QPoint]) -> Scale {
        let mut t: Vec<f64> = points.iter().map(|p| p.t).collect();
        t.sort_by(f64::total_cmp);
        let dt = t
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0.0)
            .fold(f64::INFINITY, f64::min);
        Scale {
            y: points.iter().map(|p| p.y.abs()).fold(0.0, f64::max),
            t: t.iter().map(|t| t.abs()).fold(0.0, f64::max),
            dt,
        }
    }

    /// A widening of `[lo, hi]` beyond which residual orders are exact for
    /// every pair whose computed slope lies in `[lo, hi]`: a residual
    /// `y − a·t` is off by at most ε(|y| + 2|a·t|), the computed slope by
    /// 2ε|slope|, and a pair's residuals differ by `(t_j − t_i)(slope − a)`.
    fn margin(&self, lo: f64, hi: f64) -> f64 {
        let a = lo.abs().max(hi.abs());
        16.0 * f64::EPSILON * (a + (self.y + 2.0 * a * self.t) / self.dt) + f64::MIN_POSITIVE
    }
}

/// The distinct computed slopes `(y_j − y_i)/(t_j − t_i)` in `[lo, hi]`,
/// sorted, exactly as the pairwise listing computes them: the pairs that swap
/// between slightly wider ends, each slope recomputed and kept if inside.
pub fn kinks_in(points: &[QPoint], scale: &Scale, lo: f64, hi: f64) -> Vec<f64> {
    let m = scale.margin(lo, hi);
    let (at_lo, seq) = swaps(points, lo - m, hi + m);
    let mut pairs = Vec::new();
    inversions(seq, Some(&mut pairs));
    let mut slopes: Vec<f64> = pairs
        .into_iter()
        .filter_map(|(x, y)| {
            let (p, q) = (
                &points[at_lo[x as usize] as usize],
                &points[at_lo[y as usize] as usize],
            );
            let s = (q.y - p.y) / (q.t - p.t);
            (p.t != q.t && lo <= s && s <= hi).then_some(s)
        })
        .collect();
    slopes.sort_by(f64::total_cmp);
    slopes.dedup();
    slopes
}

#[cfg(test)]
mod tests {
    use super::super::Side;
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn counts_and_lists_match_the_pairwise_slopes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for case in 0..200 {
            let n = rng.random_range(2..60);
            let points: Vec<QPoint> = (0..n)
                .map(|_| QPoint {
                    t: rng.random_range(0..8) as f64 * 30.0,
                    // Some values on a grid, so that slopes repeat exactly.
                    y: if case % 2 == 0 {
                        rng.random_range(-1.0..1.0)
                    } else {
                        rng.random_range(-3..4) as f64
                    },
                    side: Side::Exact,
                })
                .collect();
            let mut all: Vec<f64> = Vec::new();
            for (i, p) in points.iter().enumerate() {
                for q in &points[i + 1..] {
                    if p.t != q.t {
                        all.push((q.y - p.y) / (q.t - p.t));
                    }
                }
            }
            let scale = Scale::of(&points);
            let (lo, hi) = (rng.random_range(-0.05..0.0), rng.random_range(0.0..0.05));
            let mut want: Vec<f64> = all
                .iter()
                .copied()
                .filter(|s| lo <= *s && *s <= hi)
                .collect();
            let strictly = all.iter().filter(|s| lo < **s && **s < hi).count() as u64;
            want.sort_by(f64::total_cmp);
            want.dedup();
            assert_eq!(kinks_in(&points, &scale, lo, hi), want, "case {case}");
            let c = count(&points, lo, hi);
            let closed = all.iter().filter(|s| lo <= **s && **s <= hi).count() as u64;
            assert!(
                strictly <= c && c <= closed,
                "case {case}: {strictly} ≤ {c} ≤ {closed}"
            );
        }
    }
}
