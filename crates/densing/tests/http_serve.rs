//! `densing serve` with the real SmolLM2-135M GGUF, scored through the HTTP
//! client: the same per-item losses as the embedded engine, and a run that
//! survives the server being killed and restarted.

mod http_support;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use http_support::{densing, humaneval, model, run, start_serve, store_records, Guard};

fn losses(out: &std::path::Path) -> HashMap<String, (f64, u64)> {
    store_records(out)
        .into_iter()
        .map(|r| {
            (
                r["item_id"].as_str().unwrap().to_string(),
                (
                    r["loss_sum"].as_f64().unwrap(),
                    r["tokens"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// The summary JSON of the HumanEval run under `out`.
fn summary(out: &std::path::Path) -> serde_json::Value {
    let dir = std::fs::read_dir(out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    serde_json::from_str(&std::fs::read_to_string(dir.join("humaneval.summary.json")).unwrap())
        .unwrap()
}

#[test]
fn embedded_and_http_with_or_without_a_local_tokenizer_agree_on_humaneval() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start_serve(&[]);
    let eval = |out: &str, extra: &[&str]| {
        let (ok, stdout, stderr) = run(densing()
            .args(["eval", "--task", "humaneval", "--limit", "20"])
            .arg("--data")
            .arg(humaneval())
            .arg("--out")
            .arg(dir.path().join(out))
            .args(extra));
        assert!(ok, "densing eval {extra:?} failed:\n{stdout}\n{stderr}");
        (losses(&dir.path().join(out)), stderr)
    };
    let model = model();
    let model = model.to_str().unwrap();
    let (embedded, _) = eval("embedded", &["--model", model]);
    // Token ids from the local tokenizer, two requests in flight.
    let (by_ids, stderr) = eval(
        "ids",
        &["--endpoint", &url, "--model", model, "--concurrency", "2"],
    );
    assert!(stderr.contains("token ids (local tokenizer)"), "{stderr}");
    // No local tokenizer: token ids built from the server's POST /tokenize.
    let (by_server, stderr) = eval("server-tok", &["--endpoint", &url]);
    assert!(
        stderr.contains("token ids (server's /tokenize)"),
        "{stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(embedded.len(), 20);
    for (name, other) in [
        ("local tokenizer", &by_ids),
        ("server /tokenize", &by_server),
    ] {
        assert_eq!(other.len(), 20, "{name}");
        for (id, (loss, tokens)) in &embedded {
            let (l, t) = other[id];
            assert_eq!(t, *tokens, "{id} ({name}): token counts differ");
            assert!(
                (l - loss).abs() < 1e-3,
                "{id} ({name}): loss {l} vs embedded {loss}"
            );
        }
    }
    for out in ["embedded", "ids", "server-tok"] {
        let s = summary(&dir.path().join(out));
        assert_eq!(s["boundary"], "harness", "{out}");
        assert_eq!(s["caveats"], serde_json::json!([]), "{out}");
    }
}

#[test]
fn killed_server_then_rerun_scores_each_item_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = |url: &str| {
        let mut c = densing();
        c.args([
            "eval",
            "--task",
            "humaneval",
            "--limit",
            "12",
            "--concurrency",
            "1",
            "--max-retries",
            "1",
        ])
        .args(["--endpoint", url, "--model"])
        .arg(model())
        .arg("--data")
        .arg(humaneval())
        .arg("--out")
        .arg(&out);
        c
    };
    let (mut server, url) = start_serve(&["--served-model-name", "smol"]);
    let mut first = Guard(
        args(&url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while store_records(&out).len() < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no progress within 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let mut stderr = String::new();
    first
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = first.0.wait().unwrap();
    assert!(
        !status.success(),
        "the run should stop when its server dies"
    );
    assert!(
        stderr.contains("connection refused") || stderr.contains("failed after"),
        "{stderr}"
    );
    let kept = store_records(&out).len();
    assert!(
        (2..12).contains(&kept),
        "{kept} items stored before the kill"
    );

    let (_server, url) = start_serve(&["--served-model-name", "smol"]);
    let (ok, stdout, stderr) = run(&mut args(&url));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("12 items ({} scored now)", 12 - kept)),
        "{stdout}"
    );
    let ids: Vec<String> = store_records(&out)
        .iter()
        .map(|r| r["item_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        12,
        "an item was stored twice: {ids:?}"
    );
}
