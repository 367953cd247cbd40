//! Capability density on the bundled registry: invariances, censoring at both
//! ends, and the two-step calibration's round trip.

use densing_core::calibration::{Calibration, Curve, Uncertainty};
use densing_core::data::{AnchorPoint, LadderPoint};
use densing_core::density::{model_density, Bounded, DensityOptions};
use densing_core::law::{Inverse, LossForm, LossLaw, ScoreMap};
use densing_core::registry::{Benchmark, ParamsBasis, Registry, BUNDLED_CSV};
use densing_core::study::study;
use densing_core::table::Table;
use densing_core::trend::{EstimatorKind, TrendConfig};

/// The paper's estimator (these tests are about densities and the envelope), no permutation test.
fn trend_cfg(replicates: usize, seed: u64) -> TrendConfig {
    TrendConfig {
        estimator: EstimatorKind::Envelope,
        replicates,
        permutations: 0,
        seed,
    }
}

const UNC: Uncertainty = Uncertainty {
    replicates: 200,
    seed: 11,
};

/// The bundled registry with the Qwen2.5 rows copied as a separate family "Ref"
/// whose parameter counts are multiplied by `k` (the copy is the reference; the
/// originals stay ordinary models).
fn registry_with_reference(k: f64) -> Registry {
    let mut text = BUNDLED_CSV.to_string();
    for line in BUNDLED_CSV.lines().filter(|l| l.starts_with("Qwen2.5-")) {
        let mut f: Vec<String> = line.splitn(7, ',').map(String::from).collect();
        f[0] = format!("Ref-{}", f[0]);
        f[1] = "Ref".into();
        f[3] = (f[3].parse::<f64>().unwrap() * k).to_string();
        f[4] = (f[4].parse::<f64>().unwrap() * k).to_string();
        text += &(f.join(",") + "\n");
    }
    Registry::parse("test registry", &text).unwrap()
}

#[test]
fn scaling_the_reference_scales_every_density_and_keeps_the_slope() {
    let opts = DensityOptions::default();
    let base = registry_with_reference(1.0);
    let scaled = registry_with_reference(3.0);
    let c1 = Calibration::family(&base, "Ref", ParamsBasis::Nonemb, UNC).unwrap();
    let c3 = Calibration::family(&scaled, "Ref", ParamsBasis::Nonemb, UNC).unwrap();
    let s1 = study(&base, &c1, &opts, &trend_cfg(200, 5), &|| {}).unwrap();
    let s3 = study(&scaled, &c3, &opts, &trend_cfg(200, 5), &|| {}).unwrap();
    let mut compared = 0;
    for (a, b) in s1
        .densities
        .iter()
        .zip(&s3.densities)
        .filter(|(a, _)| a.family != "Ref")
    {
        if let (Some(x), Some(y)) = (a.rho.value(), b.rho.value()) {
            // A reference that needs 3× the parameters for every score makes
            // every other model 3× as dense.
            assert!((y / x / 3.0 - 1.0).abs() < 1e-4, "{}: {x} → {y}", a.name);
            compared += 1;
        }
    }
    assert!(compared > 40, "only {compared} models compared");
    assert!(
        (s1.trend.a - s3.trend.a).abs() < 1e-7 * s1.trend.a.abs().max(1e-3),
        "A {} vs {}",
        s1.trend.a,
        s3.trend.a
    );
    assert_eq!(s1.trend.envelope, s3.trend.envelope);
}

#[test]
fn a_dominated_model_changes_nothing_on_the_envelope() {
    let reg = Registry::bundled().unwrap();
    let cal = Calibration::family(&reg, "Qwen2.5", ParamsBasis::Nonemb, UNC).unwrap();
    let opts = DensityOptions::default();
    let before = study(&reg, &cal, &opts, &trend_cfg(0, 1), &|| {}).unwrap();
    // A late, weak, large model: far below the running maximum.
    let header = BUNDLED_CSV.lines().find(|l| !l.starts_with('#')).unwrap();
    let text =
        format!("{header}\nWeak-70B,Weak,base,70,,,2,2025-01-01,40,30,5,10,20,,no,test,test\n");
    let mut reg2 = reg.clone();
    reg2.layer(&Table::parse("test rows", &text).unwrap())
        .unwrap();
    let after = study(&reg2, &cal, &opts, &trend_cfg(0, 1), &|| {}).unwrap();
    assert!(after
        .densities
        .iter()
        .any(|d| d.name == "Weak-70B" && d.in_trend));
    assert_eq!(before.trend.envelope, after.trend.envelope);
    assert_eq!(before.trend.a, after.trend.a);
    assert_eq!(before.trend.b, after.trend.b);
    assert_eq!(after.trend.n_points, before.trend.n_points + 1);
}

