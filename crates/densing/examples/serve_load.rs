//! Loopback load test of `densing serve` (issue 12): `--clients` concurrent clients
//! for `--seconds`, each cycling through a mix of valid completion requests and
//! hostile ones (absurd `max_tokens`, out-of-vocabulary ids, prompts beyond the
//! context, oversized and malformed bodies, missing or wrong API keys, bad routes).
//!
//! Before the load every valid request is answered once, alone: that answer is the
//! reference (decoding is greedy, so it is deterministic). Under load a valid
//! request must come back 200 with exactly the reference `choices`; a 503 (queue
//! full) is retried after its `Retry-After` and counted; a hostile one must get its
//! expected 4xx. Any 5xx, wrong status, wrong answer, dropped connection or the
//! server exiting is a failure, and the program exits non-zero.
//!
//! Prints one JSON line: counts per case and outcome, p50/p99 latency per class.
//!
//! ```text
//! cargo run --release -p densing --example serve_load -- \
//!     --bin target/release/densing --model assets/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --clients 32 --seconds 60
//! ```

#[path = "../tests/http_support/raw.rs"]
mod raw;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use raw::{request, Reply};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// The densing binary.
    #[arg(long)]
    bin: String,
    /// The model to serve.
    #[arg(long)]
    model: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Duration of the load.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// `densing serve --queue`.
    #[arg(long, default_value_t = 16)]
    queue: usize,
}

const KEY: &str = "load-test-key";
const TIMEOUT: Duration = Duration::from_secs(120);

/// A request of the mix and the status it must get (200 for valid ones).
struct Case {
    name: &'static str,
    path: &'static str,
    auth: Option<&'static str>,
    body: Vec<u8>,
    want: u16,
}

fn case(name: &'static str, body: impl Into<Vec<u8>>, want: u16) -> Case {
    Case {
        name,
        path: "/v1/completions",
        auth: Some(KEY),
        body: body.into(),
        want,
    }
}

fn js(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "valid_text_echo",
            js(
                json!({"prompt": "The capital of France is", "max_tokens": 4, "echo": true, "logprobs": 1}),
            ),
            200,
        ),
        case(
            "valid_ids_echo",
            js(
                json!({"prompt": [504, 3575, 282, 4649, 314], "max_tokens": 1, "echo": true, "logprobs": 1}),
            ),
            200,
        ),
        case(
            "valid_generate",
            js(json!({"prompt": "def add(a, b):\n", "max_tokens": 8})),
            200,
        ),
        case(
            "valid_batch",
            js(json!({"prompt": ["1, 2, 3,", "Monday, Tuesday,"], "max_tokens": 2, "logprobs": 0})),
            200,
        ),
        case(
            "max_tokens_u64_max",
            js(json!({"prompt": "hi", "max_tokens": u64::MAX})),
            400,
        ),
        case(
            "max_tokens_negative",
            js(json!({"prompt": "hi", "max_tokens": -3})),
            400,
        ),
        case("oov_ids", js(json!({"prompt": [1, 4_000_000_000u64]})), 400),
        case("beyond_context", js(json!({"prompt": vec![1; 9000]})), 400),
        case(
            "logprobs_20",
            js(json!({"prompt": "hi", "logprobs": 20})),
            400,
        ),
        case("empty_prompt", js(json!({"prompt": [[]]})), 400),
        case("not_json", &b"{\"prompt\": [1, 2"[..], 400),
        case(
            "oversized_body",
            js(json!({"prompt": "a".repeat(3 << 20)})),
            413,
        ),
        Case {
            auth: None,
            ..case("no_api_key", &br#"{"prompt": "hi"}"#[..], 401)
        },
        Case {
            auth: Some("load-test-kez"),
            ..case("wrong_api_key", &br#"{"prompt": "hi"}"#[..], 401)
        },
        Case {
            path: "/v1/../../etc/passwd",
            ..case("unknown_route", Vec::new(), 404)
        },
    ]
}

fn send(url: &str, c: &Case) -> std::io::Result<Reply> {
    let bearer = c.auth.map(|k| format!("Bearer {k}"));
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(b) = &bearer {
        h.push(("Authorization", b.as_str()));
    }
    request(url, "POST", c.path, &h, &c.body, TIMEOUT)
}

