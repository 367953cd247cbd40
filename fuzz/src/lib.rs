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
use densing_core::registry::{parse_date, Registry};
use densing_core::table::Table;
use densing_eval::engine::read_gguf;
use densing_eval::tasks::{self, TaskKind};
use densing_eval::tokenizer::TextTokenizer;
use densing_http::probe;
use densing_http::protocol::{self, Prompt};
use densing_http::server::{parse_request, Limits};

/// A fuzz target: bytes in, nothing out but the absence of a panic.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const TARGETS: [(&str, Target); 13] = [
    ("registry", registry),
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
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// An lm-evaluation-harness results JSON (`densing density --lm-eval`,
/// `densing models add --lm-eval`).
pub fn lm_eval(data: &[u8]) {
    let _ = densing_analysis::parse_lm_eval(Path::new("fuzz.json"), &text(data));
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

/// A price CSV (`date,price_per_mtok`), read field by field as `densing run
/// --prices` does.
pub fn prices(data: &[u8]) {
    let Ok(t) = Table::parse("fuzz.csv", &text(data)) else {
        return;
    };
    if t.require(&["date", "price_per_mtok"]).is_err() {
        return;
    }
    for row in t.rows() {
        let _ = parse_date(row.text("date").unwrap_or_default());
        let _ = row.positive("price_per_mtok");
    }
}

/// Write `files` into a fresh temporary directory and load the task from `name`
/// with 0–3 shots (from the first input byte).
fn load_task(kind: TaskKind, name: &str, files: &[(&str, &[u8])], shots: u8) {
    let Ok(dir) = tempfile::tempdir() else { return };
    for (f, bytes) in files {
        let path = dir.path().join(f);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if std::fs::write(&path, bytes).is_err() {
            return;
        }
    }
    let _ = tasks::load(
        &kind,
        &dir.path().join(name),
        usize::from(shots % 4),
        Some(50),
    );
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
    n
}
