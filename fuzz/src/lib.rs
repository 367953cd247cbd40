//! The body of every fuzz target: arbitrary bytes into one reader of outside
//! input. The property is that the reader returns (a value or an error) without
//! panicking, aborting or hanging; its answer is not checked.
//!
//! Used by the libFuzzer targets in `fuzz_targets/` (nightly, `cargo fuzz`) and by
//! the corpus replay in the normal test suite (`crates/densing/tests/fuzz_corpus.rs`
//! includes this file), so both run the same code.

use std::io::Cursor;
use std::path::Path;

use densing_core::data::{parse_anchors, parse_ladder};
use densing_core::registry::{today, Registry, RowPolicy};
use densing_core::table::Table;
use densing_core::trend::{EstimatorKind, TrendConfig};
use densing_eval::engine::{parse_hf_config, read_gguf};
use densing_eval::store::{store_path, ResultStore, Summary};
use densing_eval::tasks::{self, TaskKind};
use densing_eval::tokenizer::TextTokenizer;
use densing_eval::{Boundary, ModelIdentity};
use densing_http::protocol::{self, Prompt};
use densing_http::server::{parse_request, Limits};
use densing_http::{probe, tokenizer_api};

/// A fuzz target: bytes in, nothing out but the absence of a panic.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const TARGETS: [(&str, Target); 20] = [
    ("registry", registry),
    ("registry_layers", registry_layers),
    ("trend_table", trend_table),
    ("eval_store", eval_store),
    ("tokenizer_request", tokenizer_request),
    ("tokenize_response", tokenize_response),
    ("ladder", ladder),
    ("anchors", anchors),
    ("prices", prices),
    ("task_bbh", task_bbh),
    ("task_humaneval", task_humaneval),
    ("task_mc_csv", task_mc_csv),
    ("task_mc_jsonl", task_mc_jsonl),
    ("task_jsonl", task_jsonl),
    ("gguf", gguf),
    ("completion_response", completion_response),
    ("completion_request", completion_request),
    ("lm_eval", lm_eval),
    ("report_json", report_json),
    ("hf_config", hf_config),
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// An lm-evaluation-harness results JSON (`densing density --lm-eval`,
/// `densing models add --lm-eval`).
pub fn lm_eval(data: &[u8]) {
    let _ = densing_analysis::parse_lm_eval(Path::new("fuzz.json"), &text(data));
}

/// The `report.json` a run wrote, as `densing report --from DIR` reads it before
/// drawing: the command applies no check beyond deserializing `ReportInput`
/// (figures and page are rendered from it; rendering is not fuzzed here).
pub fn report_json(data: &[u8]) {
    let _ = serde_json::from_slice::<densing_report::ReportInput>(data);
}

/// A Hugging Face model folder's `config.json` (`parse_hf_config`: the
/// architecture, then `LlamaConfig::validate`), read before any weight.
pub fn hf_config(data: &[u8]) {
    let _ = parse_hf_config(&text(data), Path::new("config.json"));
}

/// The registry CSV (`models.csv` columns).
pub fn registry(data: &[u8]) {
    let _ = Registry::parse("fuzz.csv", &text(data));
}

/// A ladder CSV (N, D, loss).
pub fn ladder(data: &[u8]) {
    if let Ok(t) = Table::parse("fuzz.csv", &text(data)) {
        let _ = parse_ladder(&t);
    }
}

/// An anchors CSV (loss, score).
pub fn anchors(data: &[u8]) {
    if let Ok(t) = Table::parse("fuzz.csv", &text(data)) {
        let _ = parse_anchors(&t);
    }
}

/// A price CSV (`date,price_per_mtok`) as `densing run --prices` reads it.
pub fn prices(data: &[u8]) {
    if let Ok(t) = Table::parse("fuzz.csv", &text(data)) {
        let _ = densing_analysis::prices_from(&t);
    }
}

