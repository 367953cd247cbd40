//! Append-only, crash-safe results store: one JSONL file per (model, task).
//!
//! Layout: `<out>/<model slug>/<task>.jsonl`, one [`ItemRecord`] per line, each
//! carrying the full key (model hash, tokenizer hash, numeric path, task, template
//! version with the boundary convention, item id). Every record is written with a single `write` of the whole line followed by
//! `fsync`, so a SIGKILL loses at most the item being scored; a torn last line (the
//! kill landed inside the write) is cut off when the store is reopened. Records
//! whose key differs from the current run (another template version or boundary
//! convention, another matmul mode or device, another model file with the same
//! slug, or records written before a key field existed) are kept in the file but
//! never reused.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::backend::Boundary;
use crate::backend::ModelIdentity;

/// The scored result of one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub model: String,
    pub tokenizer: String,
    /// [`ModelIdentity::numerics`]; empty in records written before it was keyed.
    #[serde(default)]
    pub numerics: String,
    pub task: String,
    pub template: String,
    pub item_id: String,
    /// Continuation tokens (of the correct option for multiple choice).
    pub tokens: usize,
    /// Continuation UTF-8 bytes.
    pub bytes: usize,
    /// `-Σ log p(token | prefix)` over the continuation, nats.
    pub loss_sum: f64,
    pub greedy_match: bool,
    /// Multiple choice: the correct option has the highest log-likelihood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
    /// Multiple choice: summed loss of every option, in option order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_losses: Option<Vec<f64>>,
    /// A token spanned the context/continuation join (see `Scored::join_mismatch`).
    #[serde(alias = "join_fallback")]
    pub join_mismatch: bool,
}

/// Largest token or byte count one record may hold: no continuation densing
/// scores comes near it, and the sums of [`Summary::from_records`] over any
/// number of records a file can hold stay far from `usize` overflow.
const MAX_RECORD_COUNT: usize = u32::MAX as usize;

/// Counts a scored record can have (JSON already rules out NaN and infinite
/// losses): tokens and bytes up to [`MAX_RECORD_COUNT`].
fn check_record(r: &ItemRecord) -> std::result::Result<(), String> {
    for (field, v) in [("tokens", r.tokens), ("bytes", r.bytes)] {
        if v > MAX_RECORD_COUNT {
            return Err(format!(
                "field `{field}` = {v} is beyond {MAX_RECORD_COUNT}"
            ));
        }
    }
    Ok(())
}

/// Where the results of one (model, task) live.
pub fn store_path(out: &Path, id: &ModelIdentity, task: &str) -> PathBuf {
    let file: String = task
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.join(id.slug()).join(format!("{file}.jsonl"))
}

/// The fields a record must match to be reused: model, tokenizer, numerics, task,
/// template.
type Key = [String; 5];

fn record_key(r: &ItemRecord) -> [&str; 5] {
    [&r.model, &r.tokenizer, &r.numerics, &r.task, &r.template]
}

/// An open results file for one (model, tokenizer, numerics, task, template) key.
pub struct ResultStore {
    path: PathBuf,
    file: File,
    key: Key,
    records: Vec<ItemRecord>,
    index: HashMap<String, usize>,
    /// Bytes of a torn last line that were cut off on open.
    pub repaired_bytes: u64,
}

impl ResultStore {
    /// Open (creating if needed) the store of `task` for model `id` under `out`,
    /// loading the records of this exact key.
    pub fn open(out: &Path, id: &ModelIdentity, task: &str, template: &str) -> Result<Self> {
        let path = store_path(out, id, task);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("opening results store {}", path.display()))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        // Keep everything up to the last newline; a tail without one is a torn write.
        let good = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let repaired_bytes = (text.len() - good) as u64;
        if repaired_bytes > 0 {
            file.set_len(good as u64)
                .with_context(|| format!("truncating torn line in {}", path.display()))?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        let key = [
            id.model.clone(),
            id.tokenizer.clone(),
            id.numerics.clone(),
            task.to_string(),
            template.to_string(),
        ];
        let mut store = Self {
            path,
            file,
            key,
            records: Vec::new(),
            index: HashMap::new(),
            repaired_bytes,
        };
        for (i, line) in text[..good].split(|&b| b == b'\n').enumerate() {
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let rec: ItemRecord = serde_json::from_slice(line).with_context(|| {
                format!("{}:{}: corrupt results record", store.path.display(), i + 1)
            })?;
            if let Err(why) = check_record(&rec) {
                bail!(
                    "{}:{}: corrupt results record: {why}",
                    store.path.display(),
                    i + 1
                );
            }
            if store.matches(&rec) && !store.index.contains_key(&rec.item_id) {
                store.index.insert(rec.item_id.clone(), store.records.len());
                store.records.push(rec);
            }
        }
        Ok(store)
    }

