//! `densing density`: place your own model against the registry — its N̂, ρ with
//! CI, its rank, and where it sits relative to the trend line.

use super::common::{non_empty, positive, CalibrationArgs, RegistryArgs, TrendArgs};
use anyhow::{bail, Result};
use clap::Args;
use densing_analysis::{new_model, parse_scores, place, read_lm_eval};
use densing_core::density::{sig, Bounded};
use densing_core::registry::parse_date;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct DensityArgs {
    /// Name of the model.
    #[arg(long, value_parser = non_empty)]
    name: String,
    /// Parameters, in billions (on the basis chosen with --basis).
    #[arg(long = "params", value_name = "BILLIONS", value_parser = params_count, required_unless_present = "old_size")]
    size_b: Option<f64>,
    /// Renamed --params (the count, as in `models add`); kept for a clear error.
    #[arg(long = "size", hide = true)]
    old_size: Option<String>,
    /// Training tokens, in trillions (recorded; not used by a reference-family calibration).
    #[arg(long, value_parser = positive)]
    tokens: Option<f64>,
    /// Release date, YYYY-MM-DD.
    #[arg(long)]
    date: String,
    /// Scores in percent, each under its benchmark's standard protocol
    /// (data/benchmarks.csv): mmlu=65.2,bbh=50.1,mmlu_pro=40,...
    #[arg(long, value_delimiter = ',', conflicts_with = "lm_eval")]
    scores: Vec<String>,
    /// lm-evaluation-harness results JSON to read the scores from.
    #[arg(long)]
    lm_eval: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    cal: CalibrationArgs,
    #[command(flatten)]
    trend: TrendArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `--params` of `density`: the count in billions. A basis name there is the
/// old spelling, answered with the new one.
fn params_count(s: &str) -> std::result::Result<f64, String> {
    if ["total", "nonemb", "active"].contains(&s.trim()) {
        return Err(format!(
            "--params is the parameter count in billions; the basis `{s}` is now --basis {s}"
        ));
    }
    positive(s)
}

pub fn run(args: DensityArgs) -> Result<()> {
    let size_b = match (&args.old_size, args.size_b) {
        (Some(v), _) => {
            bail!("--size {v}: the parameter count is now --params {v} (the basis is --basis)")
        }
        (None, Some(n)) => n,
        (None, None) => bail!("give --params (the parameter count in billions)"),
    };
    let release = parse_date(&args.date).map_err(|m| anyhow::anyhow!("--date: {m}"))?;
    let (scores, read_notes) = match &args.lm_eval {
        Some(p) => read_lm_eval(p)?,
        None if args.scores.is_empty() => bail!("give --scores or --lm-eval"),
        None => (
            parse_scores(&args.scores, None, None, "user input")?,
            Vec::new(),
        ),
    };
    let model = new_model(&args.name, size_b, args.tokens, release, scores)?;
    let reg = args.registry.load()?;
    let opts = args.cal.options()?;
    let unc = args.cal.uncertainty();
    let p = place(
        &reg,
        &args.cal.spec()?,
        &opts,
        &args.trend.config(unc.replicates, unc.seed)?,
        &model,
    )?;
    let (d, unused) = (&p.model, &p.scores_not_in_benchmarks);
    if args.json {
        println!(
            "{}",
            json!({
                "reference": p.reference,
                "model": d,
                "rank": p.rank,
                "of": p.of,
                "trend_rho_at_release": p.trend_rho_at_release,
                "ratio_to_trend": p.ratio_to_trend,
                "scores_read": read_notes,
                "scores_not_in_benchmarks": unused,
            })
        );
        return Ok(());
    }
    println!("{} against {}", d.name, p.reference);
    for n in &read_notes {
        println!("  read {n}");
    }
    for e in &d.per_benchmark {
        println!(
            "  {:<10} score {:>5.1}%  N̂ {}",
            e.benchmark.key(),
            e.score * 100.0,
            e.n_hat.short()
        );
    }
    println!("N = {}B, N̂ = {}B", sig(d.params_b), d.n_hat.short());
    println!("density {}", super::run::rho_text(d));
    match (p.rank, p.ratio_to_trend) {
        (Some(r), Some(v)) => println!(
            "rank {r} of {} registry models; {:.2}× the trend line's ρ_max on {} ({})",
            p.of,
            v,
            release,
            if v >= 1.0 {
                "on or above the line"
            } else {
                "below the line"
            }
        ),
        _ => println!("censored density: no rank or trend comparison"),
    }
    if !unused.is_empty() {
        println!("not used (not in --benchmarks): {}", unused.join(", "));
    }
    if !d.flags.is_empty() {
        println!("flags: {}", d.flags.join("; "));
    }
    if matches!(d.rho, Bounded::Undetermined) {
        println!("benchmarks disagree in direction (one above, one below the reference range)");
    }
    Ok(())
}
