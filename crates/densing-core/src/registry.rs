//! The model registry: open LLMs with parameter counts, training tokens, release
//! dates and benchmark scores, each with its source and protocol.
//!
//! Two tables feed it: the wide `models.csv` (one row per model; its five score
//! columns hold the paper's benchmarks under their standard protocols, see
//! [`crate::benchmark`]) and the long `scores.csv` (one row per model, benchmark
//! and protocol, for any benchmark in the catalog). Both bundled copies are
//! embedded in the binary. Users layer their own files on top: a later model row
//! with the same name replaces the earlier one, a later score for the same model,
//! benchmark and protocol replaces the earlier score, and every replacement is
//! recorded in [`Registry::replacements`] so the output can say so.
//!
//! A model uses one score per benchmark: the one under the benchmark's standard
//! shots where it has one, else the first given; scores under other protocols
//! are kept as [`Model::alternates`].

pub use crate::benchmark::Benchmark;
use crate::benchmark::PAPER;
use crate::error::{Error, Result};
use crate::table::{Row, Table};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The bundled registry, compiled in so `densing run` needs no files.
pub const BUNDLED_CSV: &str = include_str!("../../../data/models.csv");
pub const BUNDLED_NAME: &str = "data/models.csv (bundled)";
/// The bundled long score table.
pub const BUNDLED_SCORES_CSV: &str = include_str!("../../../data/scores.csv");
pub const BUNDLED_SCORES_NAME: &str = "data/scores.csv (bundled)";

/// Which parameter count densities are computed against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamsBasis {
    /// All parameters.
    Total,
    /// Non-embedding parameters where the registry knows them, else total (the
    /// paper's labels use non-embedding counts).
    Nonemb,
    /// Mixture-of-experts active parameters where known, else as `Nonemb`.
    Active,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weights {
    Base,
    Chat,
}

/// One benchmark score with the protocol it was measured under.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Fraction in [0, 1] (files hold percent).
    pub value: f64,
    pub shots: Option<u32>,
    /// e.g. "5-shot", "3-shot CoT", "0-shot pass@1"; `None` = not stated.
    pub protocol: Option<String>,
    /// Where the number was read; `None` = not stated.
    pub source: Option<String>,
    /// `file:line` the score was read from.
    pub origin: String,
}

impl Score {
    /// Same shots and protocol (a later such score replaces an earlier one).
    pub fn same_protocol(&self, other: &Score) -> bool {
        self.shots == other.shots
            && self.protocol.as_deref().map(str::to_ascii_lowercase)
                == other.protocol.as_deref().map(str::to_ascii_lowercase)
    }
}

/// One registry row.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub name: String,
    pub family: String,
    pub weights: Weights,
    /// Total parameters, billions.
    pub params_b: f64,
    pub nonemb_b: Option<f64>,
    pub active_b: Option<f64>,
    /// Training tokens, trillions.
    pub tokens_t: Option<f64>,
    pub release: NaiveDate,
    /// The score used per benchmark, in catalog order, each with its protocol.
    pub scores: BTreeMap<Benchmark, Score>,
    /// Scores under other protocols than the one used.
    pub alternates: Vec<(Benchmark, Score)>,
    pub parent: Option<String>,
    pub in_densing_fig1: bool,
    pub source: String,
    pub notes: String,
    /// The file and line the row was read from.
    pub file: String,
    pub line: u64,
}

impl Model {
    /// Parameters (billions) on the chosen basis.
    pub fn params(&self, basis: ParamsBasis) -> f64 {
        let nonemb = self.nonemb_b.unwrap_or(self.params_b);
        match basis {
            ParamsBasis::Total => self.params_b,
            ParamsBasis::Nonemb => nonemb,
            ParamsBasis::Active => self.active_b.unwrap_or(nonemb),
        }
    }

    /// The score (fraction) on a benchmark, if the registry has one.
    pub fn score(&self, b: Benchmark) -> Option<f64> {
        self.scores.get(&b).map(|s| s.value)
    }

