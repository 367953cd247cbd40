//! Regression anchor: Epoch AI's 245 Chinchilla points (DESIGN.md §3).

use densing_core::bootstrap::{bootstrap, BootstrapConfig};
use densing_core::data::{read_ladder, LadderPoint};
use densing_core::fit::{fit, GridPolish, Problem};
use densing_core::law::{LossForm, LossLaw};
use densing_core::loss::LossProblem;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

fn epoch_points() -> Vec<LadderPoint> {
    let mut pts = read_ladder(&data("chinchilla_epoch.csv")).expect("read Epoch data");
    assert_eq!(pts.len(), 245);
    pts.sort_by(|a, b| a.loss.total_cmp(&b.loss));
    pts.truncate(240);
    pts
}

fn law(e: f64, a: f64, b: f64, alpha: f64, beta: f64) -> LossLaw {
    LossLaw {
        form: LossForm::Chinchilla,
        e,
        a,
        alpha,
        b,
        beta,
    }
}

#[test]
fn reaches_the_grid_optimum_and_ranks_published_fits() {
    let pts = epoch_points();
    let p = LossProblem::new(LossForm::Chinchilla, &pts, 1e-3);
    let rep = fit(&p, &GridPolish::default()).unwrap();
    println!("{rep:?}");
    assert!(rep.objective <= 1.0184e-3, "objective {}", rep.objective);
    let expect = [1.8172, 477.8, 2143.9, 0.3473, 0.3672];
    for (got, want) in rep.params.iter().zip(expect) {
        assert!((got / want - 1.0).abs() < 0.01, "{got} vs {want}");
    }
    let w = vec![1.0; 240];
    let epoch = p.cost(
        &p.theta_of(&law(1.8172, 482.01, 2085.43, 0.3478, 0.3658)),
        &w,
    );
    let hoffmann = p.cost(
        &p.theta_of(&law(1.6934, 406.40, 410.72, 0.3392, 0.2849)),
        &w,
    );
    assert!((epoch - 1.0228e-3).abs() < 2e-6, "epoch {epoch}");
    // The issue quotes 1.2312e-3 for Hoffmann's values; with these 4-digit
    // parameters we get 1.2346e-3 (the objective is steep in β), so allow 0.5%.
    assert!(
        (hoffmann / 1.2312e-3 - 1.0).abs() < 5e-3,
        "hoffmann {hoffmann}"
    );
    assert!(rep.objective < epoch && epoch < hoffmann);

    let t = std::time::Instant::now();
    let cfg = BootstrapConfig {
        replicates: 4000,
        seed: 7,
        solver: GridPolish {
            resolution: 20,
            polish: 3,
            max_iters: 2000,
        },
    };
    let bs = bootstrap(&p, &rep.theta, &cfg, &|| {});
    println!(
        "bootstrap {:?} failed {} in {:?}",
        bs.ci95,
        bs.failed,
        t.elapsed()
    );
    assert_eq!(bs.failed, 0);
    // Epoch AI's published 95% CIs, in report order E, A, B, α, β.
    let epoch_ci: [[f64; 2]; 5] = [
        [1.769, 1.871],
        [285.0, 744.0],
        [1042.0, 5810.0],
        [0.317, 0.373],
        [0.331, 0.415],
    ];
    for ((got, want), name) in bs
        .ci95
        .iter()
        .zip(epoch_ci)
        .zip(["E", "A", "B", "alpha", "beta"])
    {
        for k in 0..2 {
            // Endpoints agree to 10% of the interval's log-width-scaled value.
            let tol = 0.1 * (want[1] / want[0]).ln();
            assert!(
                (got[k] / want[k]).ln().abs() < tol,
                "{name} CI {got:?} vs Epoch {want:?}"
            );
        }
    }
    // Same seed → bit-for-bit the same replicates.
    let again = bootstrap(
        &p,
        &rep.theta,
        &BootstrapConfig {
            replicates: 50,
            ..cfg
        },
        &|| {},
    );
    assert_eq!(again.samples[..], bs.samples[..50]);
}
