//! `densing predict`: from a ladder of training runs, the loss and score a model
//! of N parameters trained on D tokens will reach, per task, with 95% intervals
//! (the two-step method of the ladder paper, in `densing_core::predict`).
//! `--backtest largest` checks the method inside the ladder instead: fit the
//! smaller sizes, predict the largest one's runs.

use super::common::write_atomic;
use super::report::FormatArg;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use densing_core::data::parse_ladder;
use densing_core::predict::{
    backtest_largest, fit_all, Backtest, BacktestRow, Ladder, PredictConfig, Prediction, Settings,
    Target, TaskFit,
};
use densing_core::table::Table;
use densing_report::{
    write_predict_report, PredictInput, PredictTask, RunPoint, SizeCurve, TargetRow,
};
use serde_json::json;
use std::path::PathBuf;

/// The bundled OLMo-2 ladder (allenai/OLMo-ladder, Apache-2.0; see data/olmo_ladder/).
const BUNDLED_LADDER: &str = include_str!("../../../../data/olmo_ladder/checkpoints.csv");
const BUNDLED_NAME: &str = "data/olmo_ladder/checkpoints.csv (bundled OLMo-2 ladder)";

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
    /// Leave out runs whose name matches (repeatable). The default drops the
    /// 0.5×Chinchilla runs, as the ladder paper's step 1 does; `--exclude ''`
    /// keeps every run.
    #[arg(long = "exclude", value_name = "PATTERN", default_value = "*-0.5xC")]
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

/// Parse `NAME=N:D`; N and D must be finite and > 0.
fn parse_target(s: &str) -> Result<Target> {
    let (name, nd) = s
        .split_once('=')
        .with_context(|| format!("--target `{s}`: expected NAME=N:D, e.g. 7B=6.9e9:3.9e12"))?;
    let (n, d) = nd
        .split_once(':')
        .with_context(|| format!("--target `{s}`: expected NAME=N:D, e.g. 7B=6.9e9:3.9e12"))?;
    let num = |field: &str, v: &str| -> Result<f64> {
        let x: f64 =
            v.trim().replace('_', "").parse().with_context(|| {
                format!("--target `{s}`: field `{field}`: `{v}` is not a number")
            })?;
        if !(x.is_finite() && x > 0.0) {
            bail!("--target `{s}`: field `{field}`: must be > 0, got {v}");
        }
        Ok(x)
    };
    if name.trim().is_empty() {
        bail!("--target `{s}`: field `name` is empty");
    }
    Ok(Target {
        name: name.trim().to_string(),
        params: num("N", n)?,
        tokens: num("D", d)?,
    })
}

fn patterns(list: &[String], flag: &str) -> Result<Vec<glob::Pattern>> {
    list.iter()
        .map(|p| {
            glob::Pattern::new(p).with_context(|| format!("{flag} `{p}` is not a glob pattern"))
        })
        .collect()
}

