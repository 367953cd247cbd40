//! `densing fit loss|score`: fit a law to a data file and report it, with
//! optional bootstrap CIs.

use super::common::Form;
use anyhow::Result;
use clap::{Args, Subcommand};
use densing_core::bootstrap::{bootstrap, BootstrapConfig, BootstrapResult};
use densing_core::data::{read_anchors, read_ladder};
use densing_core::fit::{fit, require_points, FitReport, GridPolish, Problem};
use densing_core::law::LossForm;
use densing_core::loss::LossProblem;
use densing_core::score::ScoreProblem;
use serde_json::json;
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
    /// Bootstrap replicates (resampling runs / anchors); 0 = none.
    #[arg(long, default_value_t = 0)]
    bootstrap: usize,
    /// Seed of the bootstrap (same seed → bit-identical results).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
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
    /// Huber δ on ln L residuals.
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
    match args.what {
        FitWhat::Loss(a) => fit_loss(a),
        FitWhat::Score(a) => fit_score(a),
    }
}

fn fit_loss(args: LossArgs) -> Result<()> {
    let mut points = read_ladder(&args.data)?;
    if args.drop_highest >= points.len() {
        anyhow::bail!(
            "--drop-highest {} would drop every one of the {} points",
            args.drop_highest,
            points.len()
        );
    }
    points.sort_by(|a, b| a.loss.total_cmp(&b.loss));
    points.truncate(points.len() - args.drop_highest);
    let form = LossForm::from(args.form);
    let problem = LossProblem::new(form, &points, args.delta);
    require_points(
        &args.data.display().to_string(),
        points.len(),
        problem.names().len(),
    )?;
    let report = fit(&problem, &GridPolish::default())?;
    let boot = run_bootstrap(&problem, &report, &args.common)?;
    let title = match form {
        LossForm::Paper => "loss law L = a·N^-α + b·D^-β (Huber δ on ln L, summed)",
        LossForm::Chinchilla => "loss law L = E + A·N^-α + B·D^-β (Huber δ on ln L, summed)",
    };
    emit(
        title,
        &args.data,
        &report,
        boot.as_ref(),
        &args.common,
        json!({"form": form, "delta": args.delta, "dropped_highest": args.drop_highest}),
        &[],
    )
}

fn fit_score(args: ScoreArgs) -> Result<()> {
    let anchors = read_anchors(&args.data)?;
    let (fit_set, held): (Vec<_>, Vec<_>) = anchors.into_iter().partition(|a| !a.heldout);
    let problem = ScoreProblem::new(&fit_set);
    require_points(&args.data.display().to_string(), fit_set.len(), 4)?;
    let report = fit(&problem, &GridPolish::default())?;
    let boot = run_bootstrap(&problem, &report, &args.common)?;
    let map = problem.map(&report.theta);
    let mut warnings = Vec::new();
    if problem.one_branch(&map) {
        warnings.push(format!(
            "every anchor lies on one side of the sigmoid midpoint l = {:.4}: the far asymptote is an extrapolation",
            map.l
        ));
    }
    let heldout: Vec<_> = held
        .iter()
        .map(|a| json!({"model": a.model, "loss": a.loss, "score": a.score, "predicted": map.score(a.loss)}))
        .collect();
    emit(
        "score map S = c/(1+e^{-γ(L-l)}) + d (least squares on S; γ > 0, c < 0)",
        &args.data,
        &report,
        boot.as_ref(),
        &args.common,
        json!({"heldout": heldout}),
        &warnings,
    )
}

fn run_bootstrap<P: Problem>(
    problem: &P,
    report: &FitReport,
    c: &Common,
) -> Result<Option<BootstrapResult>> {
    if c.bootstrap == 0 {
        return Ok(None);
    }
    {
        let bar = crate::progress::bar(c.bootstrap as u64, "bootstrap");
        let cfg = BootstrapConfig {
            replicates: c.bootstrap,
            seed: c.seed,
            solver: GridPolish {
                resolution: 20,
                polish: 3,
                max_iters: 2000,
            },
        };
        let out = bootstrap(problem, &report.theta, &cfg, &|| bar.inc(1));
        bar.finish_and_clear();
        Ok(Some(out.require_success()?))
    }
}

fn emit(
    title: &str,
    data: &std::path::Path,
    r: &FitReport,
    boot: Option<&BootstrapResult>,
    c: &Common,
    extra: serde_json::Value,
    warnings: &[String],
) -> Result<()> {
    if c.json {
        let params: serde_json::Map<String, serde_json::Value> = r
            .names
            .iter()
            .zip(&r.params)
            .map(|(n, v)| (n.clone(), json!(v)))
            .collect();
        let mut out = json!({
            "law": title,
            "data": data.display().to_string(),
            "n_points": r.n_obs,
            "params": params,
            "objective": r.objective,
            "r2": r.r2,
            "distinct_optima": r.distinct_optima,
            "starts": r.starts,
            "correlations": r.correlations,
            "leave_largest_out_error": r.leave_largest_out_error,
            "residuals": r.residuals,
            "warnings": warnings,
            "options": extra,
        });
        if let Some(b) = boot {
            let ci: serde_json::Map<String, serde_json::Value> = r
                .names
                .iter()
                .zip(&b.ci95)
                .map(|(n, v)| (n.clone(), json!(v)))
                .collect();
            out["ci95"] = json!(ci);
            out["bootstrap"] =
                json!({"replicates": b.replicates, "seed": b.seed, "failed": b.failed});
        }
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!("{title}\ndata: {} ({} points)\n", data.display(), r.n_obs);
    println!(
        "{:<8} {:>14} {:>30}",
        "param", "estimate", "95% CI (bootstrap)"
    );
    for (i, (n, v)) in r.names.iter().zip(&r.params).enumerate() {
        let ci = boot
            .and_then(|b| b.ci95.get(i))
            .map(|[lo, hi]| format!("[{lo:.6}, {hi:.6}]"))
            .unwrap_or_else(|| "-".into());
        println!("{n:<8} {v:>14.6} {ci:>30}");
    }
    println!("\nobjective        {:.6e}", r.objective);
    println!("R²               {:.5}", r.r2);
    println!(
        "distinct optima  {} (from {} polished grid starts)",
        r.distinct_optima, r.starts
    );
    if let Some(e) = r.leave_largest_out_error {
        println!("leave-largest-out mean |residual| {e:.4}");
    }
    if let Some(b) = boot {
        println!(
            "bootstrap        {} replicates, seed {}, {} failed",
            b.replicates, b.seed, b.failed
        );
    }
    if let Some(corr) = &r.correlations {
        println!("\nparameter correlations (internal coordinates):");
        for (n, row) in r.names.iter().zip(corr) {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:>6.2}")).collect();
            println!("{n:<8} {}", cells.join(" "));
        }
    }
    for w in warnings {
        println!("warning: {w}");
    }
    Ok(())
}
