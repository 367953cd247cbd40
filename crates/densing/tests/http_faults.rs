//! The HTTP client against misbehaving servers on loopback (a scriptable fake in
//! this process; no model needed): retries, bounds, timeouts, dropped
//! connections, and clear errors for endpoints that cannot score.

mod http_support;

use std::time::Instant;

use http_support::{densing, free_port, jsonl_task, run, store_records, Behaviour, FakeServer};

/// `densing eval` of a 6-item JSONL task through `url` with fast-failing retries.
fn eval(
    url: &str,
    out: &std::path::Path,
    data: &std::path::Path,
    extra: &[&str],
) -> (bool, String, String) {
    let mut cmd = densing();
    cmd.args(["eval", "--task", "jsonl", "--endpoint", url]);
    for (flag, default) in [("--concurrency", "1"), ("--max-retries", "2")] {
        if !extra.contains(&flag) {
            cmd.args([flag, default]);
        }
    }
    run(cmd
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra))
}

#[test]
fn good_server_scores_every_item_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 6);
    let fake = FakeServer::start(Behaviour::Good);
    let (ok, stdout, stderr) = eval(
        &fake.url,
        &dir.path().join("out"),
        &data,
        &["--concurrency", "4"],
    );
    assert!(ok, "{stderr}");
    let recs = store_records(&dir.path().join("out"));
    assert_eq!(recs.len(), 6, "{stdout}");
    // No POST /tokenize and no local tokenizer: text prompts, said on stderr and in
    // the summary.
    assert!(
        stderr.contains("warning: continuations located by text offsets"),
        "{stderr}"
    );
    assert!(
        stdout.contains("caveat: continuations located by text offsets"),
        "{stdout}"
    );
    // The fake server makes one token per character, each at log-prob -0.01.
    for r in &recs {
        let chars = r["bytes"].as_f64().unwrap();
        assert_eq!(r["tokens"].as_f64().unwrap(), chars, "{r}");
        assert!(
            (r["loss_sum"].as_f64().unwrap() - 0.01 * chars).abs() < 1e-6,
            "{r}"
        );
    }
}

#[test]
fn dropped_connections_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 6);
    let fake = FakeServer::start(Behaviour::DropFirst(2));
    let (ok, _, stderr) = eval(&fake.url, &dir.path().join("out"), &data, &[]);
    assert!(ok, "{stderr}");
    assert_eq!(store_records(&dir.path().join("out")).len(), 6);
    // Probe + 6 items + the 2 dropped attempts.
    assert_eq!(
        fake.completions.load(std::sync::atomic::Ordering::SeqCst),
        9
    );
}

#[test]
fn server_errors_are_retried_then_fail_at_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 6);
    // The probe and two items succeed, then every request answers 500.
    let fake = FakeServer::start(Behaviour::FailAfter(3));
    let t = Instant::now();
    let (ok, _, stderr) = eval(&fake.url, &dir.path().join("out"), &data, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("failed after 3 attempts")
            && stderr.contains("retry bound")
            && stderr.contains("HTTP 500: CUDA out of memory (injected)"),
        "{stderr}"
    );
    // Backoff 0.5 s then 1 s.
    assert!(t.elapsed().as_secs_f64() >= 1.5);
    // The items scored before the failure are kept for the rerun.
    assert_eq!(store_records(&dir.path().join("out")).len(), 2);
}

#[test]
fn a_stalled_server_times_out_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 6);
    let fake = FakeServer::start(Behaviour::StallAfter(1));
    let (ok, _, stderr) = eval(
        &fake.url,
        &dir.path().join("out"),
        &data,
        &["--request-timeout", "1", "--max-retries", "1"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("no complete answer within the request timeout")
            && stderr.contains("after 2 attempts"),
        "{stderr}"
    );
    assert!(store_records(&dir.path().join("out")).is_empty());
}

#[test]
fn unreachable_endpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 2);
    let url = format!("http://127.0.0.1:{}", free_port());
    let (ok, _, stderr) = eval(
        &url,
        &dir.path().join("out"),
        &data,
        &["--max-retries", "0"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("cannot use endpoint") && stderr.contains("connection refused"),
        "{stderr}"
    );
}

#[test]
fn chat_only_endpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 2);
    let fake = FakeServer::start(Behaviour::ChatOnly);
    let (ok, _, stderr) = eval(&fake.url, &dir.path().join("out"), &data, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("HTTP 404") && stderr.contains("chat-only"),
        "{stderr}"
    );
}

#[test]
fn wrong_model_name_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 2);
    let fake = FakeServer::start(Behaviour::Good);
    let (ok, _, stderr) = eval(
        &fake.url,
        &dir.path().join("out"),
        &data,
        &["--server-model", "llama-70b"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("does not serve model `llama-70b`; it serves: fake"),
        "{stderr}"
    );
}

#[test]
fn non_json_reply_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 2);
    let fake = FakeServer::start(Behaviour::NotJson);
    let (ok, _, stderr) = eval(&fake.url, &dir.path().join("out"), &data, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("not an OpenAI-compatible server")
            && stderr.contains("non-JSON")
            && stderr.contains("nginx"),
        "{stderr}"
    );
}

#[test]
fn empty_echo_with_zero_prompt_tokens_fails_items_not_the_process() {
    // Once an `n_prompt - 1` underflow that aborted the run from a scoring thread.
    let dir = tempfile::tempdir().unwrap();
    let data = jsonl_task(dir.path(), 3);
    let fake = FakeServer::start(Behaviour::EmptyEchoAfter(1));
    let (ok, stdout, stderr) = eval(
        &fake.url,
        &dir.path().join("out"),
        &data,
        &["--concurrency", "3"],
    );
    assert!(!ok, "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("0 prompt tokens"),
        "{stdout}\n{stderr}"
    );
    assert!(store_records(&dir.path().join("out")).is_empty());
}