    fn matches(&self, r: &ItemRecord) -> bool {
        record_key(r) == self.key.each_ref().map(String::as_str)
    }

    /// The JSONL file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `item_id` already has a result under this key.
    pub fn contains(&self, item_id: &str) -> bool {
        self.index.contains_key(item_id)
    }

    /// The record of `item_id` under this key.
    pub fn get(&self, item_id: &str) -> Option<&ItemRecord> {
        self.index.get(item_id).map(|&i| &self.records[i])
    }

    /// Records of this key, in the order they were written.
    pub fn records(&self) -> &[ItemRecord] {
        &self.records
    }

    /// Durably append one record (single write of the full line, then fsync).
    pub fn append(&mut self, rec: ItemRecord) -> Result<()> {
        if !self.matches(&rec) {
            bail!(
                "record for item {} does not belong to this store's key",
                rec.item_id
            );
        }
        if self.contains(&rec.item_id) {
            bail!(
                "item {} already has a result in {}",
                rec.item_id,
                self.path.display()
            );
        }
        let mut line = serde_json::to_vec(&rec)?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .with_context(|| format!("appending to {}", self.path.display()))?;
        self.file.sync_data()?;
        self.index.insert(rec.item_id.clone(), self.records.len());
        self.records.push(rec);
        Ok(())
    }
}

/// Aggregate results of one (model, task) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub model: String,
    pub model_name: String,
    pub tokenizer: String,
    /// The numeric path (matmul mode, device) or `server`.
    pub numerics: String,
    /// The boundary convention at the context/continuation join (`harness`:
    /// lm-evaluation-harness's loglikelihood request; `separate`: the old rule).
    pub boundary: Boundary,
    pub task: String,
    /// Template version with the boundary convention (`…;boundary=harness`).
    pub template: String,
    /// Why these numbers may differ from the embedded engine's (empty when they
    /// should not).
    pub caveats: Vec<String>,
    /// Items with a result.
    pub items: usize,
    pub tokens: usize,
    pub bytes: usize,
    pub loss_sum: f64,
    /// `loss_sum / tokens`: nats per continuation token (the ladder's `loss`).
    pub loss_per_token: Option<f64>,
    /// `loss_sum / (bytes · ln 2)`: bits per UTF-8 byte, comparable across tokenizers.
    pub bits_per_byte: Option<f64>,
    /// Mean over items of each item's summed loss, nats.
    pub loss_per_item: Option<f64>,
    /// Items whose whole continuation is the greedy prediction.
    pub greedy_matches: usize,
    /// Items with a defined answer, and how many were correct.
    pub answered: usize,
    pub correct: usize,
    /// `correct / answered`, when any item has an answer. (Ratios are `None` when
    /// their denominator is zero.)
    pub accuracy: Option<f64>,
    /// Items where a token spans the context/continuation join (the encoded context
    /// is not a prefix of the joint encoding).
    pub join_mismatch_items: Vec<String>,
    /// Items that could not be used (malformed lines, too long), skipped by `--skip-bad`.
    pub bad_items: Vec<String>,
    /// Items without a reference answer (not scored).
    pub no_reference: usize,
}

impl Summary {
    /// Summarise the records of a store.
    pub fn from_records(
        id: &ModelIdentity,
        task: &str,
        template: &str,
        records: &[ItemRecord],
    ) -> Self {
        let tokens: usize = records.iter().map(|r| r.tokens).sum();
        let bytes: usize = records.iter().map(|r| r.bytes).sum();
        let loss_sum: f64 = records.iter().map(|r| r.loss_sum).sum();
        let answered = records.iter().filter(|r| r.correct.is_some()).count();
        let correct = records.iter().filter(|r| r.correct == Some(true)).count();
        let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        Summary {
            model: id.model.clone(),
            model_name: id.name.clone(),
            tokenizer: id.tokenizer.clone(),
            numerics: id.numerics.clone(),
            boundary: id.boundary,
            task: task.to_string(),
            template: template.to_string(),
            caveats: Vec::new(),
            items: records.len(),
            tokens,
            bytes,
            loss_sum,
            loss_per_token: ratio(loss_sum, tokens as f64),
            bits_per_byte: ratio(loss_sum, bytes as f64 * std::f64::consts::LN_2),
            loss_per_item: ratio(loss_sum, records.len() as f64),
            greedy_matches: records.iter().filter(|r| r.greedy_match).count(),
            answered,
            correct,
            accuracy: (answered > 0).then(|| correct as f64 / answered as f64),
            join_mismatch_items: records
                .iter()
                .filter(|r| r.join_mismatch)
                .map(|r| r.item_id.clone())
                .collect(),
            bad_items: Vec::new(),
            no_reference: 0,
        }
    }

