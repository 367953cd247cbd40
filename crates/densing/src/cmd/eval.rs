//! `densing eval`: conditional loss of a model on a benchmark, resumable.
//!
//! ```text
//! densing eval --model M.gguf --task humaneval --data HumanEval.jsonl.gz
//! densing eval --model M.gguf --task bbh:date_understanding --data data/bbh --shots 3
//! ```
//! Results go to `<out>/<model>-<hash>/<task>.jsonl` (one line per item) and
//! `<task>.summary.json`; rerunning resumes. `--ladder`/`--anchors` append the
//! summary as a row of the CSVs that `densing fit` reads.

use std::path::PathBuf;
use std::time::Instant;

use super::common::{concurrency_count, fraction, positive};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use densing_core::data::{parse_anchors, parse_ladder};
use densing_core::table::Table;
use densing_eval::engine::{Device, Engine, EngineOptions};
use densing_eval::store::append_csv_row;
use densing_eval::MatmulMode;
use densing_eval::{
    run_task, Backend, Boundary, ItemRecord, Observer, RunOptions, Summary, TaskKind, TaskSet,
};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    /// Needs the `cuda` cargo feature.
    Cuda,
    /// Needs the `metal` cargo feature.
    Metal,
}

/// How the embedded engine holds the weight matrices.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MatmulArg {
    /// Dequantised to f32 (4 bytes per weight; the fastest on CPU).
    F32,
    /// bf16 storage, f32 arithmetic (2 bytes per weight).
    Bf16,
    /// GGUF blocks with candle's quantised kernels (slower on CPU).
    Quantized,
}

impl From<MatmulArg> for MatmulMode {
    fn from(m: MatmulArg) -> Self {
        match m {
            MatmulArg::F32 => MatmulMode::Dequantized,
            MatmulArg::Bf16 => MatmulMode::Bf16,
            MatmulArg::Quantized => MatmulMode::Quantized,
        }
    }
}

/// Tokenisation at the context/continuation join.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BoundaryArg {
    /// lm-evaluation-harness's loglikelihood request: the context's trailing
    /// whitespace moves to the continuation; context+continuation encoded jointly;
    /// the continuation is the joint tokens after the encoded context.
    Harness,
    /// densing's rule before issue 10: no whitespace moved; the continuation
    /// encoded on its own when a token spans the join.
    Separate,
}

