//! Validated readers for the two fit inputs: a reference *ladder* of training runs
//! (N, D, L) and *anchor* models (L, S).

use crate::error::{Error, Result};
use crate::table::Table;
use std::collections::HashMap;
use std::path::Path;

/// One training run of the reference ladder: N parameters trained on D tokens
/// reached conditional loss L (nats per token).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LadderPoint {
    pub params: f64,
    pub tokens: f64,
    pub loss: f64,
    /// Run identifier: bootstrap resamples whole runs, so checkpoints of one run
    /// stay together. Defaults to one run per row.
    pub run: String,
    pub task: Option<String>,
    /// Benchmark score of this checkpoint, fraction in [0, 1] (optional column
    /// `score`; step 2 of `densing predict` fits it against the loss).
    pub score: Option<f64>,
    /// Training step (optional column `step`). A ladder with steps is a ladder
    /// of in-training evaluations: each run's final point is the mean of its last
    /// few evaluations ([`crate::predict`]), not every row.
    pub step: Option<f64>,
    /// Line in the source file, for messages.
    pub line: u64,
}

/// One anchor model: its conditional loss L and benchmark score S in [0, 1].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnchorPoint {
    pub loss: f64,
    pub score: f64,
    pub model: Option<String>,
    pub task: Option<String>,
    /// Held out of the fit and used only to check it (the paper holds out > 4B).
    pub heldout: bool,
    pub line: u64,
}

impl AnchorPoint {
    /// An anchor not read from a file (no model, task or line), in the fit.
    pub fn new(loss: f64, score: f64) -> Self {
        AnchorPoint {
            loss,
            score,
            model: None,
            task: None,
            heldout: false,
            line: 0,
        }
    }
}

/// Read a ladder CSV: required columns `params`, `tokens`, `loss`; optional `run`,
/// `task`, `score`, `step`; everything else ignored.
pub fn read_ladder(path: &Path) -> Result<Vec<LadderPoint>> {
    parse_ladder(&Table::read(path)?)
}

pub fn parse_ladder(table: &Table) -> Result<Vec<LadderPoint>> {
    table.require(&["params", "tokens", "loss"])?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let params = row.positive("params")?;
        let tokens = row.positive("tokens")?;
        let loss = row.positive("loss")?;
        let run = row
            .text("run")
            .map_or_else(|| format!("row{}", row.line), str::to_string);
        let task = row.text("task").map(str::to_string);
        let score = row.opt_number("score")?;
        if let Some(s) = score.filter(|s| !(0.0..=1.0).contains(s)) {
            return Err(row.error(
                "score",
                format!("{s} is outside [0, 1] (scores are fractions, not percent)"),
            ));
        }
        let step = row.opt_number("step")?;
        let key = format!("{params:e}|{tokens:e}|{run}|{task:?}");
        if row.text("run").is_none() {
            // Without run ids a repeated (N, D, task) is a copy-paste slip.
            let key = format!("{params:e}|{tokens:e}|{task:?}");
            if let Some(first) = seen.insert(key, row.line) {
                return Err(row.error(
                    "params",
                    format!("duplicate row: (params, tokens) already given on line {first}"),
                ));
            }
        } else if let Some(first) = seen.insert(key, row.line) {
            return Err(row.error(
                "run",
                format!("duplicate row: (params, tokens, run) already given on line {first}"),
            ));
        }
        out.push(LadderPoint {
            params,
            tokens,
            loss,
            run,
            task,
            score,
            step,
            line: row.line,
        });
    }
    if out.is_empty() {
        return Err(Error::file(&table.name, "no data rows"));
    }
    Ok(out)
}

/// Read an anchors CSV: required `loss`, `score` (fraction in [0, 1]); optional
/// `model`, `task`, `heldout` (yes/no).
pub fn read_anchors(path: &Path) -> Result<Vec<AnchorPoint>> {
    parse_anchors(&Table::read(path)?)
}

pub fn parse_anchors(table: &Table) -> Result<Vec<AnchorPoint>> {
    table.require(&["loss", "score"])?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let loss = row.positive("loss")?;
        let score = row.number("score")?;
        if !(0.0..=1.0).contains(&score) {
            return Err(row.error(
                "score",
                format!("{score} is outside [0, 1] (scores are fractions, not percent)"),
            ));
        }
        let model = row.text("model").map(str::to_string);
        let task = row.text("task").map(str::to_string);
        let key = match &model {
            Some(m) => format!("{m}|{task:?}"),
            None => format!("{loss:e}|{score:e}|{task:?}"),
        };
        if let Some(first) = seen.insert(key, row.line) {
            let field = if model.is_some() { "model" } else { "loss" };
            return Err(row.error(
                field,
                format!("duplicate row: already given on line {first}"),
            ));
        }
        out.push(AnchorPoint {
            loss,
            score,
            model,
            task,
            heldout: row.flag("heldout")?,
            line: row.line,
        });
    }
    if out.is_empty() {
        return Err(Error::file(&table.name, "no data rows"));
    }
    Ok(out)
}