/// The server process, killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &Args) -> Result<(Guard, String)> {
    let mut child = Command::new(&args.bin)
        .args(["serve", "--port", "0", "--api-key-env", "DENSING_LOAD_KEY"])
        .args(["--queue", &args.queue.to_string(), "--model", &args.model])
        .env("DENSING_LOAD_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting densing serve")?;
    let stderr = child.stderr.take().context("stderr")?;
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            match line.strip_prefix("listening on ") {
                Some(url) => {
                    let _ = tx.send(url.to_string());
                }
                None => eprintln!("server: {line}"),
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .context("densing serve did not start")?;
    Ok((guard, url))
}

#[derive(Default)]
struct Tally {
    /// case → outcome → count.
    outcomes: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// Latency (ms) of valid requests answered 200 and of hostile ones refused.
    valid_ms: Vec<f64>,
    hostile_ms: Vec<f64>,
    failures: Vec<String>,
}

impl Tally {
    fn count(&mut self, c: &Case, outcome: String) {
        *self
            .outcomes
            .entry(c.name)
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }
}

/// The `q` quantile (nearest rank) of `v`.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// One client: cycle through the cases from `offset` until `deadline`.
fn client(
    url: &str,
    cases: &[Case],
    reference: &BTreeMap<&str, Value>,
    offset: usize,
    deadline: Instant,
    tally: &Mutex<Tally>,
) {
    let mut i = offset;
    while Instant::now() < deadline {
        let c = &cases[i % cases.len()];
        let t = Instant::now();
        let reply = send(url, c);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
        match reply {
            Err(e) => {
                tally.failures.push(format!("{}: {e}", c.name));
                tally.count(c, "io error".into());
            }
            Ok(r) if r.status == 503 && c.want == 200 => {
                tally.count(c, "503 busy, retried".into());
                let wait = r.header("retry-after").and_then(|v| v.parse().ok());
                if wait.is_none() {
                    tally
                        .failures
                        .push(format!("{}: 503 without Retry-After", c.name));
                }
                drop(tally);
                std::thread::sleep(Duration::from_secs(wait.unwrap_or(1)));
                continue; // the same request again
            }
            Ok(r) if r.status != c.want => {
                tally.failures.push(format!(
                    "{}: want {}, got {} {}",
                    c.name, c.want, r.status, r.body
                ));
                tally.count(c, format!("wrong status {}", r.status));
            }
            Ok(r) if c.want == 200 && r.json()["choices"] != reference[c.name] => {
                tally.failures.push(format!(
                    "{}: answer differs from the reference: {}",
                    c.name, r.body
                ));
                tally.count(c, "wrong answer".into());
            }
            Ok(r) => {
                if c.want == 200 {
                    tally.valid_ms.push(ms);
                } else {
                    tally.hostile_ms.push(ms);
                }
                tally.count(c, r.status.to_string());
            }
        }
        i += 1;
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (mut server, url) = start(&args)?;
    let cases = cases();
    let mut reference = BTreeMap::new();
    for c in cases.iter().filter(|c| c.want == 200) {
        let r = send(&url, c)?;
        if r.status != 200 {
            bail!(
                "{}: reference request answered {}: {}",
                c.name,
                r.status,
                r.body
            );
        }
        reference.insert(c.name, r.json()["choices"].clone());
    }
    let tally = Mutex::new(Tally::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    std::thread::scope(|s| {
        for k in 0..args.clients {
            let (cases, reference, tally, url) = (&cases, &reference, &tally, &url);
            s.spawn(move || client(url, cases, reference, k, deadline, tally));
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut t = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    let alive = server.0.try_wait()?.is_none();
    let health = send(
        &url,
        &Case {
            path: "/health",
            ..case("health", Vec::new(), 200)
        },
    )
    .map(|r| r.status)
    .unwrap_or(0);
    let out = json!({
        "clients": args.clients,
        "seconds": elapsed,
        "queue": args.queue,
        "valid_answered": t.valid_ms.len(),
        "hostile_refused": t.hostile_ms.len(),
        "valid_ms": {"p50": quantile(&mut t.valid_ms, 0.5), "p99": quantile(&mut t.valid_ms, 0.99)},
        "hostile_ms": {"p50": quantile(&mut t.hostile_ms, 0.5), "p99": quantile(&mut t.hostile_ms, 0.99)},
        "outcomes": t.outcomes,
        "failures": t.failures.len(),
        "server_alive": alive,
        "health_after": health,
    });
    println!("{out}");
    for f in t.failures.iter().take(20) {
        eprintln!("failure: {f}");
    }
    if !t.failures.is_empty() || !alive || health != 200 {
        bail!(
            "the load test failed: {} failures, server alive: {alive}, /health {health}",
            t.failures.len()
        );
    }
    Ok(())
}
