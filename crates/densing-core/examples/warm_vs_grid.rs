//! The broad form of `tests/warm_start.rs` (issue 22): every task of the
//! bundled OLMo-2 ladder (the runs without 0.5×C, as `bench/predict/run.sh`
//! fits them), both steps bootstrapped as `densing predict` does, each
//! replicate solved twice — warm-started and by the full grid — and the
//! replicates whose optima differ by more than 1e-6 (relative, in any natural
//! parameter) counted per task and step. (`densing predict` warm-starts step
//! 2 only; the step-1 columns show why.)
//!
//! Also printed: the largest relative difference between the two paths' 95%
//! interval ends of each step's parameters (what `densing predict` reports).
//!
//! Then the same for `densing fit loss`'s bootstrap on Epoch AI's Chinchilla
//! points (4 × REPLICATES replicates).
//!
//! A step-1 difference where only parameters sitting on their bound 0 differ
//! (E = e^{−40} against e^{−33}, both 0 to a loss in nats) is counted apart as
//! `bound only`: no prediction can tell them apart.
//!
//! Usage (from the repo root): `cargo run --release -p densing-core --example
//! warm_vs_grid [REPLICATES [SEED]]` (defaults 500 and 1; `densing predict`'s
//! own seed is 20241205).

use densing_core::bootstrap::{
    bootstrap_from, percentile_intervals, replicate_rng, BootstrapConfig, REPLICATE_SOLVER,
};
use densing_core::data::{parse_ladder, read_ladder};
use densing_core::fit::{fit, GridPolish, Problem, Replicate};
use densing_core::law::LossForm;
use densing_core::loss::LossProblem;
use densing_core::predict::{fit_task_by, Ladder, LossStep, PredictConfig, Settings};
use densing_core::table::Table;
use rand::Rng;
use rayon::prelude::*;
use std::path::Path;

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
        "task | step-1 differ (bound only) | step-2 differ | step-2 fallbacks | interval ends: step 1, step 2 (max rel. diff.)"
    );
    let mut total = [0; 4];
    for (task, runs) in &ladder.tasks {
        let warm = fit_task_by(task, runs, &cfg, Replicate::Warm, &|| {})?;
        let grid = fit_task_by(task, runs, &cfg, Replicate::FullGrid, &|| {})?;
        // Step 1 warm-started, on the runs drawn as `densing predict` draws
        // them (the first draws of each replicate's stream); `fit_task` itself
        // solves step 1 by the full grid, `grid.replicates` holds those.
        let step1 = LossStep::fit(&grid.finals, LossForm::Chinchilla, task)?;
        let n = runs.len();
        let warm1: Vec<Vec<f64>> = (0..replicates)
            .into_par_iter()
            .map(|i| {
                let mut rng = replicate_rng(seed, i);
                let mut w = vec![0.0; n];
                for _ in 0..n {
                    w[rng.random_range(0..n)] += 1.0;
                }
                let r = REPLICATE_SOLVER
                    .solve_replicate(&step1.problem, &w, &step1.fit.optima, Replicate::Warm)
                    .expect("step-1 replicate");
                step1.problem.natural(&r.solution.theta)
            })
            .collect();
        let grid1: Vec<Vec<f64>> = grid
            .replicates
            .iter()
            .map(|(l, _)| vec![l.e, l.a, l.b, l.alpha, l.beta])
            .collect();
        let mut counts = [0, 0, 0, warm.fallbacks];
        for (a, b) in warm1.iter().zip(&grid1) {
            let (d, bound) = differ(a, b);
            counts[0] += usize::from(d);
            counts[1] += usize::from(d && bound);
        }
        for ((_, mw), (_, mg)) in warm.replicates.iter().zip(&grid.replicates) {
            let (d, _) = differ(&[mw.c, mw.gamma, mw.l, mw.d], &[mg.c, mg.gamma, mg.l, mg.d]);
            counts[2] += usize::from(d);
        }
        let ends = |a: &[[f64; 2]], b: &[[f64; 2]]| {
            a.iter()
                .flatten()
                .zip(b.iter().flatten())
                .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-300))
                .fold(0.0, f64::max)
        };
        println!(
            "{task} | {} ({}) | {} | {} | {:.1e}, {:.1e}",
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            ends(
                &percentile_intervals(&warm1, 0.95),
                &percentile_intervals(&grid1, 0.95)
            ),
            ends(&warm.map_ci95, &grid.map_ci95)
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
    chinchilla(4 * replicates, seed)
}

/// The same comparison for `densing fit loss`'s bootstrap on Epoch AI's
/// Chinchilla points (the 240 of lowest loss, as `bench_fit` fits them).
fn chinchilla(replicates: usize, seed: u64) -> densing_core::Result<()> {
    let mut pts = read_ladder(Path::new("data/chinchilla_epoch.csv"))?;
    pts.sort_by(|a, b| a.loss.total_cmp(&b.loss));
    pts.truncate(pts.len().saturating_sub(5));
    let p = LossProblem::new(LossForm::Chinchilla, &pts, 1e-3);
    let full = fit(&p, &GridPolish::default())?;
    let cfg = BootstrapConfig {
        replicates,
        seed,
        solver: REPLICATE_SOLVER,
    };
    let warm = bootstrap_from(&p, &full.optima, &cfg, Replicate::Warm, &|| {});
    let grid = bootstrap_from(&p, &full.optima, &cfg, Replicate::FullGrid, &|| {});
    let (mut apart, mut bound) = (0, 0);
    for (a, b) in warm.samples.iter().zip(&grid.samples) {
        let (d, on_bound) = differ(a, b);
        apart += usize::from(d);
        bound += usize::from(d && on_bound);
    }
    println!(
        "Chinchilla, {replicates} replicates: {apart} differ ({bound} bound only), {} fallbacks",
        warm.fallbacks
    );
    Ok(())
}