    pub(crate) fn origin(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Add a score: it replaces one under the same protocol (returned), else it
    /// is used if it is the first for its benchmark or the only one under the
    /// standard shots, else it is kept as an alternate.
    pub fn add_score(&mut self, b: Benchmark, score: Score) -> Option<Score> {
        if let Some(used) = self.scores.get_mut(&b) {
            if used.same_protocol(&score) {
                return Some(std::mem::replace(used, score));
            }
        }
        if let Some((_, alt)) = self
            .alternates
            .iter_mut()
            .find(|(ab, a)| *ab == b && a.same_protocol(&score))
        {
            return Some(std::mem::replace(alt, score));
        }
        let standard = |s: &Score| b.def().shots.is_some() && s.shots == b.def().shots;
        match self.scores.get(&b) {
            Some(used) if standard(used) || !standard(&score) => self.alternates.push((b, score)),
            _ => {
                if let Some(old) = self.scores.insert(b, score) {
                    self.alternates.push((b, old));
                }
            }
        }
        None
    }
}

/// A model row or a score that a later layer replaced.
#[derive(Debug, Clone, Serialize)]
pub struct Replacement {
    pub model: String,
    /// `None` when the whole model row was replaced.
    pub benchmark: Option<Benchmark>,
    /// `file:line` of the replaced and of the replacing entry.
    pub old: String,
    pub new: String,
}

impl std::fmt::Display for Replacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.benchmark {
            None => write!(
                f,
                "model `{}`: row {} replaces {}",
                self.model, self.new, self.old
            ),
            Some(b) => write!(
                f,
                "model `{}`: {b} score {} replaces {}",
                self.model, self.new, self.old
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Registry {
    /// What messages call it: the files it was read from, in layer order.
    pub name: String,
    pub models: Vec<Model>,
    /// Entries of earlier layers that later layers replaced.
    pub replacements: Vec<Replacement>,
    /// Rows left out under [`RowPolicy::Lenient`], each with its problems.
    pub dropped: Vec<Dropped>,
    /// Position in `models` by lowercased name.
    pub(crate) index: HashMap<String, usize>,
}

/// The columns of `models.csv`, in its order.
pub const MODELS_COLUMNS: [&str; 17] = [
    "model",
    "family",
    "weights",
    "params_billion",
    "nonemb_params_billion",
    "active_params_billion",
    "training_tokens_trillion",
    "release_date",
    "mmlu",
    "bbh",
    "math",
    "humaneval",
    "mbpp",
    "parent",
    "in_densing_fig1",
    "source",
    "notes",
];
/// Columns every models file needs (score columns are optional; every row
/// needs a source).
pub(crate) const REQUIRED: [&str; 5] = [
    "model",
    "family",
    "params_billion",
    "release_date",
    "source",
];
/// Columns of a long score table.
pub const SCORE_COLUMNS: [&str; 6] = ["model", "benchmark", "shots", "protocol", "value", "source"];

/// Today's date (UTC) from the system clock: release dates after it are in the
/// future.
pub fn today() -> NaiveDate {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date") + chrono::Days::new(days)
}

/// Parse a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a valid date (YYYY-MM-DD)"))
}

/// Whether a table is a long score table (it has `benchmark` and `value`
/// columns) rather than a models table.
pub fn is_score_table(table: &Table) -> bool {
    table.has("benchmark") && table.has("value")
}

/// A fraction as the percent a file holds, without float noise (0.702 → 70.2).
pub fn percent_text(v: f64) -> String {
    let p = v * 100.0;
    let rounded = (p * 1e6).round() / 1e6;
    rounded.to_string()
}

fn csv_error(e: csv::Error) -> Error {
    Error::Invalid(format!("cannot write CSV: {e}"))
}

fn csv_text(w: csv::Writer<Vec<u8>>) -> Result<String> {
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Invalid(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid(format!("CSV is not UTF-8: {e}")))
}

/// A score in percent, checked to lie in 0–100, as a fraction.
fn percent(row: &Row, column: &str, v: f64) -> Result<f64> {
    if !(0.0..=100.0).contains(&v) {
        return Err(row.error(column, format!("score {v} is outside 0–100 (percent)")));
    }
    Ok(v / 100.0)
}

/// One row of a models table; the paper's five columns become scores under the
/// catalog's standard protocol.
pub(crate) fn model_from_row(row: &Row, file: &str) -> Result<Model> {
    let name = row.required("model")?.to_string();
    let family = row.required("family")?.to_string();
    let weights = match row.text("weights").map(str::to_ascii_lowercase).as_deref() {
        None | Some("base") => Weights::Base,
        Some("chat") => Weights::Chat,
        Some(w) => return Err(row.error("weights", format!("`{w}` is not base or chat"))),
    };
    let params_b = row.positive("params_billion")?;
    let positive_opt = |col: &str| -> Result<Option<f64>> {
        match row.opt_number(col)? {
            Some(v) if v <= 0.0 => Err(row.error(col, format!("must be > 0, got {v}"))),
            v => Ok(v),
        }
    };
    let nonemb_b = positive_opt("nonemb_params_billion")?;
    let active_b = positive_opt("active_params_billion")?;
    let tokens_t = positive_opt("training_tokens_trillion")?;
    let date_text = row.required("release_date")?;
    let release = parse_date(date_text).map_err(|m| row.error("release_date", m))?;
    let source = row.text("source").map(str::to_string);
    let mut scores = BTreeMap::new();
    for key in PAPER {
        if let Some(v) = row.opt_number(key)? {
            let b = Benchmark::parse(key)?;
            scores.insert(
                b,
                Score {
                    value: percent(row, key, v)?,
                    shots: b.def().shots,
                    protocol: b.def().protocol.clone(),
                    source: source.clone(),
                    origin: format!("{file}:{}", row.line),
                },
            );
        }
    }
    Ok(Model {
        name,
        family,
        weights,
        params_b,
        nonemb_b,
        active_b,
        tokens_t,
        release,
        scores,
        alternates: Vec::new(),
        parent: row.text("parent").map(str::to_string),
        in_densing_fig1: row.flag("in_densing_fig1")?,
        source: source.unwrap_or_default(),
        notes: row.text("notes").unwrap_or_default().to_string(),
        file: file.to_string(),
        line: row.line,
    })
}

/// One row of a long score table: (model name, benchmark, score).
pub(crate) fn score_from_row(row: &Row, file: &str) -> Result<(String, Benchmark, Score)> {
    let model = row.required("model")?.to_string();
    let bench_text = row.required("benchmark")?;
    let b = Benchmark::parse(bench_text).map_err(|e| row.error("benchmark", e.to_string()))?;
    let shots = row.opt_count("shots")?;
    let value = percent(row, "value", row.number("value")?)?;
    Ok((
        model,
        b,
        Score {
            value,
            shots,
            protocol: row.text("protocol").map(str::to_string),
            source: row.text("source").map(str::to_string),
            origin: format!("{file}:{}", row.line),
        },
    ))
}
impl Registry {
    /// Whether `s` is what the wide column of `b` holds for model `m`: a paper
    /// benchmark under its standard shots and protocol, with the row's source.
    fn fits_wide(m: &Model, b: Benchmark, s: &Score) -> bool {
        b.is_paper()
            && s.shots == b.def().shots
            && s.protocol == b.def().protocol
            && s.source.as_deref().unwrap_or_default() == m.source
    }

