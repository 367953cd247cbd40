//! `densing eval` as a user runs it, on the real SmolLM2-135M GGUF and HumanEval
//! (fetched by `scripts/fetch-assets.sh`): SIGKILL mid-run and resume, and clear
//! errors on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../../../tests/support/assets.rs"]
mod support;
use support::assets;

fn model() -> PathBuf {
    assets().join("SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn densing(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_densing"));
    c.arg("eval").args(args).stdin(Stdio::null());
    c
}

fn run(args: &[&str]) -> Output {
    densing(args).output().expect("spawn densing")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn store_file(out: &Path, name: &str) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one model directory: {dirs:?}");
    dirs[0].join(name)
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn sigkill_mid_run_then_resume_matches_uninterrupted_run() {
    let he = assets().join("HumanEval.jsonl.gz");
    let tmp = tempfile::tempdir().unwrap();
    let (full, killed) = (tmp.path().join("full"), tmp.path().join("killed"));
    let m = model();
    let base = |out: &Path| -> Vec<String> {
        [
            "--model",
            m.to_str().unwrap(),
            "--task",
            "humaneval",
            "--data",
            he.to_str().unwrap(),
            "--limit",
            "10",
            // Two items per forward pass, stored after each pass: a kill lands between.
            "--batch",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args_full = base(&full);
    let o = run(&args_full.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));

    // Start the same run elsewhere and SIGKILL it once a few items are stored.
    let args_killed = base(&killed);
    let argv: Vec<&str> = args_killed.iter().map(String::as_str).collect();
    let mut child = densing(&argv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = std::fs::read_dir(&killed)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.unwrap().path().join("humaneval.jsonl")).ok())
            .map_or(0, |s| s.lines().count());
        if n >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress before the deadline");
        assert!(
            child.try_wait().unwrap().is_none(),
            "run finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let store = store_file(&killed, "humaneval.jsonl");
    let before = records(&store).len();
    assert!((3..10).contains(&before), "killed after {before} items");
    // Simulate a kill inside a write: a torn, unterminated last line.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&store)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"model\":\"sha256:b17"))
        .unwrap();

    let o = run(&argv);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("({} scored now)", 10 - before)),
        "{stdout}"
    );

    let a = records(&store_file(&full, "humaneval.jsonl"));
    let b = records(&store);
    let mut ids: Vec<&str> = b.iter().map(|r| r["item_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((b.len(), ids.len()), (10, 10), "each item exactly once");
    for ra in &a {
        let rb = b.iter().find(|r| r["item_id"] == ra["item_id"]).unwrap();
        assert_eq!(ra["tokens"], rb["tokens"]);
        assert_eq!(ra["bytes"], rb["bytes"]);
        let (la, lb) = (
            ra["loss_sum"].as_f64().unwrap(),
            rb["loss_sum"].as_f64().unwrap(),
        );
        assert!((la - lb).abs() < 1e-3, "{}: {la} vs {lb}", ra["item_id"]);
    }
    let sa: Value = serde_json::from_str(
        &std::fs::read_to_string(store_file(&full, "humaneval.summary.json")).unwrap(),
    )
    .unwrap();
    let sb: Value = serde_json::from_str(
        &std::fs::read_to_string(store_file(&killed, "humaneval.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sa["items"], 10);
    assert_eq!(
        (
            sa["items"].clone(),
            sa["tokens"].clone(),
            sa["bytes"].clone()
        ),
        (
            sb["items"].clone(),
            sb["tokens"].clone(),
            sb["bytes"].clone()
        )
    );
    let (la, lb) = (
        sa["loss_sum"].as_f64().unwrap(),
        sb["loss_sum"].as_f64().unwrap(),
    );
    assert!((la - lb).abs() < 1e-2, "{la} vs {lb}");

    // Rerunning a finished run scores nothing.
    let o = run(&argv);
    assert!(String::from_utf8_lossy(&o.stdout).contains("(0 scored now)"));
}

#[test]
fn missing_model_and_wrong_checksum_fail_clearly() {
    let he = assets().join("HumanEval.jsonl.gz");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let o = run(&[
        "--model",
        "/nonexistent/m.gguf",
        "--task",
        "humaneval",
        "--data",
        he.to_str().unwrap(),
        "--out",
        out,
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("model file /nonexistent/m.gguf does not exist"),
        "{}",
        stderr(&o)
    );
    let m = model();
    let o = run(&[
        "--model",
        m.to_str().unwrap(),
        "--sha256",
        &"0".repeat(64),
        "--task",
        "humaneval",
        "--data",
        he.to_str().unwrap(),
        "--out",
        out,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));
}

#[test]
fn memory_preflight_stops_before_loading_and_names_the_ways_out() {
    let he = assets().join("HumanEval.jsonl.gz");
    let tmp = tempfile::tempdir().unwrap();
    let m = model();
    let args = [
        "--model",
        m.to_str().unwrap(),
        "--task",
        "humaneval",
        "--data",
        he.to_str().unwrap(),
        "--out",
        tmp.path().to_str().unwrap(),
        "--limit",
        "1",
    ];
    // SmolLM2-135M: 134.5M parameters → ≈ 0.50 GiB of f32 weights, 0.25 in bf16.
    let with = |extra: &[&str], mem: &str| {
        let mut a = args.to_vec();
        a.extend_from_slice(extra);
        densing(&a)
            .env("DENSING_AVAILABLE_MEMORY", mem)
            .output()
            .unwrap()
    };
    let o = with(&["--matmul", "f32"], "450MiB");
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("not enough memory") && e.contains("0.5 GiB weights as f32"),
        "{e}"
    );
    assert!(
        e.contains("--matmul bf16") && e.contains("--matmul quantized") && e.contains("--endpoint"),
        "{e}"
    );
    assert!(!e.contains("loaded"), "it must stop before loading: {e}");
    // Without --matmul the preflight falls back to bf16, which fits, and says so.
    let o = with(&[], "450MiB");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("(weights bf16"), "{}", stderr(&o));
    // Too little even for bf16: the error names bf16 and the ways out.
    let o = with(&[], "300MiB");
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("weights as bf16") && e.contains("--matmul quantized"),
        "{e}"
    );
    // Quantised blocks fit.
    let o = with(&["--quantized-matmul"], "400MiB");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unsupported_architecture_fails_clearly() {
    // The real file with its `general.architecture` value "llama" patched to "mamba".
    let bytes = std::fs::read(model()).unwrap();
    let key = b"general.architecture";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    // Then: value type (u32, 8 = string), length (u64 = 5), "llama".
    assert_eq!(&bytes[at + 12..at + 17], b"llama");
    let mut patched = bytes;
    patched[at + 12..at + 17].copy_from_slice(b"mamba");
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m.gguf");
    std::fs::write(&m, &patched).unwrap();
    let he = assets().join("HumanEval.jsonl.gz");
    let o = run(&[
        "--model",
        m.to_str().unwrap(),
        "--task",
        "humaneval",
        "--data",
        he.to_str().unwrap(),
        "--out",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unsupported architecture `mamba`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn malformed_lines_and_overlong_items_fail_unless_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("items.jsonl");
    let long = "x ".repeat(10_000);
    std::fs::write(
        &data,
        format!(
            "{{\"id\": \"a\", \"context\": \"The capital of France is\", \"continuation\": \" Paris.\"}}\n\
             {{\"id\": \"b\", \"context\": 5}}\n\
             {{\"id\": \"c\", \"context\": \"{long}\", \"continuation\": \" end\"}}\n"
        ),
    )
    .unwrap();
    let m = model();
    let out = tmp.path().join("out");
    let args = [
        "--model",
        m.to_str().unwrap(),
        "--task",
        "jsonl",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = run(&args);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("items.jsonl:2: field `context` is not a string"),
        "{e}"
    );
    assert!(e.contains("--skip-bad"), "{e}");

    let mut skip = args.to_vec();
    skip.push("--skip-bad");
    let o = run(&skip);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("exceed the model's context window of 8192"),
        "{e}"
    );
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(store_file(&out, "jsonl_items.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(s["items"], 1);
    assert_eq!(s["bad_items"].as_array().unwrap().len(), 2);

    // Without --skip-bad an overlong item stops the run with a clear error.
    let only_long = tmp.path().join("long.jsonl");
    std::fs::write(
        &only_long,
        format!("{{\"id\": 1, \"context\": \"{long}\", \"continuation\": \" end\"}}\n"),
    )
    .unwrap();
    let o = run(&[
        "--model",
        m.to_str().unwrap(),
        "--task",
        "jsonl",
        "--data",
        only_long.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("jsonl:long item 1:") && stderr(&o).contains("context window"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ladder_and_anchor_rows_feed_densing_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let he = assets().join("HumanEval.jsonl.gz");
    let m = model();
    let ladder = tmp.path().join("ladder.csv");
    let anchors = tmp.path().join("anchors.csv");
    let o = run(&[
        "--model",
        m.to_str().unwrap(),
        "--task",
        "humaneval",
        "--data",
        he.to_str().unwrap(),
        "--limit",
        "2",
        "--out",
        tmp.path().join("out").to_str().unwrap(),
        "--ladder",
        ladder.to_str().unwrap(),
        "--params",
        "134515008",
        "--train-tokens",
        "2e12",
        "--run-name",
        "smollm2-135m",
        "--anchors",
        anchors.to_str().unwrap(),
        "--score",
        "0.5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let l = std::fs::read_to_string(&ladder).unwrap();
    let mut lines = l.lines();
    assert_eq!(lines.next(), Some("params,tokens,loss,run,task"));
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        (row[0], row[1], row[3], row[4]),
        ("134515008", "2000000000000", "smollm2-135m", "humaneval")
    );
    assert!(row[2].parse::<f64>().unwrap() > 0.0);
    let a = std::fs::read_to_string(&anchors).unwrap();
    assert!(a.starts_with("loss,score,model,task,heldout\n"));
    assert!(a
        .lines()
        .nth(1)
        .unwrap()
        .ends_with(",0.5,smollm2-135m,humaneval,false"));
}
