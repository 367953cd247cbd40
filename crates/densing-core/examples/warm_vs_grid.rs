//! The broad form of `tests/warm_start.rs` (issue 22): every task of the
//! bundled OLMo-2 ladder (the runs without 0.5×C, as `bench/predict/run.sh`
//! fits them), both steps bootstrapped as `densing predict` does, each
//! replicate solved twice — warm-started and by the full grid — and the
//! replicates whose optima differ by more than 1e-6 (relative, in any natural
//! parameter) counted per task and step.
//!
//! A step-1 difference where only parameters sitting on their bound 0 differ
//! (E = e^{−40} against e^{−33}, both 0 to a loss in nats) is counted apart as
//! `bound only`: no prediction can tell them apart.
//!
//! Usage (from the repo root): `cargo run --release -p densing-core --example
//! warm_vs_grid [REPLICATES [SEED]]` (defaults 500 and 1; `densing predict`'s
//! own seed is 20241205).

use densing_core::data::parse_ladder;
use densing_core::fit::Replicate;
use densing_core::predict::{fit_task_by, Ladder, PredictConfig, Settings};
use densing_core::table::Table;

/// Equal to 1e-6 relative.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

/// Whether two parameter vectors differ, and whether only in parameters that
/// both put on their bound 0 (below 1e-12).
fn differ(a: &[f64], b: &[f64]) -> (bool, bool) {
    let apart: Vec<bool> = a.iter().zip(b).map(|(x, y)| !close(*x, *y)).collect();
    let bound_only = a
        .iter()
        .zip(b)
        .zip(&apart)
        .all(|((x, y), &d)| !d || (x.abs() < 1e-12 && y.abs() < 1e-12));
    (apart.contains(&true), bound_only)
}

fn main() -> densing_core::Result<()> {
    let mut args = std::env::args().skip(1);
    let replicates = args.next().map_or(500, |s| s.parse().expect("REPLICATES"));
    let seed = args.next().map_or(1, |s| s.parse().expect("SEED"));
    let file = "data/olmo_ladder/checkpoints.csv";
    let text = std::fs::read_to_string(file).expect("run from the repo root");
    let points = parse_ladder(&Table::parse(file, &text)?)?;
    let ladder = Ladder::new(file, &points, 5)?.filter(|r| !r.run.ends_with("-0.5xC"));
    let cfg = PredictConfig {
        settings: Settings::default(),
        replicates,
        seed,
    };
    println!(
        "task | step-1 differ (bound only) | step-2 differ | fallbacks of {}",
        2 * replicates
    );
    let mut total = [0; 4];
    for (task, runs) in &ladder.tasks {
        let warm = fit_task_by(task, runs, &cfg, Replicate::Warm, &|| {})?;
        let grid = fit_task_by(task, runs, &cfg, Replicate::FullGrid, &|| {})?;
        let mut counts = [0, 0, 0, warm.fallbacks];
        for ((lw, mw), (lg, mg)) in warm.replicates.iter().zip(&grid.replicates) {
            let (d1, bound) = differ(
                &[lw.e, lw.a, lw.b, lw.alpha, lw.beta],
                &[lg.e, lg.a, lg.b, lg.alpha, lg.beta],
            );
            let (d2, _) = differ(&[mw.c, mw.gamma, mw.l, mw.d], &[mg.c, mg.gamma, mg.l, mg.d]);
            counts[0] += usize::from(d1);
            counts[1] += usize::from(d1 && bound);
            counts[2] += usize::from(d2);
        }
        println!(
            "{task} | {} ({}) | {} | {}",
            counts[0], counts[1], counts[2], counts[3]
        );
        for (t, c) in total.iter_mut().zip(counts) {
            *t += c;
        }
    }
    println!(
        "all {} replicates | {} ({}) | {} | {}",
        replicates * ladder.tasks.len(),
        total[0],
        total[1],
        total[2],
        total[3]
    );
    Ok(())
}
