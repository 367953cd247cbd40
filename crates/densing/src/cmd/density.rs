//! `densing density`: place your own model against the registry — its N̂, ρ with
//! CI, its rank, and where it sits relative to the trend line.

use super::common::{CalibrationArgs, RegistryArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use densing_analysis::{new_model, place, read_lm_eval, scores_from_percent};
use densing_core::density::{sig, Bounded};
use densing_core::registry::{parse_date, Benchmark};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct DensityArgs {
    /// Name of the model.
    #[arg(long)]
    name: String,
    /// Parameters, in billions (on the basis chosen with --params).
    #[arg(long = "size")]
    size_b: f64,
    /// Training tokens, in trillions (recorded; not used by a reference-family calibration).
    #[arg(long)]
    tokens: Option<f64>,
    /// Release date, YYYY-MM-DD.
    #[arg(long)]
    date: String,
    /// Scores in percent: mmlu=65.2,bbh=50.1,...
    #[arg(long, value_delimiter = ',', conflicts_with = "lm_eval")]
    scores: Vec<String>,
    /// lm-evaluation-harness results JSON to read the scores from.
    #[arg(long)]
    lm_eval: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    cal: CalibrationArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `mmlu=65.2,bbh=50.1` → percentages by benchmark, validated by the library.
fn parse_scores(items: &[String]) -> Result<HashMap<Benchmark, f64>> {
    let pairs = items
        .iter()
        .map(|item| {
            let (k, v) = item
                .split_once('=')
                .with_context(|| format!("--scores: `{item}` is not benchmark=percent"))?;
            let v: f64 = v
                .trim()
                .parse()
                .with_context(|| format!("--scores: `{v}` for {k} is not a number"))?;
            Ok((k, v))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(scores_from_percent(pairs)?)
}

pub fn run(args: DensityArgs) -> Result<()> {
    let release = parse_date(&args.date).map_err(|m| anyhow::anyhow!("--date: {m}"))?;
    let (scores, read_notes) = match &args.lm_eval {
        Some(p) => read_lm_eval(p)?,
        None if args.scores.is_empty() => bail!("give --scores or --lm-eval"),
        None => (parse_scores(&args.scores)?, Vec::new()),
    };
    let model = new_model(&args.name, args.size_b, args.tokens, release, scores)?;
    let reg = args.registry.load()?;
    let opts = args.cal.options()?;
    let p = place(&reg, &args.cal.spec()?, &opts, &model)?;
    let d = &p.model;
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
    if !d.flags.is_empty() {
        println!("flags: {}", d.flags.join("; "));
    }
    if matches!(d.rho, Bounded::Undetermined) {
        println!("benchmarks disagree in direction (one above, one below the reference range)");
    }
    Ok(())
}
