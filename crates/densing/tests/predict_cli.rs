//! `densing predict` through the real binary on the bundled OLMo-2 ladder: JSON
//! shape, the backtest, the report folder, seeded intervals, every bad-input
//! class, and the same ladder feeding `densing run`'s two-step calibration.
//! One task and few replicates each, to keep the suite quick.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn densing(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_densing"))
        .args(args)
        .output()
        .expect("run densing")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(&densing(args))).unwrap()
}

fn bundled_ladder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/olmo_ladder/checkpoints.csv")
}

const OLMO_7B: &str = "OLMo-2-7B=6887575552:3945065873408";

#[test]
fn predicts_a_target_with_intervals_and_the_documented_json() {
    let v = json(&[
        "predict",
        "--task",
        "hellaswag_val",
        "--target",
        OLMO_7B,
        "--bootstrap",
        "20",
        "--json",
    ]);
    let preds = v["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 1);
    let p = &preds[0];
    for key in [
        "target",
        "params",
        "tokens",
        "task",
        "loss",
        "loss_ci95",
        "score",
        "score_ci95",
    ] {
        assert!(!p[key].is_null(), "prediction lacks `{key}`: {p}");
    }
    assert_eq!(p["target"], "OLMo-2-7B");
    assert_eq!(p["params"].as_f64().unwrap(), 6887575552.0);
    let (l, s) = (p["loss"].as_f64().unwrap(), p["score"].as_f64().unwrap());
    let lci: Vec<f64> = serde_json::from_value(p["loss_ci95"].clone()).unwrap();
    let sci: Vec<f64> = serde_json::from_value(p["score_ci95"].clone()).unwrap();
    assert!(lci[0] < lci[1] && sci[0] < sci[1], "{p}");
    assert!(l > 0.0 && (0.0..1.0).contains(&s), "{p}");
    // The default selection keeps every run, the five 0.5×C ones included.
    let fit = &v["fits"]["hellaswag_val"];
    assert_eq!(fit["runs"].as_array().unwrap().len(), 25);
    assert_eq!(
        fit["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r.as_str().unwrap().ends_with("0.5xC"))
            .count(),
        5
    );
    assert!(fit["step1_mean_abs_rel_error"].as_f64().unwrap() < 0.05);
    assert!(fit["step2_rmse"].as_f64().unwrap() < 0.05);
    // A larger model trained longer is predicted a lower loss than the biggest run.
    assert!(l < 0.9, "{p}");
}

#[test]
fn backtest_fits_the_smaller_sizes_and_predicts_the_five_largest_runs() {
    let v = json(&[
        "predict",
        "--backtest",
        "largest",
        "--task",
        "arc_easy_test",
        "--bootstrap",
        "20",
        "--json",
    ]);
    let bt = &v["backtest"];
    let rows = bt["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows
        .iter()
        .all(|r| r["target"].as_str().unwrap().starts_with("3B-")));
    assert_eq!(bt["held_out_params"].as_f64().unwrap(), 3_169_537_280.0);
    // Every run of 190M–1.3B (0.5, 1, 2, 5, 10×C): the 3.2B targets at every
    // budget then lie inside the fitted tokens-per-parameter range.
    assert_eq!(
        v["fits"]["arc_easy_test"]["runs"].as_array().unwrap().len(),
        20
    );
    assert_eq!(bt["inside_fitted_range"]["pairs"], 5);
    assert_eq!(bt["outside_fitted_range"]["pairs"], 0);
    for r in rows {
        let e = r["score_abs_error"].as_f64().unwrap();
        assert!(e.is_finite() && e < 0.15, "{r}");
        assert!(r["loss_covered"].is_boolean());
    }
    assert!(bt["score_coverage"].as_str().unwrap().ends_with("/5"));
}

#[test]
fn out_writes_the_report_figures_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let text = ok(&densing(&[
        "predict",
        "--task",
        "piqa_val",
        "--task",
        "csqa_val",
        "--target",
        OLMO_7B,
        "--bootstrap",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(
        text.contains("OLMo-2-7B") && text.contains("piqa_val"),
        "{text}"
    );
    for f in [
        "report.html",
        "predict_piqa_val.svg",
        "predict_csqa_val.svg",
        "predictions.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert!(csv.starts_with("target,params,tokens,task,loss,loss_lo95,loss_hi95,score,"));
    assert_eq!(csv.lines().count(), 3);
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("id=\"predictions\"") && page.contains("Two-step prediction: piqa_val"));
}

#[test]
fn intervals_reproduce_per_seed() {
    let run = |seed: &str| {
        json(&[
            "predict",
            "--task",
            "csqa_val",
            "--target",
            OLMO_7B,
            "--bootstrap",
            "12",
            "--seed",
            seed,
            "--json",
        ])["predictions"][0]
            .clone()
    };
    let (a, b, c) = (run("5"), run("5"), run("6"));
    assert_eq!(a, b);
    assert_eq!(a["score"], c["score"]);
    assert_ne!(a["score_ci95"], c["score_ci95"]);
}

/// Runs `densing predict` on `ladder` text with `extra` arguments, expects exit 1
/// with `want` in the message and no output folder.
fn fails(ladder: Option<&str>, extra: &[&str], want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ladder.csv");
    let out = dir.path().join("out");
    let mut args = vec!["predict".to_string()];
    if let Some(text) = ladder {
        std::fs::write(&file, text).unwrap();
        args.extend(["--ladder".into(), file.to_str().unwrap().into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([
        "--bootstrap".into(),
        "2".into(),
        "--out".into(),
        out.to_str().unwrap().into(),
    ]);
    let o = Command::new(env!("CARGO_BIN_EXE_densing"))
        .args(&args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).replace(file.to_str().unwrap(), "LADDER");
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: expected `{want}` in: {err}");
    assert!(!out.exists(), "{args:?} wrote {}", out.display());
}

/// A valid two-run ladder head: runs a and b, task t, 5 evaluations each.
fn runs(rows: &[(&str, f64, u32, &str)]) -> String {
    let mut s = String::from("# test ladder\nrun,params,tokens,task,loss,score\n");
    for &(run, n, k, task) in rows {
        s += &format!("{run},{n},{}e9,{task},{},0.4\n", k, 2.0 - 0.01 * k as f64);
    }
    s
}

#[test]
fn bad_input_names_file_line_field_exits_1_and_writes_nothing() {
    let t = ["--target", "x=1e9:2e10"];
    // A run with fewer evaluations than the final window.
    let short = runs(&[("a", 1e8, 1, "t"), ("a", 1e8, 2, "t"), ("a", 1e8, 3, "t")]);
    fails(
        Some(&short),
        &t,
        "LADDER:3: field `run`: run `a` has 3 evaluation(s)",
    );
    // A task missing from some runs.
    let mut rows: Vec<(&str, f64, u32, &str)> = (1..=5).map(|k| ("a", 1e8, k, "t")).collect();
    rows.extend((1..=5).map(|k| ("a", 1e8, k, "u")));
    rows.extend((1..=5).map(|k| ("b", 2e8, k, "t")));
    fails(
        Some(&runs(&rows)),
        &t,
        "LADDER:13: field `task`: run `b` has no evaluations of task `u`",
    );
    // Tokens decreasing within a run.
    let falling = runs(&[("a", 1e8, 2, "t"), ("a", 1e8, 1, "t")]);
    fails(
        Some(&falling),
        &t,
        "LADDER:4: field `tokens`: tokens must increase within run `a`",
    );
    // A target with N or D ≤ 0, or not a number.
    fails(
        None,
        &["--target", "x=0:2e10"],
        "--target `x=0:2e10`: field `N`: must be > 0",
    );
    fails(None, &["--target", "x=1e9:-5"], "field `D`: must be > 0");
    fails(None, &["--target", "x=1e9"], "expected NAME=N:D");
    fails(
        None,
        &["--target", "x=abc:1"],
        "field `N`: `abc` is not a number",
    );
    // An unknown task.
    fails(
        None,
        &["--target", "x=1e9:2e10", "--task", "nope"],
        "unknown task `nope`",
    );
    // A missing column and a bad value.
    fails(
        Some("run,params,tokens,task,loss\na,1,1,t,1\n"),
        &t,
        "LADDER:1: field `score`: required column",
    );
    fails(
        Some(&runs(&[("a", -1.0, 1, "t")])),
        &t,
        "LADDER:3: field `params`: must be > 0",
    );
    // Nothing to predict.
    fails(None, &[], "nothing to predict");
}

#[test]
fn the_checkpoint_ladder_feeds_the_two_step_density_path() {
    // Anchors: the ladder's own MMLU final scores against their loss (bits per
    // byte, the ladder's unit), i.e. the ladder models as anchors.
    let text = std::fs::read_to_string(bundled_ladder()).unwrap();
    let mut last: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[6] == "mmlu_avg_test" {
            last.insert(
                f[0].to_string(),
                (f[7].parse().unwrap(), f[8].parse().unwrap()),
            );
        }
    }
    let mut anchors = String::from("model,loss,score,task\n");
    for (run, (l, s)) in &last {
        anchors += &format!("{run},{l},{s},mmlu\n");
    }
    let dir = tempfile::tempdir().unwrap();
    let af = dir.path().join("anchors.csv");
    std::fs::write(&af, anchors).unwrap();
    let ladder = bundled_ladder();
    let base = [
        "run",
        "--ladder",
        ladder.to_str().unwrap(),
        "--anchors",
        af.to_str().unwrap(),
        "--form",
        "chinchilla",
        "--benchmarks",
        "mmlu",
        "--min-benchmarks",
        "1",
        "--bootstrap",
        "10",
        "--no-report",
    ];
    let mut with_task = base.to_vec();
    with_task.extend(["--ladder-task", "mmlu_avg_test"]);
    let text = ok(&densing(&with_task));
    assert!(
        text.contains(
            "two-step (Chinchilla-form loss law on 25 ladder runs + score map on 25 anchors"
        ),
        "{text}"
    );
    // Without --ladder-task the eight tasks cannot share one loss law.
    let o = densing(&base);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--ladder-task"));
}
