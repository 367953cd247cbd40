//! `densing fit loss|score`: fit a law to a data file and report it, with
//! optional bootstrap CIs. The fit itself is `densing_analysis::fit`.

use super::common::Form;
use anyhow::Result;
use clap::{Args, Subcommand};
use densing_analysis::fit::{fit_loss, fit_score, FitBootstrap, LawFit};
use densing_core::data::{read_anchors, read_ladder};
use std::path::PathBuf;

#[derive(Args)]
pub struct FitArgs {
    #[command(subcommand)]
    what: FitWhat,
}

#[derive(Subcommand)]
enum FitWhat {
    /// Loss law on a ladder CSV (columns params, tokens, loss; optional run, task).
    Loss(LossArgs),
    /// Score map on an anchors CSV (columns loss, score; optional model, task, heldout).
    Score(ScoreArgs),
}

#[derive(Args)]
struct Common {
    /// Bootstrap replicates (resampling runs / anchors); 0 = none; at most 100000.
    #[arg(long, default_value_t = 0, value_parser = super::common::bootstrap_count)]
    bootstrap: usize,
    /// Seed of the bootstrap (same seed → bit-identical results).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

impl Common {
    fn boot(&self) -> FitBootstrap {
        FitBootstrap {
            replicates: self.bootstrap,
            seed: self.seed,
        }
    }
}

#[derive(Args)]
struct LossArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long, value_enum, default_value = "paper")]
    form: Form,
    /// Drop the K points with the highest loss first (Epoch AI drops 5).
    #[arg(long, default_value_t = 0)]
    drop_highest: usize,
    /// Huber δ on ln L residuals (a positive number).
    #[arg(long, default_value_t = 1e-3)]
    delta: f64,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ScoreArgs {
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    common: Common,
}

pub fn run(args: FitArgs) -> Result<()> {
    let c = match &args.what {
        FitWhat::Loss(a) => &a.common,
        FitWhat::Score(a) => &a.common,
    };
    let bar = bar(c);
    let tick = || bar.inc(1);
    let fit = match &args.what {
        FitWhat::Loss(a) => read_ladder(&a.data).and_then(|points| {
            fit_loss(
                &a.data.display().to_string(),
                points,
                a.form.into(),
                a.drop_highest,
                a.delta,
                c.boot(),
                &tick,
            )
        }),
        FitWhat::Score(a) => read_anchors(&a.data)
            .and_then(|anchors| fit_score(&a.data.display().to_string(), anchors, c.boot(), &tick)),
    };
    bar.finish_and_clear();
    let fit = fit?;
    if c.json {
        println!("{}", serde_json::to_string(&fit.to_value())?);
    } else {
        print!("{}", render(&fit));
    }
    Ok(())
}

fn bar(c: &Common) -> indicatif::ProgressBar {
    if c.bootstrap > 0 {
        crate::progress::bar(c.bootstrap as u64, "bootstrap")
    } else {
        indicatif::ProgressBar::hidden()
    }
}

fn render(f: &LawFit) -> String {
    let (r, boot) = (&f.report, f.bootstrap.as_ref());
    let mut out = format!("{}\ndata: {} ({} points)\n\n", f.law, f.data, r.n_obs);
    out += &format!(
        "{:<8} {:>14} {:>30}\n",
        "param", "estimate", "95% CI (bootstrap)"
    );
    for (i, (n, v)) in r.names.iter().zip(&r.params).enumerate() {
        let ci = boot
            .and_then(|b| b.ci95.get(i))
            .map(|[lo, hi]| format!("[{lo:.6}, {hi:.6}]"))
            .unwrap_or_else(|| "-".into());
        out += &format!("{n:<8} {v:>14.6} {ci:>30}\n");
    }
    out += &format!("\nobjective        {:.6e}\n", r.objective);
    out += &format!("R²               {:.5}\n", r.r2);
    out += &format!(
        "distinct optima  {} (from {} polished grid starts)\n",
        r.distinct_optima, r.starts
    );
    if let Some(e) = r.leave_largest_out_error {
        out += &format!("leave-largest-out mean |residual| {e:.4}\n");
    }
    if let Some(b) = boot {
        out += &format!(
            "bootstrap        {} replicates, seed {}, {} failed, {} fell back to the full grid\n",
            b.replicates, b.seed, b.failed, b.fallbacks
        );
    }
    if let Some(corr) = &r.correlations {
        out += "\nparameter correlations (internal coordinates):\n";
        for (n, row) in r.names.iter().zip(corr) {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:>6.2}")).collect();
            out += &format!("{n:<8} {}\n", cells.join(" "));
        }
    }
    for w in &f.warnings {
        out += &format!("warning: {w}\n");
    }
    out
}
