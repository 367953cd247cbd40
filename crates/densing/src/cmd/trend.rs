//! `densing trend FILE`: the trend statistics on your own table of densities,
//! `model,family,release_date,rho,censor` (censor: empty, `lower_bound` for
//! ρ > rho, `upper_bound` for ρ < rho). Every estimator with its BCa interval,
//! permutation test (MC error, failed refits) and Holm-adjusted p — the code
//! path `densing run` takes after its densities (`densing_analysis::trend_report`);
//! `--json` prints the same `estimators` entries as `densing run --json`.

use super::common::TrendArgs;
use super::run::{estimator_table, test_table};
use crate::progress;
use anyhow::Result;
use clap::Args;
use densing_analysis::{read_trend_table, trend_report};
use std::path::PathBuf;

#[derive(Args)]
pub struct TrendCmdArgs {
    /// CSV with columns model,family,release_date,rho[,censor].
    pub file: PathBuf,
    #[command(flatten)]
    pub trend: TrendArgs,
    /// Bootstrap replicates (resamples of families) behind every interval.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 20241205)]
    pub seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: TrendCmdArgs) -> Result<()> {
    let points = read_trend_table(&args.file)?;
    let cfg = args.trend.config(args.bootstrap, args.seed)?;
    let work = 3 * (args.bootstrap + args.trend.permutations) as u64;
    let bar = progress::bar(work, "trend: bootstrap + permutations");
    let report = trend_report(&args.file.display().to_string(), &points, &cfg, &|| {
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{}: {} models, {} censored (ρ > x or ρ < x)",
        report.file, report.n_points, report.n_censored
    );
    print!("{}", estimator_table(&report.estimators));
    print!("{}", test_table(&report.tests));
    for s in &report.test_size {
        println!(
            "{}: {} (the bundled registry's design; yours may differ)",
            s.estimator,
            densing_analysis::size_text(s)
        );
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    Ok(())
}
