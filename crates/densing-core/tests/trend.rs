//! The trend's statistics: the exact quantile-regression solver against brute
//! force, censoring that keeps information, the permutation test's size and
//! power, and a small simulation in which the envelope estimator fails the
//! false-positive property that the default estimator passes.

use densing_core::calibration::{Calibration, Uncertainty};
use densing_core::density::Bounded;
use densing_core::density::DensityOptions;
use densing_core::registry::{ParamsBasis, Registry};
use densing_core::study::{densities, sim_design};
use densing_core::trend::quantile::{check_loss, quantile_line, QuantileLine};
use densing_core::trend::simulate::{simulate, SimConfig, SimRow};
use densing_core::trend::{fit_trend, Estimator, EstimatorKind, Obs, TrendConfig, TrendPoint};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Check loss of a line with extra points at +∞ at the times `up` (their
/// residuals are positive: each adds −τ·(a·t + b) up to a constant).
fn loss(t: &[f64], y: &[f64], up: &[f64], tau: f64, line: QuantileLine) -> f64 {
    check_loss(t, y, tau, line) - tau * up.iter().map(|u| line.a * u + line.b).sum::<f64>()
}

/// The minimum loss over every line through two data points (the LP's vertices).
fn brute_force(t: &[f64], y: &[f64], up: &[f64], tau: f64) -> f64 {
    let mut best = f64::INFINITY;
    for i in 0..t.len() {
        for j in 0..t.len() {
            if t[i] != t[j] {
                let a = (y[j] - y[i]) / (t[j] - t[i]);
                let line = QuantileLine {
                    a,
                    b: y[i] - a * t[i],
                };
                best = best.min(loss(t, y, up, tau, line));
            }
        }
    }
    best
}

#[test]
fn quantile_line_reaches_the_lp_optimum() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut unbounded = 0;
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
        // Every third case adds points known to lie above every line.
        let up: Vec<f64> = (0..[0, 0, 2][case % 3])
            .map(|_| rng.random_range(0..12) as f64 * 60.0)
            .collect();
        let Some(q) = quantile_line(&t, &y, &up, &[], tau) else {
            // No optimum: all dates equal, or the points at +∞ tilt the line
            // without bound (then some steep line beats every vertex).
            let k = (tau * (n + up.len()) as f64).ceil() as usize;
            let steep = |a: f64| {
                let mut r: Vec<f64> = t.iter().zip(&y).map(|(t, y)| y - a * t).collect();
                r.sort_by(f64::total_cmp);
                loss(
                    &t,
                    &y,
                    &up,
                    tau,
                    QuantileLine {
                        a,
                        b: r[k.clamp(1, n) - 1],
                    },
                )
            };
            let vertex = brute_force(&t, &y, &up, tau);
            assert!(
                t.iter().all(|x| *x == t[0])
                    || k > n
                    || steep(1e3) < vertex
                    || steep(-1e3) < vertex,
                "case {case}: no fit"
            );
            unbounded += 1;
            continue;
        };
        let got = loss(&t, &y, &up, tau, q);
        let want = brute_force(&t, &y, &up, tau);
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "case {case}: {got} vs {want}"
        );
    }
    assert!(unbounded < 30, "{unbounded} of 200 cases had no optimum");
}

#[test]
fn quantile_line_by_hand() {
    // Five points on y = 2t + 1 and one far above: the line is the unique optimum
    // for quantiles well below 5/6 (at τ = 0.8 a steep line through the outlier ties).
    let t = [0.0, 1.0, 2.0, 3.0, 4.0, 2.5];
    let y = [1.0, 3.0, 5.0, 7.0, 9.0, 100.0];
    for tau in [0.2, 0.5, 0.7] {
        let q = quantile_line(&t, &y, &[], &[], tau).unwrap();
        assert!(
            (q.a - 2.0).abs() < 1e-12 && (q.b - 1.0).abs() < 1e-12,
            "τ={tau}: {q:?}"
        );
    }
    // Points at +∞ move the intercept's rank: with 2 of 7 at +∞ the median is
    // the 4th smallest finite residual, still on the line.
    let q = quantile_line(&t[..5], &y[..5], &[1.0, 3.0], &[], 0.5).unwrap();
    assert!((q.a - 2.0).abs() < 1e-12, "{q:?}");
    // Too many points at +∞ push the 0.9-quantile to infinity: no line.
    assert!(quantile_line(&t[..5], &y[..5], &[1.0, 3.0], &[], 0.9).is_none());
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
    // Censor every point above the line at a bound halfway between it and the line.
    let mut censored = exact.clone();
    let mut n = 0;
    for o in &mut censored {
        let (v, q) = (o.y.value().unwrap(), truth.at(o.t));
        if v > q + 1e-6 {
            o.y = Bounded::AtLeast(q + 0.5 * (v - q));
            n += 1;
        }
    }
    assert!(n >= 3, "only {n} censored");
    let cq = EstimatorKind::CensoredQuantile { tau }
        .fit(&censored)
        .unwrap();
    assert!(
        (cq.a - truth.a).abs() < 1e-12 && (cq.b - truth.b).abs() < 1e-12,
        "{cq:?} vs {truth:?}, {n} censored"
    );
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
    let frontier = [
        EstimatorKind::CensoredQuantile { tau: 0.9 },
        EstimatorKind::Quantile { tau: 0.9 },
    ];
    for est in frontier {
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

/// The false-positive property: on registries with no trend, an estimator
/// claims growth — permutation p < 0.05, or a 95% interval entirely above
/// zero — in at most 15% of them (the goal is ≤ 7%; 15% leaves room for the
/// noise of 60 registries: at a true 5%, exceeding 9 of 60 has probability < 0.2%).
fn claims_growth_rarely(row: &SimRow) -> bool {
    row.rejection_rate <= 0.15 && row.ci_above_zero <= 0.15
}

#[test]
fn without_a_trend_the_default_estimator_rarely_claims_one_and_the_envelope_does() {
    let reg = Registry::bundled().unwrap();
    let unc = Uncertainty {
        replicates: 0,
        seed: 1,
    };
    let cal = Calibration::family(&reg, "Qwen2.5", ParamsBasis::Nonemb, unc).unwrap();
    let design = sim_design(&densities(&reg, &cal, &DensityOptions::default()), &cal).unwrap();
    let cfg = SimConfig {
        slope: 0.0,
        registries: 60,
        replicates: 100,
        permutations: 99,
        seed: 7,
    };
    let default = EstimatorKind::CensoredQuantile { tau: 0.9 };
    let rows = simulate(&design, &[default, EstimatorKind::Envelope], &cfg, &|| {});
    assert!(claims_growth_rarely(&rows[0]), "{:?}", rows[0]);
    assert!(rows[0].coverage >= 0.85, "{:?}", rows[0]);
    // The paper's estimator fails it: its slope rises by construction, and so
    // does its bootstrap interval.
    assert!(!claims_growth_rarely(&rows[1]), "{:?}", rows[1]);
    assert!(
        rows[1].ci_above_zero > 0.5 && rows[1].bias > 0.0,
        "{:?}",
        rows[1]
    );
}
