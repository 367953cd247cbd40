//! Runs a task through a backend into the results store: skips items already
//! stored, scores the rest in batches, appends each result as soon as it exists,
//! reports progress to an [`Observer`] and writes the summary.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::backend::{Backend, ModelIdentity, ScoreError, Scored};
use crate::store::{ItemRecord, ResultStore, Summary};
use crate::tasks::{Item, TaskSet};

/// Receives progress events (a progress bar, a log, a test probe).
pub trait Observer {
    /// Scoring of `set` begins; `done` of its items were already stored.
    fn start(&mut self, set: &TaskSet, done: usize);
    /// One item was scored and stored.
    fn item(&mut self, record: &ItemRecord);
    /// One item could not be scored and was skipped (`--skip-bad`).
    fn bad(&mut self, message: &str);
    /// The task is finished.
    fn finish(&mut self);
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn start(&mut self, _: &TaskSet, _: usize) {}
    fn item(&mut self, _: &ItemRecord) {}
    fn bad(&mut self, _: &str) {}
    fn finish(&mut self) {}
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Root of the results store.
    pub out: PathBuf,
    /// Skip (and count) malformed or unscorable items instead of failing.
    pub skip_bad: bool,
    /// Items handed to the backend per `score` call (HTTP backends overlap them).
    pub batch: usize,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub summary: Summary,
    pub store_path: PathBuf,
    pub summary_path: PathBuf,
    /// Items scored by this invocation (the rest came from the store).
    pub scored_now: usize,
    /// Continuation tokens scored by this invocation.
    pub tokens_now: usize,
    /// Wall-clock seconds spent scoring in this invocation.
    pub seconds: f64,
}

/// Turn the scores of an item's requests into its record. Multiple choice: the
/// item's loss is the correct option's; it is correct when that option's summed
/// loss is strictly the lowest.
fn record(
    id: &ModelIdentity,
    set: &TaskSet,
    template: &str,
    item: &Item,
    scored: &[Scored],
) -> ItemRecord {
    let losses: Vec<f64> = scored.iter().map(|s| -s.logprob_sum()).collect();
    let main = item.answer.unwrap_or(0);
    let s = &scored[main];
    let correct = item.answer.map(|a| {
        losses
            .iter()
            .enumerate()
            .all(|(i, &l)| i == a || l > losses[a])
    });
    ItemRecord {
        model: id.model.clone(),
        tokenizer: id.tokenizer.clone(),
        numerics: id.numerics.clone(),
        task: set.name.clone(),
        template: template.to_string(),
        item_id: item.id.clone(),
        tokens: s.tokens(),
        bytes: s.bytes,
        loss_sum: losses[main],
        greedy_match: s.greedy_match,
        correct,
        option_losses: item.answer.map(|_| losses.clone()),
        join_mismatch: scored.iter().any(|s| s.join_mismatch),
    }
}

/// Score every item of `set` not yet in the store, then summarise the items of
/// `set` (in its order) and write `<store>.summary.json` atomically.
pub fn run_task(
    backend: &dyn Backend,
    set: &TaskSet,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunOutcome> {
    if !set.bad.is_empty() && !opts.skip_bad {
        bail!(
            "{} malformed item(s) in the data of {}; first: {}\n(pass --skip-bad to skip and count them)",
            set.bad.len(),
            set.name,
            set.bad[0]
        );
    }
    let id = backend.model_id();
    // The boundary convention changes every token id, so it versions the template.
    let template = format!("{};boundary={}", set.template, id.boundary);
    let mut store = ResultStore::open(&opts.out, &id, &set.name, &template)?;
    let todo: Vec<&Item> = set
        .items
        .iter()
        .filter(|i| !store.contains(&i.id))
        .collect();
    obs.start(set, set.items.len() - todo.len());
    let mut bad = set.bad.clone();
    let mut scored_now = 0;
    let mut tokens_now = 0;
    let started = std::time::Instant::now();
    for chunk in todo.chunks(opts.batch.max(1)) {
        let requests: Vec<_> = chunk
            .iter()
            .flat_map(|i| i.requests.iter().cloned())
            .collect();
        let mut results = backend.score(&requests).into_iter();
        for item in chunk {
            let mut scored = Vec::with_capacity(item.requests.len());
            let mut problem = None;
            for _ in &item.requests {
                match results.next() {
                    Some(Ok(s)) => scored.push(s),
                    Some(Err(ScoreError::Item(m))) => problem = problem.or(Some(m)),
                    Some(Err(ScoreError::Backend(e))) => {
                        return Err(e.context(format!("scoring {} item {}", set.name, item.id)))
                    }
                    None => bail!("backend returned fewer results than requests"),
                }
            }
            if let Some(m) = problem {
                let msg = format!("{} item {}: {m}", set.name, item.id);
                if !opts.skip_bad {
                    bail!("{msg}\n(pass --skip-bad to skip and count such items)");
                }
                obs.bad(&msg);
                bad.push(msg);
                continue;
            }
            let rec = record(&id, set, &template, item, &scored);
            store.append(rec.clone())?;
            obs.item(&rec);
            scored_now += 1;
            tokens_now += rec.tokens;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    obs.finish();
    let wanted: Vec<ItemRecord> = set
        .items
        .iter()
        .filter_map(|i| store.get(&i.id).cloned())
        .collect();
    let mut summary = Summary::from_records(&id, &set.name, &template, &wanted);
    summary.caveats = backend.caveats();
    summary.bad_items = bad;
    summary.no_reference = set.no_reference;
    let store_path = store.path().to_path_buf();
    let summary_path = store_path.with_extension("summary.json");
    summary.write_atomic(&summary_path)?;
    Ok(RunOutcome {
        summary,
        store_path,
        summary_path,
        scored_now,
        tokens_now,
        seconds,
    })
}
