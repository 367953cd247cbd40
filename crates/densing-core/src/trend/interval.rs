//! Bias-corrected and accelerated (BCa) bootstrap intervals (Efron 1987;
//! Efron & Tibshirani 1993, §14.3).
//!
//! The percentile interval of the censored-quantile slope is off-centre: on the
//! bundled registry most resampled slopes exceed the point estimate, so the
//! estimate can sit at the edge of its own interval. BCa moves the percentiles
//! by the bias correction `z₀ = Φ⁻¹(share of replicates below the estimate)`
//! and the acceleration `â = Σ dᵢ³ / (6 (Σ dᵢ²)^{3/2})`, `dᵢ = θ̄₍·₎ − θ₍ᵢ₎`
//! from the leave-one-family-out jackknife:
//! `α₁ = Φ(z₀ + (z₀ + z_{α/2}) / (1 − â(z₀ + z_{α/2})))`, likewise `α₂` with
//! `z_{1−α/2}`. It is transformation-respecting, so the doubling time's
//! interval is the slope's mapped through ln 2 / A. Its coverage is measured
//! in [`super::simulate`]; on the real design it covered less than the
//! percentile interval and the inverted test (the jackknife misjudges a
//! quantile-regression slope), so trends report it beside them, for comparison.

use crate::bootstrap::quantile;

/// Standard normal CDF, `Φ(x) = erfc(−x/√2)/2`.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile `Φ⁻¹(p)` for `0 < p < 1`, by bisection on
/// [`normal_cdf`] to full double precision (a hundred evaluations: this runs a
/// few times per interval, never in a loop over replicates).
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0, 40.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// BCa interval at `level` for `estimate` from its bootstrap replicates and its
/// jackknife values. `None` when the bias correction is infinite (every
/// replicate on one side of the estimate) or there are too few replicates.
pub fn bca_interval(
    estimate: f64,
    boot: &[f64],
    jackknife: &[f64],
    level: f64,
) -> Option<[f64; 2]> {
    if boot.len() < 20 {
        return None;
    }
    let below = boot.iter().filter(|&&x| x < estimate).count() as f64;
    let ties = boot.iter().filter(|&&x| x == estimate).count() as f64;
    let share = (below + 0.5 * ties) / boot.len() as f64;
    if share <= 0.0 || share >= 1.0 {
        return None;
    }
    let z0 = normal_quantile(share);
    let acc = acceleration(jackknife);
    let mut sorted = boot.to_vec();
    sorted.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    let end = |q: f64| {
        let z = normal_quantile(q);
        quantile(&sorted, normal_cdf(z0 + (z0 + z) / (1.0 - acc * (z0 + z))))
    };
    Some([end(tail), end(1.0 - tail)])
}

/// The jackknife acceleration `Σ d³ / (6 (Σ d²)^{3/2})` (0 when the values agree).
pub fn acceleration(jackknife: &[f64]) -> f64 {
    if jackknife.len() < 3 {
        return 0.0;
    }
    let mean = jackknife.iter().sum::<f64>() / jackknife.len() as f64;
    let (s2, s3) = jackknife.iter().fold((0.0, 0.0), |(s2, s3), x| {
        let d = mean - x;
        (s2 + d * d, s3 + d * d * d)
    });
    if s2 > 0.0 {
        s3 / (6.0 * s2.powf(1.5))
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_inverts_the_cdf_at_known_points() {
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-9);
        assert!((normal_cdf(1.0) - 0.8413447460685429).abs() < 1e-12);
        assert!(normal_quantile(0.5).abs() < 1e-12);
    }

    #[test]
    fn symmetric_replicates_give_the_percentile_interval() {
        // Replicates symmetric about the estimate, no skew: z₀ = 0, â = 0.
        let boot: Vec<f64> = (0..=1000).map(|i| i as f64 / 1000.0 - 0.5).collect();
        let jk = [-0.1, 0.0, 0.1];
        let [lo, hi] = bca_interval(0.0, &boot, &jk, 0.95).unwrap();
        assert!(
            (lo + 0.475).abs() < 1e-6 && (hi - 0.475).abs() < 1e-6,
            "{lo} {hi}"
        );
        // Replicates mostly above the estimate: the interval moves down.
        let shifted: Vec<f64> = boot.iter().map(|x| x + 0.2).collect();
        let [lo2, hi2] = bca_interval(0.0, &shifted, &jk, 0.95).unwrap();
        assert!(lo2 < lo + 0.2 && hi2 < hi + 0.2 && lo2 < 0.0 && hi2 > 0.0);
    }
}
