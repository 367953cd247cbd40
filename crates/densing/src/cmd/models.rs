//! `densing models`: list the registry, check your own registry files strictly,
//! and add a validated model to your own file.

use super::common::{non_empty, positive, RegistryArgs};
use crate::outputs::Outputs;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use densing_analysis::{parse_scores, read_lm_eval};
use densing_core::benchmark::PAPER;
use densing_core::registry::{
    is_score_table, parse_date, percent_text, today, Benchmark, Score, BUNDLED_CSV, MODELS_COLUMNS,
    SCORE_COLUMNS,
};
use densing_core::table::Table;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ModelsArgs {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Write the (layered) registry to DIR/models.csv (wide: the five standard
    /// columns) and DIR/scores.csv (long: every other score) instead of listing it.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Action {
    /// Strict validation of models or scores files: every problem as
    /// file:line: field, exit status 1 if any.
    Check(CheckArgs),
    /// Append one validated model (and its scores) to your own registry file.
    Add(Box<AddArgs>),
}

#[derive(Args)]
struct CheckArgs {
    /// Models or scores CSV files, each checked on top of the registry and the
    /// files before it.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum WeightsArg {
    Base,
    Chat,
}

#[derive(Args)]
struct AddArgs {
    /// Your models file to append the row to (created with the registry's header
    /// if absent). The bundled registry is never written.
    #[arg(long)]
    to: PathBuf,
    /// Your scores file (long form), for scores that are not one of the five
    /// models.csv columns under its standard protocol.
    #[arg(long)]
    scores_to: Option<PathBuf>,
    #[arg(long, value_parser = non_empty)]
    name: String,
    #[arg(long, value_parser = non_empty)]
    family: String,
    #[arg(long, value_enum, default_value = "base")]
    weights: WeightsArg,
    /// Total parameters, billions.
    #[arg(long, value_parser = positive)]
    params: f64,
    /// Non-embedding parameters, billions.
    #[arg(long, value_parser = positive)]
    nonemb: Option<f64>,
    /// Active parameters (mixture of experts), billions.
    #[arg(long, value_parser = positive)]
    active: Option<f64>,
    /// Training tokens, trillions.
    #[arg(long, value_parser = positive)]
    tokens: Option<f64>,
    /// Release date, YYYY-MM-DD.
    #[arg(long)]
    date: String,
    /// The model this one was pruned or distilled from.
    #[arg(long)]
    parent: Option<String>,
    /// Where the row's numbers come from (required: every row has a source).
    #[arg(long, value_parser = non_empty)]
    source: String,
    #[arg(long, default_value = "")]
    notes: String,
    /// Scores in percent: mmlu=65.2,mmlu_pro=40,...
    #[arg(long, value_delimiter = ',', conflicts_with = "lm_eval")]
    scores: Vec<String>,
    /// Protocol of the --scores (default: each benchmark's standard protocol).
    #[arg(long, requires = "scores")]
    protocol: Option<String>,
    /// Shots of the --scores (default: each benchmark's standard shots).
    #[arg(long, requires = "scores")]
    shots: Option<u32>,
    /// lm-evaluation-harness results JSON to read the scores from.
    #[arg(long)]
    lm_eval: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(args: ModelsArgs) -> Result<()> {
    match args.action {
        Some(Action::Check(c)) => check(c),
        Some(Action::Add(a)) => add(*a),
        None => list(&args.registry, args.json, args.export.as_deref()),
    }
}

fn list(registry: &RegistryArgs, json: bool, export: Option<&Path>) -> Result<()> {
    let reg = registry.load()?;
    if let Some(dir) = export {
        let head = format!(
            "# exported by `densing models --export` from {}\n",
            reg.name
        );
        let mut files = Outputs::new();
        files.folder(dir)?;
        files.write(
            &dir.join("models.csv"),
            (head.clone() + &reg.wide_csv()?).as_bytes(),
        )?;
        files.write(
            &dir.join("scores.csv"),
            (head + &reg.long_csv()?).as_bytes(),
        )?;
        files.commit()?;
        println!("wrote {} models to {}", reg.models.len(), dir.display());
        return Ok(());
    }
    if json {
        println!("{}", serde_json::to_string(&reg.models)?);
        return Ok(());
    }
    println!(
        "{:<28} {:<10} {:<5} {:>8} {:>8} {:>7} {:<10}  mmlu   bbh  math    he  mbpp  fig1  other",
        "model", "family", "kind", "params_B", "nonemb_B", "tok_T", "released"
    );
    let paper = Benchmark::paper();
    for m in &reg.models {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v}"));
        let scores: Vec<String> = paper
            .iter()
            .map(|b| {
                m.score(*b)
                    .map_or("-".into(), |s| format!("{:.1}", s * 100.0))
            })
            .collect();
        let other: Vec<String> = m
            .scores
            .iter()
            .filter(|(b, _)| !b.is_paper())
            .map(|(b, s)| format!("{b}={:.1}", s.value * 100.0))
            .collect();
        println!(
            "{:<28} {:<10} {:<5} {:>8} {:>8} {:>7} {:<10} {:>5} {:>5} {:>5} {:>5} {:>5}  {:<4}  {}",
            m.name,
            m.family,
            format!("{:?}", m.weights).to_lowercase(),
            m.params_b,
            opt(m.nonemb_b),
            opt(m.tokens_t),
            m.release,
            scores[0],
            scores[1],
            scores[2],
            scores[3],
            scores[4],
            if m.in_densing_fig1 { "yes" } else { "" },
            other.join(" ")
        );
    }
    println!("\n{} models in {} (valid)", reg.models.len(), reg.name);
    Ok(())
}

fn check(args: CheckArgs) -> Result<()> {
    let mut reg = args.registry.load()?;
    let today = today();
    let mut problems = 0;
    for f in &args.files {
        let table = match Table::read(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                problems += 1;
                continue;
            }
        };
        let errors = reg.check(&table, today);
        for e in &errors {
            eprintln!("{e}");
        }
        problems += errors.len();
        if errors.is_empty() {
            let kind = if is_score_table(&table) {
                "scores"
            } else {
                "models"
            };
            let before = reg.replacements.len();
            reg.layer(&table)?;
            println!("{}: {} {kind}, valid", table.name, table.len());
            for r in &reg.replacements[before..] {
                println!("  note: {r}");
            }
        }
    }
    if problems > 0 {
        bail!("{problems} problem(s) found");
    }
    Ok(())
}

