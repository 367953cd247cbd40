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

/// vLLM's tokenizer routes, as lm-evaluation-harness's `RemoteTokenizer` calls
/// them: `/tokenizer_info` names the special tokens as text, `/tokenize` without
/// special tokens and `/detokenize` are inverse on real code, and bad ids are a 400.
#[test]
fn tokenizer_routes_answer_as_vllm_does() {
    use http_support::raw::request;
    let (_server, url) = start_serve(&[]);
    let t = Duration::from_secs(30);
    let post = |path: &str, body: serde_json::Value| {
        request(
            &url,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
            t,
        )
        .unwrap()
    };
    let info = request(&url, "GET", "/tokenizer_info", &[], b"", t).unwrap();
    assert_eq!(info.status, 200, "{}", info.body);
    let info = info.json();
    assert_eq!(info["tokenizer_class"], "PreTrainedTokenizerFast");
    assert_eq!(info["add_bos_token"], false, "SmolLM2 adds no BOS: {info}");
    assert_eq!(info["model_max_length"], 8192);
    let eos = info["eos_token"]
        .as_str()
        .expect("eos_token as text")
        .to_string();
    // The harness finds the EOS id by tokenising its text: one special token.
    let eos_ids = post(
        "/tokenize",
        serde_json::json!({"prompt": eos, "add_special_tokens": false}),
    )
    .json();
    assert_eq!(eos_ids["tokens"].as_array().unwrap().len(), 1, "{eos_ids}");

    let text = "def add(a, b):\n    \"\"\"Sum of 2 numbers.\"\"\"\n    return a + b\n";
    let ids = post(
        "/tokenize",
        serde_json::json!({"prompt": text, "add_special_tokens": false}),
    )
    .json();
    let ids = ids["tokens"].clone();
    assert!(ids.as_array().unwrap().len() > 10);
    let back = post("/detokenize", serde_json::json!({"tokens": ids}));
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.json()["prompt"], text);

    let bad = post("/detokenize", serde_json::json!({"tokens": [1, 49152]}));
    assert_eq!(bad.status, 400, "{}", bad.body);
    let other = post(
        "/detokenize",
        serde_json::json!({"model": "other", "tokens": [1]}),
    );
    assert_eq!(other.status, 404, "{}", other.body);
    let wrong = request(&url, "GET", "/detokenize", &[], b"", t).unwrap();
    assert_eq!(wrong.status, 405, "{}", wrong.body);
}

/// `densing tokenizer export` writes a directory whose `tokenizer.json` gives
/// the same ids as the engine's tokenizer on every HumanEval prompt and solution.
#[test]
fn exported_tokenizer_directory_tokenises_as_the_engine_does() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tok");
    let (ok, stdout, stderr) = run(densing()
        .args(["tokenizer", "export"])
        .arg(&out)
        .arg("--model")
        .arg(model()));
    assert!(ok, "export failed:\n{stdout}\n{stderr}");
    for f in [
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        assert!(stdout.contains(f), "{f} not reported: {stdout}");
    }
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tokenizer_config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["model_max_length"], 8192);
    let engine = densing_http::tokenizer_from_gguf(&model()).unwrap();
    let exported = densing_eval::TextTokenizer::from_file(
        &out.join("tokenizer.json"),
        engine.bos(),
        engine.add_bos(),
    )
    .unwrap();
    let gz = std::fs::File::open(humaneval()).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in ["prompt", "canonical_solution"] {
            let s = v[field].as_str().unwrap();
            assert_eq!(
                exported.encode(s).unwrap(),
                engine.encode(s).unwrap(),
                "{}: {field}",
                v["task_id"]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 164);
}