impl From<BoundaryArg> for Boundary {
    fn from(b: BoundaryArg) -> Self {
        match b {
            BoundaryArg::Harness => Boundary::Harness,
            BoundaryArg::Separate => Boundary::Separate,
        }
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model for the embedded candle engine: a GGUF file, or a Hugging Face
    /// directory (config.json, tokenizer.json, *.safetensors); Llama-family. With
    /// --endpoint only its tokenizer is read, to send prompts as token ids.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Score through this OpenAI-compatible server (vLLM, `densing serve`, …)
    /// instead of the embedded engine; repeat to fan out over replicas.
    #[arg(long, value_name = "URL")]
    pub endpoint: Vec<String>,
    /// Model id to request from the endpoints (default: the one they serve).
    #[arg(long, requires = "endpoint")]
    pub server_model: Option<String>,
    /// Requests in flight at once over all endpoints.
    #[arg(long, default_value_t = 8, requires = "endpoint", value_parser = concurrency_count)]
    pub concurrency: usize,
    /// Environment variable holding the endpoints' API key (sent as a Bearer token).
    #[arg(long, value_name = "VAR", requires = "endpoint")]
    pub api_key_env: Option<String>,
    /// Retries of a failed request (connection errors, timeouts, HTTP 408/429/5xx)
    /// with exponential backoff, before the run stops.
    #[arg(long, default_value_t = 5, requires = "endpoint")]
    pub max_retries: u32,
    /// Seconds one request may take before it is retried.
    #[arg(long, default_value_t = 300, requires = "endpoint")]
    pub request_timeout: u64,
    /// Expected sha256 of the model file; refuse to run on a mismatch.
    #[arg(long)]
    pub sha256: Option<String>,
    /// bbh[:SUBTASK] | humaneval | mc | jsonl
    #[arg(long)]
    pub task: TaskKind,
    /// Task data: BBH directory, HumanEval .jsonl(.gz), MC .csv/.jsonl, or JSONL file.
    #[arg(long)]
    pub data: PathBuf,
    /// Few-shot examples in the prompt (default: 3 for bbh, 0 otherwise).
    #[arg(long)]
    pub shots: Option<usize>,
    /// Score at most the first N items (per task; at least 1).
    #[arg(long, value_parser = concurrency_limit)]
    pub limit: Option<usize>,
    /// Root directory of the results store.
    #[arg(long, default_value = "densing-out")]
    pub out: PathBuf,
    /// Skip malformed or unscorable items (counted in the summary) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// Recompute shared few-shot prefixes for every item (for benchmarking).
    #[arg(long)]
    pub no_prefix_cache: bool,
    /// Weight matrices of the embedded engine (default: f32 when it fits in
    /// memory, else bf16).
    #[arg(long, value_enum)]
    pub matmul: Option<MatmulArg>,
    /// Same as `--matmul quantized`.
    #[arg(long, conflicts_with = "matmul")]
    pub quantized_matmul: bool,
    /// Compute device.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// Tokenisation at the context/continuation join (part of the results' key).
    #[arg(long, value_enum, default_value = "harness")]
    pub boundary: BoundaryArg,
    /// Embedded engine: sequences packed into one forward pass (default: as many
    /// as the memory preflight allows, up to 16). HTTP backends: items per call
    /// (default 1). 1 to 1024.
    #[arg(long, value_parser = concurrency_count)]
    pub batch: Option<usize>,
    /// Append `params,tokens,loss,run,task` to this ladder CSV (needs --params, --train-tokens).
    #[arg(long, requires_all = ["params", "train_tokens"])]
    pub ladder: Option<PathBuf>,
    /// Model parameter count N, for --ladder.
    #[arg(long, value_parser = positive)]
    pub params: Option<f64>,
    /// Training tokens D, for --ladder.
    #[arg(long, value_parser = positive)]
    pub train_tokens: Option<f64>,
    /// Run name written in the ladder's `run` column (default: the model name).
    #[arg(long)]
    pub run_name: Option<String>,
    /// Append `loss,score,model,task,heldout` to this anchors CSV (needs --score).
    #[arg(long, requires = "score")]
    pub anchors: Option<PathBuf>,
    /// The model's benchmark score as a fraction in [0, 1], for --anchors.
    #[arg(long, value_parser = fraction)]
    pub score: Option<f64>,
    /// Mark the anchors row as held out.
    #[arg(long)]
    pub heldout: bool,
}

/// `--limit`: a whole number of items, at least 1 (0 would score nothing and
/// rewrite the store's summary as empty).
fn concurrency_limit(s: &str) -> std::result::Result<usize, String> {
    match super::common::count_at_most(s, usize::MAX)? {
        0 => Err("must be at least 1 (0 would score nothing)".into()),
        v => Ok(v),
    }
}

/// The text `path` would hold with `row` appended (as `append_csv_row` writes
/// it: in the existing header's order), read by `parse`, the reader
/// `densing fit` uses, so a row `fit` would reject is never written.
fn check_appended(
    path: &std::path::Path,
    header: &[&str],
    row: &[(&str, String)],
    parse: fn(&Table) -> densing_core::Result<()>,
) -> Result<()> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let cols = match table_columns(&text) {
        Some(cols) => cols,
        None => {
            text = header.join(",");
            header.iter().map(|s| s.to_string()).collect()
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(cols.iter().map(|c| {
        row.iter()
            .find(|(k, _)| *k == c.as_str())
            .map_or("", |(_, v)| v.as_str())
    }))?;
    text += &String::from_utf8(w.into_inner()?)?;
    parse(&Table::parse(&path.display().to_string(), &text)?).with_context(|| {
        format!(
            "the row for {} would not be valid; nothing appended",
            path.display()
        )
    })
}

/// The header's columns of CSV text (first line that is not blank or `#`).
fn table_columns(text: &str) -> Option<Vec<String>> {
    text.lines()
        .map(|l| l.trim_start_matches('\u{feff}'))
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|h| h.split(',').map(|c| c.trim().to_string()).collect())
}

/// The one place a backend is chosen from the arguments. `sets` size the memory
/// preflight of the embedded engine (their longest item).
fn backend(args: &EvalArgs, sets: &[TaskSet]) -> Result<Box<dyn Backend>> {
    if !args.endpoint.is_empty() {
        return http_backend(args);
    }
    let Some(model) = &args.model else {
        bail!("no model: pass --model PATH");
    };
    let device = match args.device {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Cuda => densing_eval::engine::cuda_device(0)?,
        DeviceArg::Metal => densing_eval::engine::metal_device(0)?,
    };
    let opts = EngineOptions {
        matmul: match (args.matmul, args.quantized_matmul) {
            (Some(m), _) => Some(m.into()),
            (None, true) => Some(MatmulMode::Quantized),
            (None, false) => None,
        },
        batch: args.batch,
        prefix_cache: !args.no_prefix_cache,
        expected_sha256: args.sha256.clone(),
        device,
        boundary: args.boundary.into(),
        longest_text: sets
            .iter()
            .flat_map(|s| &s.items)
            .flat_map(|i| &i.requests)
            .max_by_key(|r| r.context.len() + r.continuation.len())
            .map(|r| format!("{}{}", r.context, r.continuation)),
    };
    let t = Instant::now();
    let engine =
        Engine::load(model, &opts).with_context(|| format!("loading model {}", model.display()))?;
    eprintln!(
        "loaded {} in {:.1}s (weights {}, up to {} sequences per pass)",
        model.display(),
        t.elapsed().as_secs_f64(),
        engine.matmul_mode().name(),
        engine.batch()
    );
    Ok(Box::new(engine))
}

/// The HTTP backend: connects to every endpoint and runs the probe, so a server
/// with wrong numbers stops the run before anything is stored.
fn http_backend(args: &EvalArgs) -> Result<Box<dyn Backend>> {
    let api_key = match &args.api_key_env {
        Some(var) => Some(
            std::env::var(var).with_context(|| format!("--api-key-env {var}: variable not set"))?,
        ),
        None => None,
    };
    let tokenizer = args
        .model
        .as_deref()
        .map(densing_http::tokenizer_from_gguf)
        .transpose()?;
    let opts = densing_http::HttpOptions {
        client: densing_http::ClientOptions {
            endpoints: args.endpoint.clone(),
            api_key,
            timeout: std::time::Duration::from_secs(args.request_timeout),
            max_retries: args.max_retries,
            ..Default::default()
        },
        server_model: args.server_model.clone(),
        concurrency: args.concurrency,
        tokenizer,
        boundary: args.boundary.into(),
    };
    let backend = densing_http::HttpBackend::connect(opts)?;
    for (url, p) in backend.endpoints().iter().zip(backend.probes()) {
        eprintln!(
            "probe passed on {url}: {} tokens echoed, {:.3} nat/token over the last third of a count, top-1 is the token itself at {} positions (the next token at {}); prompts as {}",
            p.tokens,
            p.repeat_mean,
            p.top_hits,
            p.next_hits,
            backend.prompt_kind()
        );
    }
    Ok(Box::new(backend))
}

/// Progress bar: items done/total, items/s, ETA, and scored tokens/s.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    tokens: usize,
    bad: usize,
}