/// A models table, then a second table (models or scores, `--registry` given
/// twice) layered on it under the policy of the first byte (strict, or
/// `--lenient`); the second is first checked as `densing models check` does,
/// and a registry that loads is written back as both CSV layouts.
pub fn registry_layers(data: &[u8]) {
    let (flag, base, top) = two_files(data);
    let policy = if flag % 2 == 0 {
        RowPolicy::Strict
    } else {
        RowPolicy::Lenient
    };
    let Ok(mut reg) = Registry::parse("base.csv", &text(base)) else {
        return;
    };
    let Ok(top) = Table::parse("top.csv", &text(top)) else {
        return;
    };
    let _ = reg.check(&top, today());
    if reg.layer_with(&top, policy).is_ok() && reg.finish_with(policy).is_ok() {
        let _ = reg.wide_csv();
        let _ = reg.long_csv();
    }
}

/// A trend table (`densing trend FILE`), and, for up to 64 rows, every
/// estimator fitted to it (no bootstrap or permutations, to keep one input
/// within milliseconds).
pub fn trend_table(data: &[u8]) {
    let Ok(t) = Table::parse("fuzz.csv", &text(data)) else {
        return;
    };
    let Ok(points) = densing_analysis::trend_points_from(&t) else {
        return;
    };
    if points.len() <= 64 {
        let cfg = TrendConfig {
            estimator: EstimatorKind::CensoredQuantile { tau: 0.9 },
            replicates: 0,
            permutations: 0,
            seed: 1,
        };
        let _ = densing_analysis::trend_report("fuzz.csv", &points, &cfg, &|| {});
    }
}

/// An eval results store (`densing eval --out DIR`, reopened to resume): the
/// JSONL file of one (model, task), and the summary of its records.
pub fn eval_store(data: &[u8]) {
    let id = ModelIdentity {
        model: "sha256:0123456789abcdef".into(),
        tokenizer: "t".into(),
        name: "m".into(),
        context_window: None,
        numerics: "n".into(),
        boundary: Boundary::Harness,
    };
    let Some(dir) = scratch().map(|d| d.join("store")) else {
        return;
    };
    let path = store_path(&dir, &id, "t");
    let written = path
        .parent()
        .is_some_and(|p| std::fs::create_dir_all(p).is_ok())
        && std::fs::write(&path, data).is_ok();
    if written {
        if let Ok(store) = ResultStore::open(&dir, &id, "t", "v") {
            let _ = Summary::from_records(&id, "t", "v", store.records());
        }
    }
}

/// A `POST /tokenize` or `POST /detokenize` body as `densing serve` reads it.
pub fn tokenizer_request(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = tokenizer_api::tokenize_args(&v, "m");
    let _ = tokenizer_api::detokenize_ids(&v, "m", 49152);
}

/// A server's `POST /tokenize` reply, as the HTTP client reads it.
pub fn tokenize_response(data: &[u8]) {
    let _ = protocol::parse_tokenize(&text(data));
}

/// One temporary directory per process for the readers that take a path: a
/// fresh directory per input would spend most of each execution in the file
/// system. Each input overwrites the files it needs.
fn scratch() -> Option<&'static Path> {
    static DIR: std::sync::OnceLock<Option<tempfile::TempDir>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().ok())
        .as_ref()
        .map(tempfile::TempDir::path)
}