    /// Write as pretty JSON atomically: a temp file in the same directory, fsynced,
    /// then renamed over `path`, so readers never see a partial summary.
    pub fn write_atomic(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("temp file in {}", dir.display()))?;
        serde_json::to_writer_pretty(&mut tmp, self)?;
        tmp.write_all(b"\n")?;
        tmp.as_file().sync_all()?;
        tmp.persist(path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// Append `row` (column → value) to a CSV, writing `default_header` first when the
/// file is new; an existing file's header (first non-`#` line) decides the order.
pub fn append_csv_row(path: &Path, default_header: &[&str], row: &[(&str, String)]) -> Result<()> {
    let header: Vec<String> = match std::fs::File::open(path) {
        Ok(f) => {
            let first = BufReader::new(f)
                .lines()
                .map_while(|l| l.ok())
                .map(|l| l.trim_start_matches('\u{feff}').to_string())
                .find(|l| !l.trim().is_empty() && !l.starts_with('#'));
            match first {
                Some(h) => h.split(',').map(|c| c.trim().to_string()).collect(),
                None => Vec::new(),
            }
        }
        Err(_) => Vec::new(),
    };
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let header = if header.is_empty() {
        writeln!(f, "{}", default_header.join(","))?;
        default_header.iter().map(|s| s.to_string()).collect()
    } else {
        header
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let values: Vec<String> = header
        .iter()
        .map(|c| {
            row.iter()
                .find(|(k, _)| *k == c.as_str())
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    w.write_record(&values)?;
    f.write_all(&w.into_inner()?)?;
    f.sync_data()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ModelIdentity {
        ModelIdentity {
            model: "sha256:0123456789abcdef".into(),
            tokenizer: "t".into(),
            name: "m".into(),
            context_window: None,
            numerics: "n".into(),
            boundary: Boundary::Harness,
        }
    }

    fn record(item: &str, tokens: &str) -> String {
        format!(
            r#"{{"model":"sha256:0123456789abcdef","tokenizer":"t","numerics":"n","task":"t","template":"v","item_id":"{item}","tokens":{tokens},"bytes":11,"loss_sum":4.25,"greedy_match":false,"join_mismatch":false}}"#
        )
    }

    /// Found while writing the `eval_store` fuzz target (its input is
    /// fuzz/corpus/eval_store/tokens_overflow.jsonl):
    /// two records of `usize::MAX` tokens overflowed the summary's token sum
    /// (a panic with overflow checks, a wrapped count without); such a record is
    /// now refused on open, naming the file, line and field.
    #[test]
    fn a_record_with_an_impossible_token_count_is_refused_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_path(dir.path(), &id(), "t");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let huge = usize::MAX.to_string();
        let text = format!("{}\n{}\n", record("1", "3"), record("2", &huge));
        std::fs::write(&path, text).unwrap();
        let err = ResultStore::open(dir.path(), &id(), "t", "v")
            .err()
            .expect("an impossible record opens");
        let msg = format!("{err:#}");
        assert!(msg.contains(&format!("{}:2:", path.display())), "{msg}");
        assert!(msg.contains("field `tokens`"), "{msg}");

        // The largest count a record may hold still opens and sums.
        let max = MAX_RECORD_COUNT.to_string();
        let text = format!("{}\n{}\n", record("1", &max), record("2", &max));
        std::fs::write(&path, text).unwrap();
        let store = ResultStore::open(dir.path(), &id(), "t", "v").unwrap();
        let s = Summary::from_records(&id(), "t", "v", store.records());
        assert_eq!(s.tokens, 2 * MAX_RECORD_COUNT);
    }
}
