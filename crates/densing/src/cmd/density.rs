//! `densing density`: place your own model against the registry — its N̂, ρ with
//! CI, its rank, and where it sits relative to the trend line.

use super::common::{CalibrationArgs, RegistryArgs, TrendArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use densing_core::density::{model_density, sig, Bounded};
use densing_core::registry::{parse_date, Benchmark, Model, Weights};
use densing_core::study::study;
use densing_core::trend::days_since_origin;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    #[command(flatten)]
    trend: TrendArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn parse_scores(items: &[String]) -> Result<HashMap<Benchmark, f64>> {
    let mut out = HashMap::new();
    for item in items {
        let (k, v) = item
            .split_once('=')
            .with_context(|| format!("--scores: `{item}` is not benchmark=percent"))?;
        let b = Benchmark::parse(k)?;
        let v: f64 = v
            .trim()
            .parse()
            .with_context(|| format!("--scores: `{v}` for {k} is not a number"))?;
        if !(0.0..=100.0).contains(&v) || !v.is_finite() {
            bail!("--scores: {k}={v} is outside 0–100 (percent)");
        }
        if out.insert(b, v / 100.0).is_some() {
            bail!("--scores: {k} given twice");
        }
    }
    Ok(out)
}

/// Which lm-evaluation-harness task and metric feed each benchmark, in order of
/// preference.
const LM_EVAL_MAP: [(Benchmark, &[&str], &[&str]); 5] = [
    (Benchmark::Mmlu, &["mmlu"], &["acc,none", "acc"]),
    (
        Benchmark::Bbh,
        &["bbh_cot_fewshot", "bbh"],
        &[
            "exact_match,get-answer",
            "exact_match,flexible-extract",
            "exact_match,none",
            "exact_match",
        ],
    ),
    (
        Benchmark::Math,
        &["minerva_math", "hendrycks_math"],
        &["exact_match,none", "math_verify,none", "exact_match"],
    ),
    (
        Benchmark::Humaneval,
        &["humaneval"],
        &["pass@1,create_test", "pass@1,none", "pass@1"],
    ),
    (
        Benchmark::Mbpp,
        &["mbpp"],
        &["pass_at_1,none", "pass@1,none", "pass_at_1", "pass@1"],
    ),
];

/// Read the five benchmarks from an lm-evaluation-harness `results` file; returns
/// the scores and one line per benchmark saying what was read (or not found).
pub fn read_lm_eval(path: &Path) -> Result<(HashMap<Benchmark, f64>, Vec<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let results = doc
        .get("results")
        .and_then(|r| r.as_object())
        .with_context(|| {
            format!(
                "{}: no `results` object (is this an lm-evaluation-harness results file?)",
                path.display()
            )
        })?;
    let mut scores = HashMap::new();
    let mut notes = Vec::new();
    for (bench, tasks, metrics) in LM_EVAL_MAP {
        let found = tasks.iter().find_map(|t| {
            let entry = results.get(*t)?.as_object()?;
            metrics
                .iter()
                .find_map(|m| Some((*t, *m, entry.get(*m)?.as_f64()?)))
        });
        match found {
            Some((task, metric, v)) => {
                if !(0.0..=1.0).contains(&v) {
                    bail!(
                        "{}: results.{task}.\"{metric}\" = {v} is outside [0, 1]",
                        path.display()
                    );
                }
                notes.push(format!(
                    "{}: results.{task} metric \"{metric}\" = {v}",
                    bench.key()
                ));
                scores.insert(bench, v);
            }
            None => notes.push(format!(
                "{}: not found (looked for tasks {})",
                bench.key(),
                tasks.join(", ")
            )),
        }
    }
    if scores.is_empty() {
        bail!(
            "{}: none of the five benchmarks found in `results`",
            path.display()
        );
    }
    Ok((scores, notes))
}

pub fn run(args: DensityArgs) -> Result<()> {
    if !(args.size_b > 0.0 && args.size_b.is_finite()) {
        bail!(
            "--size must be a positive number of billions, got {}",
            args.size_b
        );
    }
    let release = parse_date(&args.date).map_err(|m| anyhow::anyhow!("--date: {m}"))?;
    let (scores, read_notes) = match &args.lm_eval {
        Some(p) => read_lm_eval(p)?,
        None if args.scores.is_empty() => bail!("give --scores or --lm-eval"),
        None => (parse_scores(&args.scores)?, Vec::new()),
    };
    let reg = args.registry.load()?;
    if reg.get(&args.name).is_some() {
        bail!(
            "model `{}` is already in {}; choose another --name",
            args.name,
            reg.name
        );
    }
    let opts = args.cal.options()?;
    let cal = args.cal.spec()?.build(&reg, opts.basis)?;
    let unc = args.cal.uncertainty();
    let model = Model {
        name: args.name.clone(),
        family: "user".into(),
        weights: Weights::Base,
        params_b: args.size_b,
        nonemb_b: None,
        active_b: None,
        tokens_t: args.tokens,
        release,
        scores,
        parent: None,
        in_densing_fig1: false,
        source: "user input".into(),
        notes: String::new(),
        line: 0,
    };
    let d = model_density(&model, &cal, &opts);
    let s = study(
        &reg,
        &cal,
        &opts,
        &args.trend.config(unc.replicates, unc.seed)?,
        &|| {},
    )?;
    let t = days_since_origin(release);
    let trend_rho = (s.trend.a * t + s.trend.b).exp();
    let better = s
        .densities
        .iter()
        .filter(|o| match (o.rho.bound_or_value(), d.rho.value()) {
            (Some(o), Some(me)) => o > me,
            _ => false,
        })
        .count();
    let rank = d.rho.value().map(|_| better + 1);
    let vs_trend = d.rho.value().map(|r| r / trend_rho);
    if args.json {
        println!(
            "{}",
            json!({
                "reference": cal.description,
                "model": d,
                "rank": rank,
                "of": s.densities.len() + 1,
                "trend_rho_at_release": trend_rho,
                "ratio_to_trend": vs_trend,
                "scores_read": read_notes,
            })
        );
        return Ok(());
    }
    println!("{} against {}", d.name, cal.description);
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
    println!("density {}", super::run::rho_text(&d));
    match (rank, vs_trend) {
        (Some(r), Some(v)) => println!(
            "rank {r} of {} registry models; {:.2}× the trend line's ρ_max on {} ({})",
            s.densities.len() + 1,
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