#[test]
fn censoring_at_both_ends_gives_bounds_never_nan() {
    let reg = Registry::bundled().unwrap();
    let cal = Calibration::family(&reg, "Qwen2.5", ParamsBasis::Nonemb, UNC).unwrap();
    let opts = DensityOptions::default();
    let text = format!(
        "{BUNDLED_CSV}Chance-1B,X,base,1,,,1,2025-01-01,20,0,0,0,0,,no,test,test\nOracle-1B,X,base,1,,,1,2025-01-01,99.9,99.9,99.9,99.9,99.9,,no,test,test\n"
    );
    let reg2 = Registry::parse("test registry", &text).unwrap();
    let (lo, hi) = cal.support;
    let chance = model_density(reg2.get("Chance-1B").unwrap(), &cal, &opts);
    assert!(
        matches!(chance.rho, Bounded::AtMost(b) if (b / lo - 1.0).abs() < 1e-12),
        "{:?}",
        chance.rho
    );
    assert!(chance.rho_ci95.is_none() && chance.in_trend);
    let oracle = model_density(reg2.get("Oracle-1B").unwrap(), &cal, &opts);
    assert!(
        matches!(oracle.rho, Bounded::AtLeast(b) if (b / hi - 1.0).abs() < 1e-12),
        "{:?}",
        oracle.rho
    );
    // A model known only as ρ > bound still enters the trend, as a bound.
    assert!(oracle.in_trend);
    let with_bounds = study(&reg2, &cal, &opts, &trend_cfg(0, 1), &|| {}).unwrap();
    // Same reader as reg2 (models.csv alone, without the long scores table).
    let parsed = Registry::parse("test registry", BUNDLED_CSV).unwrap();
    let plain = study(&parsed, &cal, &opts, &trend_cfg(0, 1), &|| {}).unwrap();
    assert_eq!(with_bounds.trend.n_censored, plain.trend.n_censored + 2);
    for d in study(&reg2, &cal, &opts, &trend_cfg(50, 1), &|| {})
        .unwrap()
        .densities
    {
        for v in [
            d.rho.bound_or_value(),
            d.n_hat.bound_or_value(),
            d.rho_mean_score.bound_or_value(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(v.is_finite() && v > 0.0, "{}: {v}", d.name);
        }
        if let Some([a, b]) = d.rho_ci95 {
            assert!(
                a.is_finite() && b.is_finite() && a <= b,
                "{}: CI [{a}, {b}]",
                d.name
            );
        }
    }
}

#[test]
fn two_step_calibration_round_trips_score_to_n_hat_to_score() {
    let law = LossLaw {
        form: LossForm::Paper,
        e: 0.0,
        a: 12.0,
        alpha: 0.3,
        b: 25.0,
        beta: 0.3,
    };
    let map = ScoreMap {
        c: -0.65,
        gamma: 3.0,
        l: 2.0,
        d: 0.9,
    };
    let mut ladder = Vec::new();
    for (i, n) in [5e6, 1.2e7, 3e7, 8e7, 2e8, 4e8, 8e8]
        .into_iter()
        .enumerate()
    {
        for k in [10.0, 15.0, 20.0, 30.0, 40.0, 60.0] {
            ladder.push(LadderPoint {
                params: n,
                tokens: k * n,
                loss: law.loss(n, k * n),
                run: format!("r{i}"),
                task: None,
                score: None,
                step: None,
                line: 0,
            });
        }
    }
    let anchors: Vec<AnchorPoint> = (0..15)
        .map(|i| {
            let loss = 1.0 + 0.15 * i as f64;
            AnchorPoint {
                loss,
                score: map.score(loss),
                model: Some(format!("a{i}")),
                task: Some("mmlu".into()),
                heldout: false,
                line: 0,
            }
        })
        .collect();
    let cal = Calibration::two_step(&ladder, &anchors, LossForm::Paper, 1e12, None, UNC).unwrap();
    let curve: &Curve = cal.curve(Benchmark::parse("mmlu").unwrap(), None).unwrap();
    for n in [0.1, 0.5, 2.0, 10.0, 70.0] {
        let s = curve.score(n);
        match curve.invert(s) {
            Inverse::Value(back) => {
                assert!((back / n - 1.0).abs() < 1e-6, "{n}B → S={s} → {back}B");
                assert!((curve.score(back) - s).abs() < 1e-9);
            }
            other => panic!("{n}B → S={s} → {other:?}"),
        }
        // The fitted composite agrees with the generating laws.
        let truth = map.score(law.loss(n * 1e9, 1e12));
        assert!(
            (s - truth).abs() < 2e-3,
            "{n}B: fitted S {s} vs true {truth}"
        );
    }
    assert_eq!(curve.invert(0.95), Inverse::AboveRange);
    assert!(cal.description.contains("two-step"));
}

#[test]
fn a_score_whose_source_states_no_shots_is_flagged() {
    let reg = Registry::bundled().unwrap();
    let opts = DensityOptions::default();
    let cal = Calibration::family_on(&reg, "Qwen2.5", opts.basis, &opts.benchmarks, UNC).unwrap();
    let hunyuan = reg
        .models
        .iter()
        .find(|m| m.name == "Hunyuan-1.8B-Pretrain")
        .expect("bundled row");
    assert_eq!(
        hunyuan.scores[&Benchmark::parse("mmlu").unwrap()].shots,
        None
    );
    let d = model_density(hunyuan, &cal, &opts);
    assert!(
        d.flags
            .iter()
            .any(|f| f == "mmlu shots not stated (standard 5-shot)"),
        "{:?}",
        d.flags
    );
    let qwen = reg.models.iter().find(|m| m.name == "Qwen2.5-7B").unwrap();
    let d = model_density(qwen, &cal, &opts);
    assert!(
        !d.flags.iter().any(|f| f.contains("not stated")),
        "{:?}",
        d.flags
    );
}
