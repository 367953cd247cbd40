//! A real third-party server: llama-cpp-python 0.3.36 (installed into
//! `<repo>/.venv` by `scripts/setup-llama-server.sh`) serving the same SmolLM2
//! GGUF. Its echoed prompt log-probs are shifted by one position; the probe must
//! refuse it with a clear message before anything is recorded, whether prompts
//! go as token ids (which it rejects, so the client falls back to text) or text.

mod http_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http_support::{densing, free_port, humaneval, model, repo, run, store_records, Guard};

fn models_answer(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

#[test]
fn probe_refuses_llama_cpp_python_off_by_one_logprobs() {
    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-llama-server.sh to install llama-cpp-python[server]==0.3.36",
        python.display()
    );
    let port = free_port();
    let server = Guard(
        Command::new(&python)
            .args([
                "-m",
                "llama_cpp.server",
                "--host",
                "127.0.0.1",
                "--n_ctx",
                "2048",
                "--port",
            ])
            .arg(port.to_string())
            .arg("--model")
            .arg(model())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama_cpp.server"),
    );
    let t = Instant::now();
    while !models_answer(port) {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "llama_cpp.server did not answer within 120 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let model = model();
    for (name, extra) in [
        ("ids", vec!["--model", model.to_str().unwrap()]),
        ("text", vec![]),
    ] {
        let out = dir.path().join(name);
        let (ok, stdout, stderr) = run(densing()
            .args([
                "eval",
                "--task",
                "humaneval",
                "--limit",
                "3",
                "--endpoint",
                &url,
            ])
            .args(&extra)
            .arg("--data")
            .arg(humaneval())
            .arg("--out")
            .arg(&out));
        assert!(!ok, "{name}: the run must stop:\n{stdout}\n{stderr}");
        assert!(
            stderr.contains("probe failed")
                && stderr.contains("misaligned")
                && stderr.contains("off by one"),
            "{name}: unclear error:\n{stderr}"
        );
        assert!(
            store_records(&out).is_empty(),
            "{name}: numbers were recorded"
        );
    }
    drop(server);
}