pub fn run(args: PredictArgs) -> Result<()> {
    let targets = args
        .targets
        .iter()
        .map(|t| parse_target(t))
        .collect::<Result<Vec<_>>>()?;
    if targets.is_empty() && args.backtest.is_none() {
        bail!("nothing to predict: give --target NAME=N:D or --backtest largest");
    }
    if !(0.0..1.0).contains(&args.skip) {
        bail!("--skip must be in [0, 1), got {}", args.skip);
    }
    let keep = patterns(&args.runs, "--runs")?;
    let drop = patterns(&args.exclude, "--exclude")?;
    let (name, table) = match &args.ladder {
        Some(p) => (p.display().to_string(), Table::read(p)?),
        None => (
            BUNDLED_NAME.to_string(),
            Table::parse(BUNDLED_NAME, BUNDLED_LADDER)?,
        ),
    };
    table.require(&["run", "params", "tokens", "task", "loss", "score"])?;
    let points = parse_ladder(&table)?;
    let full = Ladder::new(&name, &points, args.final_window)?.tasks_named(&args.tasks)?;
    let chosen =
        |run: &str| keep.iter().any(|p| p.matches(run)) && !drop.iter().any(|p| p.matches(run));
    let selected = full.filter(|r| chosen(&r.run));
    let cfg = PredictConfig {
        settings: Settings {
            window: args.final_window,
            skip: args.skip,
            smooth: args.smooth,
        },
        replicates: args.bootstrap,
        seed: args.seed,
    };
    let bar = crate::progress::bar((args.bootstrap * full.tasks.len()) as u64, "bootstrap");
    let tick = || bar.inc(1);
    let (fits, predictions, backtest) = match args.backtest {
        Some(BacktestKind::Largest) => {
            let bt = backtest_largest(&full, &selected, &cfg, &tick)?;
            let mut preds: Vec<Prediction> = bt.rows.iter().map(|r| r.prediction.clone()).collect();
            for tf in &bt.fits {
                preds.extend(targets.iter().map(|t| tf.predict(t)));
            }
            (bt.fits.clone(), preds, Some(bt))
        }
        None => {
            let fits = fit_all(&selected, &cfg, &tick)?;
            let preds = fits
                .iter()
                .flat_map(|tf| targets.iter().map(|t| tf.predict(t)))
                .collect();
            (fits, preds, None)
        }
    };
    bar.finish_and_clear();
    let n_runs = full.run_names().len();
    let fitted_runs = fits.first().map_or(0, |f| f.runs.len());
    let ladder_desc = format!("{name}; {fitted_runs} of {n_runs} runs in the fit");

    let doc = json!({
        "ladder": ladder_desc,
        "settings": cfg.settings,
        "bootstrap": {"replicates": args.bootstrap, "seed": args.seed},
        "predictions": predictions,
        "fits": fits.iter().map(|f| (f.task.clone(), fit_json(f))).collect::<serde_json::Map<_, _>>(),
        "backtest": backtest.as_ref().map(backtest_json),
    });
    // Everything is computed before anything is written.
    if let Some(dir) = &args.out {
        let input = report_input(
            &full,
            &fits,
            &predictions,
            backtest.as_ref(),
            &ladder_desc,
            &args,
        );
        write_atomic(
            &dir.join("predictions.json"),
            serde_json::to_string_pretty(&doc)?.as_bytes(),
        )?;
        write_atomic(
            &dir.join("predictions.csv"),
            predictions_csv(&predictions, backtest.as_ref())?.as_bytes(),
        )?;
        let written = write_predict_report(&input, dir, args.format.into())?;
        if !args.json {
            if let Some(page) = written.last() {
                eprintln!("wrote {} and predictions.csv/json", page.display());
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_text(&ladder_desc, &fits, &predictions, backtest.as_ref());
    }
    Ok(())
}

fn fit_json(f: &TaskFit) -> serde_json::Value {
    json!({
        "runs": f.runs,
        "loss_law": {"E": f.law.e, "A": f.law.a, "B": f.law.b, "alpha": f.law.alpha, "beta": f.law.beta,
                     "ci95": {"E": f.law_ci95.first(), "A": f.law_ci95.get(1), "B": f.law_ci95.get(2),
                              "alpha": f.law_ci95.get(3), "beta": f.law_ci95.get(4)}},
        "step1_mean_abs_rel_error": f.step1_mean_abs_rel_error,
        "step1_objective": f.step1.objective,
        "step1_distinct_optima": f.step1.distinct_optima,
        "score_map": {"c": f.map.c, "gamma": f.map.gamma, "l": f.map.l, "d": f.map.d,
                      "ci95": {"c": f.map_ci95.first(), "gamma": f.map_ci95.get(1),
                               "l": f.map_ci95.get(2), "d": f.map_ci95.get(3)}},
        "step2_points": f.step2_points,
        "step2_rmse": f.step2_rmse,
        "failed_replicates": f.failed_replicates,
        "fallbacks": f.fallbacks,
    })
}

fn backtest_json(bt: &Backtest) -> serde_json::Value {
    let n = bt.rows.len();
    let mean = |f: &dyn Fn(&BacktestRow) -> f64| bt.rows.iter().map(f).sum::<f64>() / n as f64;
    json!({
        "held_out_params": bt.held_out_params,
        "rows": bt.rows,
        "mean_loss_abs_error": mean(&|r| r.loss_abs_error),
        "mean_score_abs_error": mean(&|r| r.score_abs_error),
        "loss_coverage": format!("{}/{n}", bt.rows.iter().filter(|r| r.loss_covered).count()),
        "score_coverage": format!("{}/{n}", bt.rows.iter().filter(|r| r.score_covered).count()),
    })
}

fn truth_of<'a>(p: &Prediction, bt: Option<&'a Backtest>) -> Option<&'a BacktestRow> {
    bt?.rows
        .iter()
        .find(|r| r.prediction.task == p.task && r.prediction.target == p.target)
}

