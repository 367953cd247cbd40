//! The default convention (lm-evaluation-harness's loglikelihood request) against
//! an independent implementation: llama.cpp in-process (llama-cpp-python 0.3.36 in
//! `<repo>/.venv`, installed by `scripts/setup-llama-server.sh`) with its own
//! tokenizer and the harness rule written in Python (`bench/eval/llamacpp_compare.py`),
//! on the first 20 HumanEval items. All 164 and BBH date_understanding (3-shot CoT)
//! run in `bench/eval/agreement.sh` (BENCHMARKS.md).

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use densing_eval::engine::{Engine, EngineOptions};
use densing_eval::tasks::{self, TaskKind};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn harness_convention_agrees_with_llama_cpp() {
    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-llama-server.sh to install llama-cpp-python==0.3.36",
        python.display()
    );
    let assets = std::env::var_os("DENSING_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("assets"));
    let model = assets.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        model.exists(),
        "{} is missing: run scripts/fetch-assets.sh",
        model.display()
    );
    let engine = Engine::load(&model, &EngineOptions::default()).unwrap();
    let humaneval = &tasks::load(
        &TaskKind::HumanEval,
        &assets.join("HumanEval.jsonl.gz"),
        0,
        Some(20),
    )
    .unwrap()[0];
    let mut dump = tempfile::NamedTempFile::new().unwrap();
    for item in &humaneval.items {
        let d = engine.dump(&item.id, &item.requests[0]).unwrap();
        writeln!(dump, "{}", serde_json::to_string(&d).unwrap()).unwrap();
    }
    let out = Command::new(&python)
        .arg(repo().join("bench/eval/llamacpp_compare.py"))
        .arg(&model)
        .arg(dump.path())
        .arg("2")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "llamacpp_compare.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["items"], 20);
    let f = |p: &str| r.pointer(p).and_then(|v| v.as_f64()).unwrap();
    let (median, p95) = (
        f("/item_abs_delta_nat_per_token/median"),
        f("/item_abs_delta_nat_per_token/p95"),
    );
    assert!(
        f("/ids_identical_fraction") >= 0.99,
        "token ids differ on {}",
        r["ids_differ"]
    );
    assert!(
        median <= 0.02 && p95 <= 0.05,
        "per-item |Δ| nat/token: median {median}, p95 {p95}"
    );
    // Both sides flag the same items as having a token across the join.
    assert_eq!(r["join_mismatch_llamacpp"], r["join_mismatch_densing"]);
}
