//! `densing predict`: from a ladder of training runs, the loss and score a model
//! of N parameters trained on D tokens will reach, per task, with 95% intervals
//! (the two-step method of the ladder paper, in `densing_core::predict`).
//! `--backtest largest` checks the method inside the ladder instead: fit the
//! smaller sizes, predict the largest one's runs.

use super::report::FormatArg;
use crate::outputs::Outputs;
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use densing_analysis::predict::{
    parse_target, prepare, CoverageSplit, PredictOutcome, PredictSpec,
};
use densing_core::predict::{BacktestRow, Settings};
use densing_core::table::Table;
use densing_report::write_predict_report;
use std::path::PathBuf;

#[derive(Args)]
pub struct PredictArgs {
    /// Ladder CSV: columns run, params, tokens, task, loss, score (optional step;
    /// others ignored), one row per in-training evaluation. Default: the bundled
    /// OLMo-2 ladder (25 runs, 190M–3.2B, 8 tasks, loss in bits per byte).
    #[arg(long)]
    pub ladder: Option<PathBuf>,
    /// A model to predict, `NAME=N:D` (parameters : training tokens); repeatable.
    #[arg(long = "target", value_name = "NAME=N:D")]
    pub targets: Vec<String>,
    /// Only these tasks (repeatable; default: every task of the ladder).
    #[arg(long = "task", value_name = "T")]
    pub tasks: Vec<String>,
    /// Fit only runs whose name matches one of these glob patterns (repeatable).
    #[arg(long = "runs", value_name = "PATTERN", default_value = "*")]
    pub runs: Vec<String>,
    /// Leave out runs whose name matches (repeatable). The default keeps every
    /// run: fitting the 0.5×Chinchilla runs too predicted better, inside and
    /// outside the fitted token range (docs/src/predict.md); `--exclude
    /// '*-0.5xC'` drops them as the ladder paper's step 1 does.
    #[arg(long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Evaluations averaged into a run's final point (step 1).
    #[arg(long, default_value_t = 5)]
    pub final_window: usize,
    /// Fraction of each run's evaluations skipped before step 2.
    #[arg(long, default_value_t = 0.1)]
    pub skip: f64,
    /// Moving-average length of step 2's points.
    #[arg(long, default_value_t = 5)]
    pub smooth: usize,
    /// Bootstrap replicates (runs, and evaluations within runs, resampled).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap (same seed → identical intervals).
    #[arg(long, default_value_t = 20241205)]
    pub seed: u64,
    /// Instead of targets: fit the sizes below the ladder's largest N and predict
    /// the largest size's runs (their final loss and score are known).
    #[arg(long, value_enum)]
    pub backtest: Option<BacktestKind>,
    /// Write report.html, one figure per task, predictions.csv and .json here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Image files beside report.html.
    #[arg(long, value_enum, default_value_t = FormatArg::Svg)]
    pub format: FormatArg,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BacktestKind {
    /// Hold out every run of the largest N.
    Largest,
}

pub fn run(args: PredictArgs) -> Result<()> {
    let targets = args
        .targets
        .iter()
        .map(|t| parse_target(t).map_err(|e| anyhow::anyhow!("--{e}")))
        .collect::<Result<Vec<_>>>()?;
    if targets.is_empty() && args.backtest.is_none() {
        bail!("nothing to predict: give --target NAME=N:D or --backtest largest");
    }
    let spec = PredictSpec {
        ladder: args.ladder.as_deref().map(Table::read).transpose()?,
        targets,
        tasks: args.tasks.clone(),
        runs: args.runs.clone(),
        exclude: args.exclude.clone(),
        settings: Settings {
            window: args.final_window,
            skip: args.skip,
            smooth: args.smooth,
        },
        bootstrap: args.bootstrap,
        seed: args.seed,
        backtest_largest: matches!(args.backtest, Some(BacktestKind::Largest)),
    };
    if !(0.0..1.0).contains(&args.skip) {
        bail!("--skip must be in [0, 1), got {}", args.skip);
    }
    let prepared = prepare(&spec)?;
    let bar = crate::progress::bar((args.bootstrap * prepared.task_count()) as u64, "bootstrap");
    let tick = || bar.inc(1);
    let outcome = prepared.run(&spec, &tick)?;
    bar.finish_and_clear();
    let doc = outcome.to_json(&spec);
    // Everything is computed before anything is written.
    if let Some(dir) = &args.out {
        let mut files = Outputs::new();
        files.folder(dir)?;
        files.write(
            &dir.join("predictions.json"),
            serde_json::to_string_pretty(&doc)?.as_bytes(),
        )?;
        files.write(
            &dir.join("predictions.csv"),
            outcome.predictions_csv()?.as_bytes(),
        )?;
        let written = write_predict_report(
            &outcome.report_input(&spec),
            &files.staging(dir)?,
            args.format.into(),
        )?;
        files.commit()?;
        if !args.json {
            if let Some(page) = written.last().and_then(|p| p.file_name()) {
                eprintln!(
                    "wrote {} and predictions.csv/json",
                    dir.join(page).display()
                );
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_text(&outcome);
    }
    Ok(())
}

fn print_text(o: &PredictOutcome) {
    let (fits, preds, bt) = (&o.fits, &o.predictions, o.backtest.as_ref());
    println!("two-step prediction from {}", o.ladder);
    println!(
        "\n{:<12} {:<20} {:>8} {:>19} {:>8} {:>19} {:>8} {:>8}",
        "target", "task", "loss", "95% CI", "score", "95% CI", "true L", "true S"
    );
    for p in preds {
        let truth = o.truth_of(p);
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
        println!(
            "{:<12} {:<20} {:>8.4} {:>19} {:>8.4} {:>19} {:>8} {:>8}",
            p.target,
            p.task,
            p.loss,
            format!("[{:.4}, {:.4}]", p.loss_ci95[0], p.loss_ci95[1]),
            p.score,
            format!("[{:.4}, {:.4}]", p.score_ci95[0], p.score_ci95[1]),
            opt(truth.map(|r| r.true_loss)),
            opt(truth.map(|r| r.true_score)),
        );
    }
    println!(
        "\n{:<20} {:>4} {:>7} {:>9} {:>9} {:>6} {:>6} {:>9} {:>7} {:>6} {:>6} {:>6} {:>9} {:>6}",
        "task",
        "runs",
        "E",
        "A",
        "B",
        "alpha",
        "beta",
        "|L̂/L-1|",
        "c",
        "gamma",
        "l",
        "d",
        "S rmse",
        "failed"
    );
    for f in fits {
        println!(
            "{:<20} {:>4} {:>7.4} {:>9.4e} {:>9.4e} {:>6.3} {:>6.3} {:>9.5} {:>7.3} {:>6.2} {:>6.3} {:>6.3} {:>9.4} {:>6}",
            f.task,
            f.runs.len(),
            f.law.e,
            f.law.a,
            f.law.b,
            f.law.alpha,
            f.law.beta,
            f.step1_mean_abs_rel_error,
            f.map.c,
            f.map.gamma,
            f.map.l,
            f.map.d,
            f.step2_rmse,
            f.failed_replicates
        );
    }
    if let Some(bt) = bt {
        let n = bt.rows.len();
        let mean = |f: &dyn Fn(&BacktestRow) -> f64| bt.rows.iter().map(f).sum::<f64>() / n as f64;
        println!(
            "\nbacktest: {n} held-out (run, task) pairs at N = {:.4e}; mean |error| loss {:.4}, score {:.4} ({:.2} points); 95% intervals cover the true loss {}/{n}, the true score {}/{n}",
            bt.held_out_params,
            mean(&|r| r.loss_abs_error),
            mean(&|r| r.score_abs_error),
            100.0 * mean(&|r| r.score_abs_error),
            bt.rows.iter().filter(|r| r.loss_covered).count(),
            bt.rows.iter().filter(|r| r.score_covered).count(),
        );
        for inside in [true, false] {
            let c = CoverageSplit::of(bt, inside);
            let n = c.pairs;
            println!(
                "  {} the fitted runs' tokens-per-parameter range ({:.1}–{:.1}): {n} pairs, loss covered {}/{n}, score covered {}/{n}",
                if inside { "inside " } else { "outside" },
                bt.fitted_ratio_range[0],
                bt.fitted_ratio_range[1],
                c.loss_covered,
                c.score_covered,
            );
        }
    }
}
