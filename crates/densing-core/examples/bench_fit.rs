//! Benchmark: the full Chinchilla refit with densing-core, timed (issue 2, "Benchmark").
//!
//! Reads Epoch AI's 245 points (path as the first argument, default
//! `data/chinchilla_epoch.csv` relative to the repo root), drops the 5
//! highest losses, fits `E + A/N^α + B/D^β` (Huber δ = 1e-3 on ln L, summed) and
//! runs a 4,000-replicate seeded bootstrap, exactly as `tests/chinchilla.rs` does.
//! Prints one JSON line with wall seconds (and process CPU seconds, from
//! /proc/self/stat) for each stage, the objective, the parameters, the
//! bootstrap CIs and how many replicates fell back to the full grid, for
//! `bench/fit/run.sh` to compare against the scipy implementation of the same
//! procedure.

use densing_core::bootstrap::{bootstrap_from, BootstrapConfig};
use densing_core::data::read_ladder;
use densing_core::fit::{fit, GridPolish, Replicate};
use densing_core::law::LossForm;
use densing_core::loss::LossProblem;
use std::path::PathBuf;
use std::time::Instant;

/// Bootstrap replicates: the count the acceptance test uses.
const REPLICATES: usize = 4000;
/// Bootstrap seed (any fixed value; the one the Chinchilla test uses).
const SEED: u64 = 7;

fn main() -> densing_core::Result<()> {
    let path = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("data/chinchilla_epoch.csv"), PathBuf::from);
    let mut pts = read_ladder(&path)?;
    pts.sort_by(|a, b| a.loss.total_cmp(&b.loss));
    pts.truncate(pts.len().saturating_sub(5));
    let p = LossProblem::new(LossForm::Chinchilla, &pts, 1e-3);

    let t = Instant::now();
    let rep = fit(&p, &GridPolish::default())?;
    let fit_s = t.elapsed().as_secs_f64();

    let cfg = BootstrapConfig {
        replicates: REPLICATES,
        seed: SEED,
        solver: GridPolish {
            resolution: 20,
            polish: 3,
            max_iters: 2000,
        },
    };
    let (t, cpu) = (Instant::now(), process_cpu_s());
    let bs = bootstrap_from(&p, &rep.optima, &cfg, Replicate::Warm, &|| {});
    let bootstrap_s = t.elapsed().as_secs_f64();
    let bootstrap_cpu_s = process_cpu_s() - cpu;

    let params: serde_json::Map<String, serde_json::Value> = rep
        .names
        .iter()
        .cloned()
        .zip(rep.params.iter().map(|&v| v.into()))
        .collect();
    let ci95: serde_json::Map<String, serde_json::Value> = rep
        .names
        .iter()
        .cloned()
        .zip(bs.ci95.iter().map(|c| serde_json::json!(c)))
        .collect();
    let out = serde_json::json!({
        "impl": "densing-core",
        "threads": rayon::current_num_threads(),
        "n_points": pts.len(),
        "fit_s": fit_s,
        "bootstrap_replicates": REPLICATES,
        "bootstrap_failed": bs.failed,
        "bootstrap_s": bootstrap_s,
        "bootstrap_cpu_s": bootstrap_cpu_s,
        "bootstrap_fallbacks": bs.fallbacks,
        "total_s": fit_s + bootstrap_s,
        "objective": rep.objective,
        "distinct_optima": rep.distinct_optima,
        "params": params,
        "ci95": ci95,
    });
    println!("{out}");
    Ok(())
}

/// CPU seconds (user + system, all threads) this process has used so far:
/// fields 14 and 15 of /proc/self/stat, in clock ticks of 1/100 s.
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; count fields after its ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    ticks.iter().sum::<f64>() / 100.0
}
