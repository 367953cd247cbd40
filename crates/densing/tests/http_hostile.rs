//! `densing serve` (real SmolLM2-135M GGUF, loopback) against hostile requests:
//! each gets a 4xx with a clear message and the server keeps answering valid
//! requests correctly; an API key is required and checked; a full queue is
//! answered 503 with `Retry-After`; `/health` tells readiness.

mod http_support;

use std::time::Duration;

use http_support::raw::{request, Reply};
use http_support::start_serve_env;
use serde_json::{json, Value};

const KEY: &str = "test-key-5f1c";
const T: Duration = Duration::from_secs(120);

fn post(url: &str, auth: Option<&str>, body: &[u8]) -> Reply {
    let bearer = auth.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    request(url, "POST", "/v1/completions", &headers, body, T).expect("a reply")
}

fn complete(url: &str, body: &Value) -> Reply {
    post(url, Some(KEY), body.to_string().as_bytes())
}

/// A 4xx whose error message contains `needle`.
fn refused(r: &Reply, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{r:?}");
    let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
}

fn valid() -> Value {
    json!({"prompt": "The capital of France is", "max_tokens": 3, "echo": true, "logprobs": 1})
}

#[test]
fn hostile_requests_get_4xx_and_the_server_keeps_serving() {
    let (mut server, url) = start_serve_env(
        &["--api-key-env", "DENSING_TEST_KEY", "--queue", "2"],
        &[("DENSING_TEST_KEY", KEY)],
    );
    let health = request(&url, "GET", "/health", &[], b"", T).unwrap();
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.json()["status"], "ready");

    // Authentication: none, wrong, and right.
    let none = request(&url, "GET", "/v1/models", &[], b"", T).unwrap();
    refused(&none, 401, "API key");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    refused(
        &post(&url, Some("test-key-5f1d"), valid().to_string().as_bytes()),
        401,
        "API key",
    );
    refused(
        &post(&url, None, valid().to_string().as_bytes()),
        401,
        "API key",
    );
    let reference = complete(&url, &valid());
    assert_eq!(reference.status, 200, "{reference:?}");
    let reference = reference.json();
    let lps = reference["choices"][0]["logprobs"]["token_logprobs"]
        .as_array()
        .unwrap()
        .clone();
    assert!(lps[0].is_null() && lps.len() > 3, "{reference}");

    // Once a panic in Vec::with_capacity that killed a worker thread.
    let huge = complete(&url, &json!({"prompt": "hi", "max_tokens": u64::MAX}));
    refused(&huge, 400, "max_tokens");
    refused(
        &complete(&url, &json!({"prompt": "hi", "max_tokens": 1e30})),
        400,
        "max_tokens",
    );
    refused(
        &complete(&url, &json!({"prompt": "hi", "max_tokens": -1})),
        400,
        "max_tokens",
    );
    refused(
        &complete(&url, &json!({"prompt": "hi", "max_tokens": 0})),
        400,
        "at least 1",
    );
    refused(
        &complete(&url, &json!({"prompt": "hi", "max_tokens": 8192})),
        400,
        "context length",
    );
    refused(
        &complete(&url, &json!({"prompt": "hi", "logprobs": 5})),
        400,
        "logprobs",
    );
    refused(
        &complete(&url, &json!({"prompt": "hi", "logprobs": -1})),
        400,
        "logprobs",
    );
    // Prompt ids: out of the vocabulary, negative, not integers, beyond the context.
    refused(
        &complete(&url, &json!({"prompt": [1, 99_999_999]})),
        400,
        "vocabulary",
    );
    refused(
        &complete(&url, &json!({"prompt": [1, -5]})),
        400,
        "vocabulary",
    );
    refused(
        &complete(&url, &json!({"prompt": [1.5, 2]})),
        400,
        "vocabulary",
    );
    refused(
        &complete(&url, &json!({"prompt": vec![1; 8200], "max_tokens": 1})),
        400,
        "maximum context length",
    );
    refused(&complete(&url, &json!({"prompt": []})), 400, "prompt");
    refused(&complete(&url, &json!({"prompt": [[]]})), 400, "empty");
    refused(
        &complete(&url, &json!({"prompt": [{"a": 1}]})),
        400,
        "prompt",
    );
    refused(
        &complete(&url, &json!({"prompt": vec!["x"; 300]})),
        400,
        "at most 256",
    );
    refused(
        &complete(&url, &json!({"prompt": "hi", "stream": true})),
        400,
        "streaming",
    );
    refused(
        &complete(&url, &json!({"prompt": "hi", "model": "gpt-4"})),
        404,
        "does not exist",
    );
    // Bodies: not JSON, not UTF-8, and too large (announced).
    refused(&post(&url, Some(KEY), b"{\"prompt\": "), 400, "not JSON");
    refused(
        &post(&url, Some(KEY), &[0xff, 0xfe, 0x00, 0x80]),
        400,
        "not JSON",
    );
    let big = format!("{{\"prompt\": \"{}\"}}", "a".repeat(2 << 20));
    refused(
        &post(&url, Some(KEY), big.as_bytes()),
        413,
        "at most 1048576",
    );
    // Routes and methods.
    let auth = format!("Bearer {KEY}");
    let h = [("Authorization", auth.as_str())];
    refused(
        &request(&url, "GET", "/v1/completions", &h, b"", T).unwrap(),
        405,
        "method",
    );
    refused(
        &request(&url, "GET", "/admin", &h, b"", T).unwrap(),
        404,
        "no route",
    );

    // Still alive, and still right.
    assert!(server.0.try_wait().unwrap().is_none(), "the server exited");
    let again = complete(&url, &valid());
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json()["choices"], reference["choices"]);

    // A full queue: 10 requests at once; the 2 queue places (plus the one being
    // computed, when the compute thread took its job before the rest arrived) are
    // answered, the others are told to come back.
    let long = json!({"prompt": "Once upon a time", "max_tokens": 48});
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..10).map(|_| s.spawn(|| complete(&url, &long))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert_eq!(ok.len() + busy.len(), 10, "{replies:?}");
    assert!(
        !busy.is_empty() && ok.len() >= 2,
        "{} ok, {} busy",
        ok.len(),
        busy.len()
    );
    for b in &busy {
        assert_eq!(b.header("retry-after"), Some("1"), "{b:?}");
        assert!(b.json()["message"].as_str().unwrap().contains("busy"));
    }
    let first = &ok[0].json()["choices"];
    assert!(ok.iter().all(|r| &r.json()["choices"] == first));
    let health = request(&url, "GET", "/health", &[], b"", T).unwrap();
    assert_eq!(health.status, 200, "{health:?}");
    assert!(server.0.try_wait().unwrap().is_none(), "the server exited");
}

#[test]
fn api_key_variable_must_be_set_and_non_empty() {
    let out = http_support::densing()
        .args([
            "serve",
            "--port",
            "0",
            "--api-key-env",
            "DENSING_UNSET_KEY_VAR",
            "--model",
        ])
        .arg(http_support::model())
        .env_remove("DENSING_UNSET_KEY_VAR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DENSING_UNSET_KEY_VAR: variable not set"),
        "{err}"
    );
}