impl Progress {
    /// Print a line on stderr above the bar (also when stderr is not a terminal
    /// and the bar is hidden).
    fn say(&self, line: String) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Observer for Progress {
    fn start(&mut self, set: &TaskSet, done: usize) {
        self.bar.set_length(set.items.len() as u64);
        self.bar.set_position(done as u64);
        self.bar.reset_eta();
        self.bar.set_prefix(set.name.clone());
        self.started = Instant::now();
        self.tokens = 0;
        if done > 0 {
            self.say(format!(
                "{}: resuming, {done} of {} items already stored",
                set.name,
                set.items.len()
            ));
        }
    }

    fn item(&mut self, record: &ItemRecord) {
        self.tokens += record.tokens;
        let rate = self.tokens as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_message(format!("{rate:.0} cont. tok/s"));
        self.bar.inc(1);
    }

    fn bad(&mut self, message: &str) {
        self.bad += 1;
        self.say(format!("skipped: {message}"));
        self.bar.inc(1);
    }

    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

fn append_fit_rows(args: &EvalArgs, s: &Summary) -> Result<()> {
    let loss = s
        .loss_per_token
        .context("no scored items: nothing to append to the fit inputs")?;
    if let Some(path) = &args.ladder {
        let (Some(n), Some(d)) = (args.params, args.train_tokens) else {
            bail!("--ladder needs --params and --train-tokens");
        };
        let run = args
            .run_name
            .clone()
            .unwrap_or_else(|| s.model_name.clone());
        let header = ["params", "tokens", "loss", "run", "task"];
        let row = [
            ("params", n.to_string()),
            ("tokens", d.to_string()),
            ("loss", format!("{loss:.6}")),
            ("run", run),
            ("task", s.task.clone()),
        ];
        check_appended(path, &header, &row, |t| parse_ladder(t).map(|_| ()))?;
        append_csv_row(path, &header, &row)?;
        eprintln!("appended a ladder row to {}", path.display());
    }
    if let Some(path) = &args.anchors {
        let score = args.score.context("--anchors needs --score")?;
        let header = ["loss", "score", "model", "task", "heldout"];
        let row = [
            ("loss", format!("{loss:.6}")),
            ("score", score.to_string()),
            (
                "model",
                args.run_name
                    .clone()
                    .unwrap_or_else(|| s.model_name.clone()),
            ),
            ("task", s.task.clone()),
            ("heldout", args.heldout.to_string()),
        ];
        check_appended(path, &header, &row, |t| parse_anchors(t).map(|_| ()))?;
        append_csv_row(path, &header, &row)?;
        eprintln!("appended an anchors row to {}", path.display());
    }
    Ok(())
}

pub fn run(args: EvalArgs) -> Result<()> {
    let shots = args.shots.unwrap_or(match args.task {
        TaskKind::Bbh(_) => 3,
        _ => 0,
    });
    let sets = densing_eval::tasks::load(&args.task, &args.data, shots, args.limit)?;
    if let Some(empty) = sets.iter().find(|s| s.items.is_empty()) {
        bail!(
            "{}: no items to score in {}; the results store under {} is left untouched",
            empty.name,
            args.data.display(),
            args.out.display()
        );
    }
    for set in &sets {
        if !set.bad.is_empty() && !args.skip_bad {
            bail!(
                "{} malformed item(s) in the data of {}; first: {}\n(pass --skip-bad to skip and count them)",
                set.bad.len(),
                set.name,
                set.bad[0]
            );
        }
    }
    let backend = backend(&args, &sets)?;
    let opts = RunOptions {
        out: args.out.clone(),
        skip_bad: args.skip_bad,
        // An HTTP backend overlaps the requests of one call: give it enough.
        // The engine packs a call's requests into passes of its own batch size.
        batch: if args.endpoint.is_empty() {
            args.batch.unwrap_or(densing_eval::memory::MAX_AUTO_BATCH)
        } else {
            args.batch.unwrap_or(1).max(4 * args.concurrency)
        },
    };
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} items, {per_sec}, ETA {eta}, {msg}",
    )?
    .progress_chars("=> ");
    let mut progress = Progress {
        bar: ProgressBar::new(0).with_style(style),
        started: Instant::now(),
        tokens: 0,
        bad: 0,
    };
    if sets.len() > 1 && (args.ladder.is_some() || args.anchors.is_some()) {
        bail!(
            "--ladder/--anchors need a single task (e.g. bbh:SUBTASK), not {} tasks",
            sets.len()
        );
    }
    for set in &sets {
        let outcome = run_task(backend.as_ref(), set, &opts, &mut progress)?;
        let s = &outcome.summary;
        println!(
            "{}: {} items ({} scored now), {} tokens, loss {} nat/token, {} bits/byte, accuracy {}, boundary {}, {} joins spanned by a token, {} bad, {} without reference → {}",
            s.task,
            s.items,
            outcome.scored_now,
            s.tokens,
            fmt_opt(s.loss_per_token, 4),
            fmt_opt(s.bits_per_byte, 4),
            fmt_opt(s.accuracy, 4),
            s.boundary,
            s.join_mismatch_items.len(),
            s.bad_items.len(),
            s.no_reference,
            outcome.summary_path.display()
        );
        if outcome.scored_now > 0 {
            eprintln!(
                "scored {} items in {:.2}s: {:.3} items/s, {:.1} continuation tokens/s",
                outcome.scored_now,
                outcome.seconds,
                outcome.scored_now as f64 / outcome.seconds,
                outcome.tokens_now as f64 / outcome.seconds
            );
        }
        for c in &s.caveats {
            println!("{}: caveat: {c}", s.task);
        }
        append_fit_rows(&args, s)?;
    }
    Ok(())
}