/// Where each of a new model's scores goes: the models row when it is a paper
/// benchmark under its standard shots (and, for `--scores`, its standard
/// protocol; an lm-evaluation-harness run names its task instead), else the long
/// scores file.
fn split_scores(
    scores: BTreeMap<Benchmark, Score>,
    from_lm_eval: bool,
) -> (BTreeMap<Benchmark, Score>, BTreeMap<Benchmark, Score>) {
    scores.into_iter().partition(|(b, s)| {
        b.is_paper() && s.shots == b.def().shots && (from_lm_eval || s.protocol == b.def().protocol)
    })
}

/// One CSV record in the column order of `header`, from named values.
/// Every value must have its column in `file`'s header, unless it is empty or
/// what the reader assumes for a missing column (`weights` base, not in Fig. 1).
fn record(
    file: &Path,
    header: &csv::StringRecord,
    values: &BTreeMap<&str, String>,
) -> Result<String> {
    let assumed = |col: &str, v: &str| {
        v.is_empty() || (col, v) == ("weights", "base") || (col, v) == ("in_densing_fig1", "no")
    };
    for (col, v) in values {
        if !assumed(col, v) && !header.iter().any(|h| h.eq_ignore_ascii_case(col)) {
            bail!(
                "{}: has no `{col}` column for the value {v}",
                file.display()
            );
        }
    }
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(header.iter().map(|h| {
        values
            .get(h.to_ascii_lowercase().as_str())
            .map_or("", String::as_str)
    }))?;
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// The existing text of a user file (or a new one with `header`), its header,
/// and a check that it is not the bundled registry.
fn user_file(path: &Path, comment: &str, header: &str) -> Result<(String, csv::StringRecord)> {
    let text = if path.exists() {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    } else {
        format!("{comment}\n{header}\n")
    };
    if text.lines().next() == BUNDLED_CSV.lines().next() {
        bail!(
            "{} is a copy of the bundled registry; add your models to a file of your own",
            path.display()
        );
    }
    let body: String = text
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .take(1)
        .collect();
    let head = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(body.as_bytes())
        .records()
        .next()
        .transpose()?
        .with_context(|| format!("{}: no header line", path.display()))?;
    let mut text = text;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok((text, head))
}

fn add(a: AddArgs) -> Result<()> {
    let release = parse_date(&a.date).map_err(|m| anyhow::anyhow!("--date: {m}"))?;
    let (scores, read_notes) = match &a.lm_eval {
        Some(p) => read_lm_eval(p)?,
        None => (
            parse_scores(&a.scores, a.shots, a.protocol.as_deref(), &a.source)?,
            Vec::new(),
        ),
    };
    let (wide, long) = split_scores(scores, a.lm_eval.is_some());
    let mut notes = a.notes.clone();
    for n in &read_notes {
        notes += &format!("{}read {n}", if notes.is_empty() { "" } else { "; " });
    }
    if !long.is_empty() && a.scores_to.is_none() {
        bail!(
            "{} not a models.csv column under its standard protocol (shots as data/benchmarks.csv says); give --scores-to FILE to keep {} with its protocol",
            long.keys().map(|b| b.key()).collect::<Vec<_>>().join(", "),
            if long.len() == 1 { "it" } else { "them" }
        );
    }
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut values: BTreeMap<&str, String> = BTreeMap::from([
        ("model", a.name.clone()),
        ("family", a.family.clone()),
        (
            "weights",
            match a.weights {
                WeightsArg::Base => "base",
                WeightsArg::Chat => "chat",
            }
            .into(),
        ),
        ("params_billion", a.params.to_string()),
        ("nonemb_params_billion", opt(a.nonemb)),
        ("active_params_billion", opt(a.active)),
        ("training_tokens_trillion", opt(a.tokens)),
        ("release_date", release.to_string()),
        ("parent", a.parent.clone().unwrap_or_default()),
        ("in_densing_fig1", "no".into()),
        ("source", a.source.clone()),
        ("notes", notes),
    ]);
    for key in PAPER {
        let b = Benchmark::parse(key)?;
        values.insert(
            key,
            wide.get(&b)
                .map_or(String::new(), |s| percent_text(s.value)),
        );
    }
    let today = today();
    let reg = a.registry.load()?;
    let (text, header) = user_file(
        &a.to,
        "# densing user registry (densing models add)",
        &MODELS_COLUMNS.join(","),
    )?;
    let models_text = text + &record(&a.to, &header, &values)?;
    let models = Table::parse(&a.to.display().to_string(), &models_text)?;
    fail_on(reg.check(&models, today))?;
    let mut layered = reg.clone();
    layered.layer(&models)?;
    let scores_text = match &a.scores_to {
        Some(path) if !long.is_empty() => {
            let (mut text, header) = user_file(
                path,
                "# densing user scores (densing models add)",
                &SCORE_COLUMNS.join(","),
            )?;
            for (b, s) in &long {
                let row = BTreeMap::from([
                    ("model", a.name.clone()),
                    ("benchmark", b.key().to_string()),
                    ("shots", s.shots.map_or(String::new(), |n| n.to_string())),
                    ("protocol", s.protocol.clone().unwrap_or_default()),
                    ("value", percent_text(s.value)),
                    ("source", s.source.clone().unwrap_or_default()),
                ]);
                text += &record(path, &header, &row)?;
            }
            let table = Table::parse(&path.display().to_string(), &text)?;
            fail_on(layered.check(&table, today))?;
            layered.layer(&table)?;
            Some((path, text))
        }
        _ => None,
    };
    let mut files = Outputs::new();
    files.write(&a.to, models_text.as_bytes())?;
    if let Some((path, text)) = &scores_text {
        files.write(path, text.as_bytes())?;
    }
    files.commit()?;
    println!("added {} to {}", a.name, a.to.display());
    if let Some((path, _)) = scores_text {
        println!(
            "added its {} to {}",
            long.keys().map(|b| b.key()).collect::<Vec<_>>().join(", "),
            path.display()
        );
    }
    for n in &read_notes {
        println!("  read {n}");
    }
    for r in layered.replacements.iter().skip(reg.replacements.len()) {
        println!("  note: {r}");
    }
    Ok(())
}

/// Print every problem and fail if there is one.
fn fail_on(errors: Vec<densing_core::Error>) -> Result<()> {
    for e in &errors {
        eprintln!("{e}");
    }
    if !errors.is_empty() {
        bail!("{} problem(s); nothing written", errors.len());
    }
    Ok(())
}