    /// The models in `models.csv`'s columns, the five score columns filled with
    /// the scores they can hold ([`Registry::long_csv`] has the rest).
    pub fn wide_csv(&self) -> Result<String> {
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(MODELS_COLUMNS).map_err(csv_error)?;
        for m in &self.models {
            let mut rec = vec![
                m.name.clone(),
                m.family.clone(),
                format!("{:?}", m.weights).to_lowercase(),
                m.params_b.to_string(),
                opt(m.nonemb_b),
                opt(m.active_b),
                opt(m.tokens_t),
                m.release.to_string(),
            ];
            for key in PAPER {
                let b = Benchmark::parse(key)?;
                rec.push(
                    m.scores
                        .get(&b)
                        .filter(|s| Registry::fits_wide(m, b, s))
                        .map_or(String::new(), |s| percent_text(s.value)),
                );
            }
            rec.extend([
                m.parent.clone().unwrap_or_default(),
                if m.in_densing_fig1 { "yes" } else { "no" }.into(),
                m.source.clone(),
                m.notes.clone(),
            ]);
            w.write_record(&rec).map_err(csv_error)?;
        }
        csv_text(w)
    }

    /// Every score the wide table cannot hold (alternates included), in long form.
    pub fn long_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(SCORE_COLUMNS).map_err(csv_error)?;
        for m in &self.models {
            let used = m
                .scores
                .iter()
                .filter(|(b, s)| !Registry::fits_wide(m, **b, s));
            for (b, s) in used.chain(m.alternates.iter().map(|(b, s)| (b, s))) {
                w.write_record([
                    m.name.as_str(),
                    b.key(),
                    &s.shots.map_or(String::new(), |n| n.to_string()),
                    s.protocol.as_deref().unwrap_or_default(),
                    &percent_text(s.value),
                    s.source.as_deref().unwrap_or_default(),
                ])
                .map_err(csv_error)?;
            }
        }
        csv_text(w)
    }

    /// The model of that name (case-insensitive), by hash lookup.
    pub fn get(&self, name: &str) -> Option<&Model> {
        let i = *self.index.get(&name_key(name))?;
        self.models
            .get(i)
            .filter(|m| m.name.eq_ignore_ascii_case(name))
    }

    pub fn families(&self) -> Vec<&str> {
        let mut f: Vec<&str> = self.models.iter().map(|m| m.family.as_str()).collect();
        f.sort_unstable();
        f.dedup();
        f
    }
}

/// Names match case-insensitively everywhere: the key of a model's name.
pub(crate) fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A row that `--lenient` left out, with every rule it broke.
#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    /// `file:line` of the row.
    pub origin: String,
    /// Each problem as `file:line: field `name`: message`.
    pub problems: Vec<String>,
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dropped row {}: {}",
            self.origin,
            self.problems.join("; ")
        )
    }
}

/// What to do with a row that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowPolicy {
    /// Refuse the whole registry with the row's `file:line: field` (the default).
    #[default]
    Strict,
    /// Drop the row and record why in [`crate::registry::Registry::dropped`]
    /// (`--lenient`); the output lists every dropped row.
    Lenient,
}
