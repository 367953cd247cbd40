//! The trend's statistics: the exact quantile-regression solver against brute
//! force, censoring that keeps information, the permutation test's size and
//! power, and a small simulation in which the envelope estimator fails the
//! false-positive property that the default estimator passes.

use densing_core::density::Bounded;
use densing_core::trend::quantile::{check_loss, quantile_line, QuantileLine};
use densing_core::trend::simulate::{simulate, SimConfig, SimDesign, SimModel};
use densing_core::trend::{fit_trend, Estimator, EstimatorKind, Obs, TrendConfig, TrendPoint};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The minimum check loss over every line through two data points (the LP's vertices).
fn brute_force(t: &[f64], y: &[f64], tau: f64) -> f64 {
    let mut best = f64::INFINITY;
    for i in 0..t.len() {
        for j in 0..t.len() {
            if t[i] != t[j] {
                let a = (y[j] - y[i]) / (t[j] - t[i]);
                let line = QuantileLine {
                    a,
                    b: y[i] - a * t[i],
                };
                best = best.min(check_loss(t, y, tau, line));
            }
        }
    }
    best
}

#[test]
fn quantile_line_reaches_the_lp_optimum() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for case in 0..200 {
        let n = rng.random_range(3..25);
        // Integer days with ties, as release dates have.
        let t: Vec<f64> = (0..n)
            .map(|_| rng.random_range(0..12) as f64 * 60.0)
            .collect();
        let y: Vec<f64> = t
            .iter()
            .map(|t| 0.004 * t + rng.random_range(-1.0..1.0))
            .collect();
        let tau = [0.1, 0.5, 0.9, 0.75][case % 4];
        let Some(q) = quantile_line(&t, &y, 0, 0, tau) else {
            assert!(t.iter().all(|x| *x == t[0]), "case {case}: no fit");
            continue;
        };
        let got = check_loss(&t, &y, tau, q);
        let want = brute_force(&t, &y, tau);
        assert!(
            (got - want).abs() <= 1e-9 * want.max(1.0),
            "case {case}: {got} vs {want}"
        );
    }
}

#[test]
fn quantile_line_by_hand() {
    // Five points on y = 2t + 1 and one far above: every quantile up to 5/6 is the line.
    let t = [0.0, 1.0, 2.0, 3.0, 4.0, 2.5];
    let y = [1.0, 3.0, 5.0, 7.0, 9.0, 100.0];
    for tau in [0.2, 0.5, 0.8] {
        let q = quantile_line(&t, &y, 0, 0, tau).unwrap();
        assert!(
            (q.a - 2.0).abs() < 1e-12 && (q.b - 1.0).abs() < 1e-12,
            "τ={tau}: {q:?}"
        );
    }
    // Points at +∞ move the intercept's rank: with 2 of 7 at +∞ the median is
    // the 4th smallest finite residual, still on the line.
    let q = quantile_line(&t[..5], &y[..5], 2, 0, 0.5).unwrap();
    assert!((q.a - 2.0).abs() < 1e-12, "{q:?}");
    // Too many points at +∞ push the 0.9-quantile to infinity: no line.
    assert!(quantile_line(&t[..5], &y[..5], 2, 0, 0.9).is_none());
}

fn noisy_points(a: f64, n: usize, seed: u64) -> Vec<TrendPoint> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let t = rng.random_range(0..900) as f64;
            TrendPoint {
                name: format!("m{i}"),
                family: format!("f{i}"),
                t,
                ln_rho: Bounded::Value(a * t + rng.random_range(-1.5..1.5)),
                ln_rho_replicates: Vec::new(),
            }
        })
        .collect()
}

#[test]
fn censored_bounds_above_the_line_are_as_good_as_their_values() {
    let tau = 0.9;
    let points = noisy_points(0.003, 60, 8);
    let exact: Vec<Obs> = points
        .iter()
        .map(|p| Obs {
            t: p.t,
            y: p.ln_rho,
        })
        .collect();
    let truth = EstimatorKind::Quantile { tau }.fit(&exact).unwrap();
    // Censor every point well above the line at a bound still above the line.
    let mut censored = exact.clone();
    let mut n = 0;
    for o in &mut censored {
        let v = o.y.value().unwrap();
        if v > truth.at(o.t) + 0.3 {
            o.y = Bounded::AtLeast(truth.at(o.t) + 0.1);
            n += 1;
        }
    }
    assert!(n >= 3, "only {n} censored");
    let cq = EstimatorKind::CensoredQuantile { tau }
        .fit(&censored)
        .unwrap();
    assert!((cq.a - truth.a).abs() < 1e-12 && (cq.b - truth.b).abs() < 1e-12);
    // Dropping them instead biases the frontier down.
    let dropped = EstimatorKind::Quantile { tau }.fit(&censored).unwrap();
    assert!(
        dropped.at(450.0) < truth.at(450.0) - 0.05,
        "{dropped:?} vs {truth:?}"
    );
}

#[test]
fn permutation_test_separates_trend_from_noise() {
    let cfg = |estimator| TrendConfig {
        estimator,
        replicates: 200,
        permutations: 999,
        seed: 1,
    };
    for est in EstimatorKind::all(0.9) {
        let trend = fit_trend(&noisy_points(0.004, 50, 2), &cfg(est), &|| {}).unwrap();
        assert!(
            trend.p_value.unwrap() < 0.01,
            "{}: p = {:?}",
            est.label(),
            trend.p_value
        );
        assert_eq!(trend.permutations, 999);
        let [lo, hi] = trend.a_ci95.unwrap();
        assert!(lo < trend.a && trend.a < hi);
        // The same seed gives the same numbers.
        let again = fit_trend(&noisy_points(0.004, 50, 2), &cfg(est), &|| {}).unwrap();
        assert_eq!((trend.p_value, trend.a_ci95), (again.p_value, again.a_ci95));
    }
    // On pure noise the envelope's slope is positive, yet the test is not fooled.
    let noise = fit_trend(
        &noisy_points(0.0, 50, 4),
        &cfg(EstimatorKind::Envelope),
        &|| {},
    )
    .unwrap();
    assert!(noise.a > 0.0);
    assert!(noise.p_value.unwrap() > 0.05, "p = {:?}", noise.p_value);
}
