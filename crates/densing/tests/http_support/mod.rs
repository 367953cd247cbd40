//! Shared by the `http_*` tests: the `densing` binary, processes that are killed
//! when dropped, `densing serve` start-up, a scriptable misbehaving
//! OpenAI-compatible server on loopback, and the real test assets.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod raw;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

pub fn densing() -> Command {
    Command::new(env!("CARGO_BIN_EXE_densing"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The real test assets (`scripts/fetch-assets.sh`); missing ones fail loudly.
pub fn asset(name: &str) -> PathBuf {
    let dir = std::env::var_os("DENSING_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("assets"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "test asset {} is missing: run scripts/fetch-assets.sh (or set DENSING_ASSETS)",
        p.display()
    );
    p
}

pub fn model() -> PathBuf {
    asset("SmolLM2-135M-Instruct.Q4_1.gguf")
}

pub fn humaneval() -> PathBuf {
    asset("HumanEval.jsonl.gz")
}

/// A child process that is killed and reaped when dropped, so no test leaves a
/// server running, whatever assertion fails.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `densing serve --port 0` and wait for its `listening on` line.
pub fn start_serve(extra: &[&str]) -> (Guard, String) {
    start_serve_env(extra, &[])
}

/// [`start_serve`] with extra environment variables.
pub fn start_serve_env(extra: &[&str], env: &[(&str, &str)]) -> (Guard, String) {
    let mut child = densing()
        .args(["serve", "--port", "0", "--model"])
        .arg(model())
        .args(extra)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn densing serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("densing serve did not start listening within 120 s");
    (guard, url)
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run a command to completion and return (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run densing");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Every result line of every store file under `out`, as JSON.
pub fn store_records(out: &Path) -> Vec<serde_json::Value> {
    let mut recs = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                for line in std::fs::read_to_string(&p)
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    if v.get("item_id").is_some() {
                        recs.push(v);
                    }
                }
            }
        }
    }
    recs
}

/// How the fake server answers `POST /v1/completions` number `n` (0-based; the
/// client's probe is number 0).
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Correct vLLM-style replies (one token per character).
    Good,
    /// Good for the first `n` completions, then HTTP 500.
    FailAfter(usize),
    /// Good for the first `n` completions, then read the request and never answer
    /// (the connection is held for 5 s, then closed).
    StallAfter(usize),
    /// Close the connection without answering the first `n` completions, then Good.
    DropFirst(usize),
    /// `/v1/models` works, `/v1/completions` is 404 (a chat-only deployment).
    ChatOnly,
    /// Every route answers 200 with an HTML page.
    NotJson,
    /// Good for the first `n` completions (the probe), then an empty echo that
    /// claims `prompt_tokens: 0`.
    EmptyEchoAfter(usize),
}

/// A scriptable OpenAI-compatible server on 127.0.0.1 serving model `fake`.
pub struct FakeServer {
    pub url: String,
    pub completions: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let completions = Arc::new(AtomicUsize::new(0));
        let (s, c) = (stop.clone(), completions.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let c = c.clone();
                std::thread::spawn(move || answer(conn, behaviour, &c));
            }
        });
        FakeServer {
            url: format!("http://{addr}"),
            completions,
            stop,
            addr,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(conn: &mut TcpStream) -> Option<(String, String)> {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let path = head.split_whitespace().nth(1)?.to_string();
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>())
        })
        .and_then(Result::ok)
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).ok()?;
    Some((path, String::from_utf8_lossy(&body).into_owned()))
}

fn respond(conn: &mut TcpStream, status: u16, ctype: &str, body: &str) {
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A correct echo reply for a text prompt: one token per character, each with
/// log-prob -0.01, the first `null`, plus one generated token.
fn good_completion(body: &str) -> String {
    let req: serde_json::Value = serde_json::from_str(body).unwrap();
    let prompt = req["prompt"]
        .as_str()
        .expect("the fake server takes text prompts")
        .to_string();
    let mut tokens: Vec<String> = prompt.chars().map(String::from).collect();
    let n = tokens.len();
    tokens.push("!".into());
    let lps: Vec<serde_json::Value> = (0..=n)
        .map(|i| {
            if i == 0 {
                serde_json::Value::Null
            } else {
                serde_json::json!(-0.01)
            }
        })
        .collect();
    let tops: Vec<serde_json::Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i == 0 {
                serde_json::Value::Null
            } else {
                serde_json::json!({ t.clone(): -0.01 })
            }
        })
        .collect();
    let offsets: Vec<usize> = (0..=n).collect();
    serde_json::json!({
        "object": "text_completion", "model": "fake",
        "choices": [{"index": 0, "text": format!("{prompt}!"), "finish_reason": "length",
            "logprobs": {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}}],
        "usage": {"prompt_tokens": n, "completion_tokens": 1, "total_tokens": n + 1}
    })
    .to_string()
}

fn answer(mut conn: TcpStream, behaviour: Behaviour, completions: &AtomicUsize) {
    let Some((path, body)) = read_request(&mut conn) else {
        return;
    };
    if let Behaviour::NotJson = behaviour {
        return respond(
            &mut conn,
            200,
            "text/html",
            "<html><body>Welcome to nginx!</body></html>",
        );
    }
    match path.as_str() {
        "/v1/models" => respond(
            &mut conn,
            200,
            "application/json",
            r#"{"object":"list","data":[{"id":"fake","object":"model"}]}"#,
        ),
        "/v1/completions" => {
            let n = completions.fetch_add(1, Ordering::SeqCst);
            match behaviour {
                Behaviour::ChatOnly => respond(
                    &mut conn,
                    404,
                    "application/json",
                    r#"{"detail":"Not Found"}"#,
                ),
                Behaviour::FailAfter(k) if n >= k => respond(
                    &mut conn,
                    500,
                    "application/json",
                    r#"{"error":{"message":"CUDA out of memory (injected)"}}"#,
                ),
                Behaviour::StallAfter(k) if n >= k => std::thread::sleep(Duration::from_secs(5)),
                Behaviour::DropFirst(k) if n < k => drop(conn),
                Behaviour::EmptyEchoAfter(k) if n >= k => respond(
                    &mut conn,
                    200,
                    "application/json",
                    r#"{"choices":[{"index":0,"text":"","logprobs":{"tokens":[],"token_logprobs":[],"top_logprobs":[],"text_offset":[]}}],"usage":{"prompt_tokens":0}}"#,
                ),
                _ => respond(&mut conn, 200, "application/json", &good_completion(&body)),
            }
        }
        _ => respond(
            &mut conn,
            404,
            "application/json",
            r#"{"detail":"Not Found"}"#,
        ),
    }
}

/// A small JSONL task (`--task jsonl`) of `n` items.
pub fn jsonl_task(dir: &Path, n: usize) -> PathBuf {
    let p = dir.join("tiny.jsonl");
    let lines: Vec<String> = (0..n)
        .map(|i| serde_json::json!({"id": format!("q{i}"), "context": format!("Question {i}: what is {i} plus one?"), "continuation": format!(" It is {}.", i + 1)}).to_string())
        .collect();
    std::fs::write(&p, lines.join("\n")).unwrap();
    p
}
