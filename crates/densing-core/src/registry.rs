//! The model registry: open LLMs with parameter counts, training tokens, release
//! dates and benchmark scores, each with its source. The bundled copy
//! (`data/models.csv`) is embedded in the binary; users may pass their own file
//! with the same columns.

use crate::error::{Error, Result};
use crate::table::Table;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;

/// The bundled registry, compiled in so `densing run` needs no files.
pub const BUNDLED_CSV: &str = include_str!("../../../data/models.csv");
pub const BUNDLED_NAME: &str = "data/models.csv (bundled)";

/// The five benchmarks of the Densing paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Benchmark {
    Mmlu,
    Bbh,
    Math,
    Humaneval,
    Mbpp,
}

impl Benchmark {
    pub const ALL: [Benchmark; 5] = [
        Benchmark::Mmlu,
        Benchmark::Bbh,
        Benchmark::Math,
        Benchmark::Humaneval,
        Benchmark::Mbpp,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Benchmark::Mmlu => "mmlu",
            Benchmark::Bbh => "bbh",
            Benchmark::Math => "math",
            Benchmark::Humaneval => "humaneval",
            Benchmark::Mbpp => "mbpp",
        }
    }

    pub fn parse(s: &str) -> Result<Benchmark> {
        Benchmark::ALL
            .into_iter()
            .find(|b| b.key() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown benchmark `{s}`; expected one of mmlu, bbh, math, humaneval, mbpp"
                ))
            })
    }

    /// Chance-level score, the floor of a calibration curve: 4-option multiple
    /// choice for MMLU; the others are generative (exact match / pass@1) with no
    /// guessing floor.
    pub fn floor(self) -> f64 {
        match self {
            Benchmark::Mmlu => 0.25,
            _ => 0.0,
        }
    }
}

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

/// One registry row. Scores are fractions in [0, 1] (the file holds percent).
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
    pub scores: HashMap<Benchmark, f64>,
    pub parent: Option<String>,
    pub in_densing_fig1: bool,
    pub source: String,
    pub notes: String,
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
}

#[derive(Debug, Clone)]
pub struct Registry {
    /// What messages call the file.
    pub name: String,
    pub models: Vec<Model>,
}

const REQUIRED: [&str; 8] = [
    "model",
    "family",
    "params_billion",
    "release_date",
    "mmlu",
    "bbh",
    "math",
    "humaneval",
];

/// Parse a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a valid date (YYYY-MM-DD)"))
}

impl Registry {
    pub fn bundled() -> Result<Registry> {
        Registry::parse(BUNDLED_NAME, BUNDLED_CSV)
    }

    pub fn read(path: &std::path::Path) -> Result<Registry> {
        Registry::from_table(Table::read(path)?, None)
    }

    pub fn parse(name: &str, text: &str) -> Result<Registry> {
        Registry::from_table(Table::parse(name, text)?, None)
    }

    /// This registry plus the rows of `text` (same columns), validated as one
    /// file would be; messages name `name` and the row's line there. A model
    /// already here is a duplicate; a parent may be in either.
    pub fn with_rows(&self, name: &str, text: &str) -> Result<Registry> {
        Registry::from_table(Table::parse(name, text)?, Some(self))
    }

    fn from_table(table: Table, base: Option<&Registry>) -> Result<Registry> {
        table.require(&REQUIRED)?;
        table.require(&["mbpp"])?;
        let mut models: Vec<Model> = Vec::with_capacity(table.len());
        let mut seen: HashMap<String, u64> = HashMap::new();
        for row in table.rows() {
            let name = row
                .text("model")
                .ok_or_else(|| row.error("model", "is empty"))?
                .to_string();
            if let Some(prior) = base.and_then(|b| b.get(&name)) {
                return Err(row.error(
                    "model",
                    format!(
                        "duplicate model `{name}` (already in {}, line {})",
                        base.map_or("", |b| b.name.as_str()),
                        prior.line
                    ),
                ));
            }
            if let Some(first) = seen.insert(name.to_ascii_lowercase(), row.line) {
                return Err(row.error(
                    "model",
                    format!("duplicate model `{name}` (first on line {first})"),
                ));
            }
            let family = row
                .text("family")
                .ok_or_else(|| row.error("family", "is empty"))?
                .to_string();
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
            let date_text = row
                .text("release_date")
                .ok_or_else(|| row.error("release_date", "is empty"))?;
            let release = parse_date(date_text).map_err(|m| row.error("release_date", m))?;
            let mut scores = HashMap::new();
            for b in Benchmark::ALL {
                if let Some(v) = row.opt_number(b.key())? {
                    if !(0.0..=100.0).contains(&v) {
                        return Err(
                            row.error(b.key(), format!("score {v} is outside 0–100 (percent)"))
                        );
                    }
                    scores.insert(b, v / 100.0);
                }
            }
            models.push(Model {
                name,
                family,
                weights,
                params_b,
                nonemb_b,
                active_b,
                tokens_t,
                release,
                scores,
                parent: row.text("parent").map(str::to_string),
                in_densing_fig1: row.flag("in_densing_fig1")?,
                source: row.text("source").unwrap_or_default().to_string(),
                notes: row.text("notes").unwrap_or_default().to_string(),
                line: row.line,
            });
        }
        for m in &models {
            if let Some(p) = &m.parent {
                let in_base = base.is_some_and(|b| b.get(p).is_some());
                if !in_base && !seen.contains_key(&p.to_ascii_lowercase()) {
                    return Err(Error::field(
                        &table.name,
                        m.line,
                        "parent",
                        format!("parent `{p}` of `{}` is not in the registry", m.name),
                    ));
                }
            }
        }
        if models.is_empty() {
            return Err(Error::file(&table.name, "no models"));
        }
        Ok(match base {
            None => Registry {
                name: table.name.clone(),
                models,
            },
            Some(b) => Registry {
                name: format!("{} + {}", b.name, table.name),
                models: b.models.iter().cloned().chain(models).collect(),
            },
        })
    }

    pub fn get(&self, name: &str) -> Option<&Model> {
        self.models
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
    }

    pub fn families(&self) -> Vec<&str> {
        let mut f: Vec<&str> = self.models.iter().map(|m| m.family.as_str()).collect();
        f.sort_unstable();
        f.dedup();
        f
    }
}