/// Write `bytes` to `rel` under the scratch directory; its path on success.
fn scratch_file(rel: &str, bytes: &[u8]) -> Option<std::path::PathBuf> {
    let path = scratch()?.join(rel);
    std::fs::create_dir_all(path.parent()?).ok()?;
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

/// Write `files` into the scratch directory and load the task from `name`
/// with 0–3 shots (from the first input byte).
fn load_task(kind: TaskKind, name: &str, files: &[(&str, &[u8])], shots: u8) {
    let Some(dir) = scratch() else { return };
    if files
        .iter()
        .any(|(f, bytes)| scratch_file(f, bytes).is_none())
    {
        return;
    }
    let _ = tasks::load(&kind, &dir.join(name), usize::from(shots % 4), Some(50));
}

/// Split an input into a shots byte and two files at the first `\0`.
fn two_files(data: &[u8]) -> (u8, &[u8], &[u8]) {
    let (shots, rest) = data.split_first().map_or((0, data), |(s, r)| (*s, r));
    match rest.iter().position(|&b| b == 0) {
        Some(i) => (shots, &rest[..i], &rest[i + 1..]),
        None => (shots, rest, &[]),
    }
}

/// A BBH task: the chain-of-thought prompt file, `\0`, the items JSONL.
pub fn task_bbh(data: &[u8]) {
    let (shots, prompt, items) = two_files(data);
    load_task(
        TaskKind::Bbh(Some("t".into())),
        "",
        &[("cot-prompts/t.txt", prompt), ("t.jsonl", items)],
        shots,
    );
}

/// HumanEval JSONL (uncompressed; gzip is flate2's).
pub fn task_humaneval(data: &[u8]) {
    load_task(TaskKind::HumanEval, "h.jsonl", &[("h.jsonl", data)], 0);
}

/// Multiple choice as CSV (MMLU layout or a header).
pub fn task_mc_csv(data: &[u8]) {
    let (shots, body, _) = two_files(data);
    load_task(TaskKind::Mc, "m.csv", &[("m.csv", body)], shots);
}

/// Multiple choice as JSONL.
pub fn task_mc_jsonl(data: &[u8]) {
    let (shots, body, _) = two_files(data);
    load_task(TaskKind::Mc, "m.jsonl", &[("m.jsonl", body)], shots);
}

/// Generic context/continuation JSONL.
pub fn task_jsonl(data: &[u8]) {
    let (shots, body, _) = two_files(data);
    load_task(TaskKind::Jsonl, "g.jsonl", &[("g.jsonl", body)], shots);
}

/// A GGUF header (metadata and tensor directory), then the tokenizer it describes.
pub fn gguf(data: &[u8]) {
    if let Ok(content) = read_gguf(&mut Cursor::new(data)) {
        let _ = TextTokenizer::from_gguf(&content);
    }
}

/// A `/v1/completions` reply, taken through every step the client applies to it,
/// for a text prompt and for an id prompt.
pub fn completion_response(data: &[u8]) {
    let body = text(data);
    let Ok(echoed) = protocol::parse_completion(&body) else {
        return;
    };
    let ids = [1u32, 2, 3, 4];
    for prompt in [Prompt::Text("abcdef"), Prompt::Ids(&ids)] {
        let Ok(n) = protocol::prompt_len(&echoed, prompt) else {
            continue;
        };
        let _ = probe::check(&echoed.entries, n);
        if let Ok((start, _)) = protocol::split_by_offset(&echoed.entries, n, 6, 3) {
            let _ = protocol::continuation(&echoed.entries, start, n);
        }
        let _ = protocol::continuation(&echoed.entries, 2, n);
    }
}

/// A `/v1/completions` request body as `densing serve` validates it (one id per
/// byte stands in for the tokenizer, which the rules never look into).
pub fn completion_request(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let limits = Limits {
        model_name: "m".into(),
        window: 2048,
        vocab: 49152,
    };
    let encode = |s: &str| Ok(s.bytes().map(u32::from).collect());
    let _ = parse_request(&v, &limits, &encode);
}

/// Replay every file under `corpus/<target>/` through its target; returns the
/// number of inputs run. Panics (naming the file) if a target panics.
pub fn replay(corpus: &Path) -> usize {
    let mut n = 0;
    for (name, target) in TARGETS {
        let dir = corpus.join(name);
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().collect())
            .unwrap_or_default();
        assert!(
            !entries.is_empty(),
            "no corpus for fuzz target {name} in {}",
            dir.display()
        );
        for e in entries {
            let data = std::fs::read(e.path()).unwrap_or_default();
            if let Err(p) = std::panic::catch_unwind(|| target(&data)) {
                panic!(
                    "fuzz target {name} panicked on {}: {:?}",
                    e.path().display(),
                    p.downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| p.downcast_ref::<&str>().copied())
                );
            }
            n += 1;
        }
    }
    // The scratch directory outlives every input (a static); remove it here, as
    // a fuzzing process's goes with bench/fuzz/run.sh's temporary folder.
    if let Some(dir) = scratch() {
        let _ = std::fs::remove_dir_all(dir);
    }
    n
}
