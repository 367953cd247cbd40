//! `densing fit` end to end through the real binary: JSON output on real data,
//! and every bad-input class with its message and exit code.

use std::path::PathBuf;
use std::process::{Command, Output};

fn densing(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_densing"))
        .args(args)
        .output()
        .expect("run densing")
}

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
        .display()
        .to_string()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn chinchilla_refit_json_has_params_and_cis() {
    let out = densing(&[
        "fit",
        "loss",
        "--data",
        &data("chinchilla_epoch.csv"),
        "--form",
        "chinchilla",
        "--drop-highest",
        "5",
        "--bootstrap",
        "200",
        "--seed",
        "3",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n_points"], 240);
    assert!(v["objective"].as_f64().unwrap() <= 1.0184e-3);
    let e = v["params"]["E"].as_f64().unwrap();
    assert!((e - 1.8172).abs() < 0.01, "E = {e}");
    for name in ["E", "A", "B", "alpha", "beta"] {
        let ci = v["ci95"][name].as_array().unwrap();
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        let p = v["params"][name].as_f64().unwrap();
        assert!(lo < p && p < hi, "{name}: {p} outside [{lo}, {hi}]");
    }
    assert!(v["distinct_optima"].as_u64().unwrap() >= 1);
    assert!(v["correlations"].is_array());
}

#[test]
fn score_fit_json_names_and_heldout() {
    let dir = tempfile::tempdir().unwrap();
    // Anchors from a known map S = -0.7/(1+e^{-4(L-1.2)}) + 0.95, plus one held out.
    let mut csv = String::from("# synthetic\nmodel,loss,score,heldout\n");
    for i in 0..12 {
        let l = 0.6 + 0.1 * i as f64;
        let s = -0.7 / (1.0 + (-4.0 * (l - 1.2f64)).exp()) + 0.95;
        csv += &format!("m{i},{l},{s},{}\n", if i == 11 { "yes" } else { "no" });
    }
    let f = write(&dir, "anchors.csv", &csv);
    let out = densing(&["fit", "score", "--data", &f, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (k, want) in [("c", -0.7), ("gamma", 4.0), ("l", 1.2), ("d", 0.95)] {
        let got = v["params"][k].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-3 * want.abs().max(1.0),
            "{k}: {got} vs {want}"
        );
    }
    assert_eq!(v["n_points"], 11);
    assert_eq!(v["options"]["heldout"].as_array().unwrap().len(), 1);
}

/// Each bad input: (file body, expected message fragment, expected `file:line` fragment).
#[test]
fn bad_ladder_inputs_name_file_line_field_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let good_rows = "1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n8e8,1.6e10,2.5\n1.6e9,3.2e10,2.4\n3.2e9,6.4e10,2.3\n";
    let cases: [(&str, String, &str, &str); 7] = [
        (
            "nan",
            format!("# src\nparams,tokens,loss\n{good_rows}1e9,2e10,NaN\n"),
            "field `loss`: `NaN` is not a finite number",
            ":9:",
        ),
        (
            "zero",
            format!("params,tokens,loss\n0,2e10,2.0\n{good_rows}"),
            "field `params`: must be > 0",
            ":2:",
        ),
        (
            "negtokens",
            format!("params,tokens,loss\n{good_rows}1e9,-5,2.0\n"),
            "field `tokens`: must be > 0",
            ":8:",
        ),
        (
            "text",
            format!("params,tokens,loss\n{good_rows}1e9,lots,2.0\n"),
            "field `tokens`: `lots` is not a number",
            ":8:",
        ),
        (
            "nocol",
            "params,tokens,lossy\n1e8,2e9,3.1\n".to_string(),
            "required column `loss` is missing",
            ":1:",
        ),
        (
            "dup",
            format!("params,tokens,loss\n{good_rows}1e8,2e9,3.0\n"),
            "duplicate row: (params, tokens) already given on line 2",
            ":8:",
        ),
        (
            "few",
            "params,tokens,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n".to_string(),
            "2 data points cannot determine 4 parameters",
            "",
        ),
    ];
    for (name, body, msg, line) in cases {
        let f = write(&dir, &format!("{name}.csv"), &body);
        let out = densing(&["fit", "loss", "--data", &f]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(msg), "{name}: `{err}` lacks `{msg}`");
        assert!(err.contains(&f), "{name}: `{err}` does not name the file");
        assert!(
            err.contains(&format!("{f}{line}")),
            "{name}: `{err}` lacks the line `{line}`"
        );
        assert!(
            out.stdout.is_empty(),
            "{name}: printed results despite the error"
        );
    }
}

#[test]
fn bad_anchor_inputs_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "pct",
            "loss,score\n1.0,55\n",
            "field `score`: 55 is outside [0, 1]",
        ),
        (
            "nocol",
            "loss,acc\n1.0,0.5\n",
            "required column `score` is missing",
        ),
        (
            "dup",
            "model,loss,score\na,1.0,0.5\na,1.1,0.4\n",
            "duplicate row: already given on line 2",
        ),
        (
            "heldout",
            "loss,score,heldout\n1.0,0.5,maybe\n",
            "`maybe` is not yes/no",
        ),
        (
            "few",
            "loss,score\n1.0,0.5\n1.1,0.4\n1.2,0.3\n",
            "3 data points cannot determine 4 parameters",
        ),
    ];
    for (name, body, msg) in cases {
        let f = write(&dir, &format!("{name}.csv"), body);
        let out = densing(&["fit", "score", "--data", &f]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains(msg) && err.contains(&f),
            "{name}: `{err}` lacks `{msg}` or the file name"
        );
    }
    let out = densing(&["fit", "loss", "--data", "/nonexistent/ladder.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ladder.csv: cannot read"));
}