fn predictions_csv(preds: &[Prediction], bt: Option<&Backtest>) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "target",
        "params",
        "tokens",
        "task",
        "loss",
        "loss_lo95",
        "loss_hi95",
        "score",
        "score_lo95",
        "score_hi95",
        "true_loss",
        "true_score",
    ])?;
    for p in preds {
        let truth = truth_of(p, bt);
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        w.write_record([
            p.target.clone(),
            p.params.to_string(),
            p.tokens.to_string(),
            p.task.clone(),
            p.loss.to_string(),
            p.loss_ci95[0].to_string(),
            p.loss_ci95[1].to_string(),
            p.score.to_string(),
            p.score_ci95[0].to_string(),
            p.score_ci95[1].to_string(),
            opt(truth.map(|r| r.true_loss)),
            opt(truth.map(|r| r.true_score)),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn print_text(ladder: &str, fits: &[TaskFit], preds: &[Prediction], bt: Option<&Backtest>) {
    println!("two-step prediction from {ladder}");
    println!(
        "\n{:<12} {:<20} {:>8} {:>19} {:>8} {:>19} {:>8} {:>8}",
        "target", "task", "loss", "95% CI", "score", "95% CI", "true L", "true S"
    );
    for p in preds {
        let truth = truth_of(p, bt);
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
    }
}

/// Token counts at which a size's curve is sampled: from the smallest to the
/// largest tokens-per-parameter ratio seen (runs and targets), log-spaced.
fn sampled_tokens(n: f64, ratios: (f64, f64)) -> Vec<f64> {
    let (lo, hi) = ((ratios.0 / 1.3).ln(), (ratios.1 * 1.3).ln());
    (0..60)
        .map(|i| n * (lo + (hi - lo) * i as f64 / 59.0).exp())
        .collect()
}

fn report_input(
    full: &Ladder,
    fits: &[TaskFit],
    preds: &[Prediction],
    bt: Option<&Backtest>,
    ladder: &str,
    args: &PredictArgs,
) -> PredictInput {
    let bundled = args.ladder.is_none();
    let tasks = fits
        .iter()
        .map(|f| {
            let runs: Vec<RunPoint> = full.tasks[&f.task]
                .iter()
                .map(|r| {
                    let (tokens, loss, score) = r.final_point(args.final_window);
                    RunPoint {
                        run: r.run.clone(),
                        params: r.params,
                        tokens,
                        loss,
                        score,
                        fitted: f.runs.contains(&r.run),
                    }
                })
                .collect();
            let targets: Vec<TargetRow> = preds
                .iter()
                .filter(|p| p.task == f.task)
                .map(|p| {
                    let truth = truth_of(p, bt);
                    TargetRow {
                        name: p.target.clone(),
                        params: p.params,
                        tokens: p.tokens,
                        loss: p.loss,
                        loss_ci95: p.loss_ci95,
                        score: p.score,
                        score_ci95: p.score_ci95,
                        true_loss: truth.map(|r| r.true_loss),
                        true_score: truth.map(|r| r.true_score),
                    }
                })
                .collect();
            let ratios = runs
                .iter()
                .map(|r| r.tokens / r.params)
                .chain(targets.iter().map(|t| t.tokens / t.params))
                .fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
                    (lo.min(x), hi.max(x))
                });
            let mut sizes: Vec<f64> = runs
                .iter()
                .map(|r| r.params)
                .chain(targets.iter().map(|t| t.params))
                .collect();
            sizes.sort_by(f64::total_cmp);
            sizes.dedup();
            let curve = |g: &dyn Fn(f64, f64) -> f64| -> Vec<SizeCurve> {
                sizes
                    .iter()
                    .map(|&n| SizeCurve {
                        params: n,
                        points: sampled_tokens(n, ratios)
                            .into_iter()
                            .map(|d| [6.0 * n * d, g(n, d)])
                            .collect(),
                    })
                    .collect()
            };
            let l_max = f.scores.iter().map(|p| p.0).fold(0.0, f64::max) * 1.05;
            PredictTask {
                task: f.task.clone(),
                law: format!(
                    "L = {:.4} + {:.4e}·N^-{:.3} + {:.4e}·D^-{:.3}",
                    f.law.e, f.law.a, f.law.alpha, f.law.b, f.law.beta
                ),
                map: format!(
                    "S = {:.3}/(1 + e^(-{:.2}(L - {:.3}))) + {:.3}",
                    f.map.c, f.map.gamma, f.map.l, f.map.d
                ),
                step1_error: f.step1_mean_abs_rel_error,
                step2_rmse: f.step2_rmse,
                loss_curves: curve(&|n, d| f.law.loss(n, d)),
                score_curves: curve(&|n, d| f.map.score(f.law.loss(n, d))),
                step2_points: f.scores.iter().map(|&(l, s)| [l, s]).collect(),
                sigmoid: (0..=100)
                    .map(|i| {
                        let l = l_max * i as f64 / 100.0;
                        [l, f.map.score(l)]
                    })
                    .collect(),
                runs,
                targets,
            }
        })
        .collect();
    PredictInput {
        ladder: ladder.to_string(),
        generated_by: format!("densing {} (densing predict)", env!("CARGO_PKG_VERSION")),
        loss_unit: if bundled { "bits per byte" } else { "ladder loss" }.into(),
        tasks,
        methods: vec![
            format!(
                "Step 1, per task: L = E + A·N^-α + B·D^-β fitted on each run's final point (mean of its last {} evaluations), Huber (δ = 1e-3) on ln L residuals, summed, by a grid over (α, β) with the linear part solved in closed form, then L-BFGS from the best grid cells.",
                args.final_window
            ),
            format!(
                "Step 2, per task: S = c/(1 + e^(-γ(L - l))) + d, least squares on every evaluation after the first {}% of each run, each a moving average of {} evaluations, plus the ideal point (L = 0, S = 1); γ > 0, c ∈ [-1, 0], d ∈ [0, 1], and c + d ≥ 0 (the score's lower asymptote is not negative).",
                100.0 * args.skip,
                args.smooth
            ),
            format!(
                "Intervals: {} bootstrap replicates (seed {}); each draws the fitted runs with replacement (both steps) and, for every drawn copy of a run, its step-2 points with replacement; the 95% interval is the 2.5–97.5 percentile of the chained prediction.",
                args.bootstrap, args.seed
            ),
        ],
    }
}
