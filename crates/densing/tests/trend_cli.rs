//! The trend through the real binary: on registries whose release dates are
//! shuffled among the models there is no trend, and `densing run` must say so
//! (p > 0.05) on at least four of five; `densing trend FILE` returns Powell's
//! exact solution, reproduces `densing run`'s estimators from its densities,
//! and names file, line and field of a bad row.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::process::Command;

const MODELS_CSV: &str = include_str!("../../../data/models.csv");

/// data/models.csv with `release_date` permuted among the rows (fixed seed),
/// everything else, the source line included, kept.
fn permuted_registry(seed: u64) -> String {
    let (comment, body) = MODELS_CSV.split_once('\n').unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = header.iter().position(|h| h == "release_date").unwrap();
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let mut dates: Vec<String> = rows.iter().map(|r| r[col].clone()).collect();
    dates.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    for (r, d) in rows.iter_mut().zip(dates) {
        r[col] = d;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    format!(
        "{comment}\n{}",
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    )
}

#[test]
fn date_permuted_registries_show_no_trend() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for seed in 1..=5u64 {
        let path = dir.path().join(format!("permuted-{seed}.csv"));
        std::fs::write(&path, permuted_registry(seed)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_densing"))
            .args([
                "run",
                "--json",
                "--no-report",
                "--bootstrap",
                "200",
                "--registry",
            ])
            .arg(&path)
            .arg("--out")
            .arg(dir.path().join(format!("out-{seed}")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let p = v["p_value"].as_f64().expect("p_value at the top level");
        assert_eq!(v["trend"]["permutations"], 999);
        // The verdict says it in words.
        let verdict = v["verdict"].as_str().unwrap();
        assert_eq!(
            verdict.contains("NOT distinguishable"),
            p >= 0.05,
            "{verdict}"
        );
        report.push((seed, p, v["doubling_days"].as_f64().unwrap()));
    }
    // (seed, p, doubling days); shown with --nocapture.
    eprintln!("permuted registries: {report:?}");
    let no_trend = report.iter().filter(|r| r.1 > 0.05).count();
    assert!(
        no_trend >= 4,
        "p > 0.05 on only {no_trend} of 5: {report:?}"
    );
}

/// `densing trend` on a CSV written here; the parsed JSON on success.
fn trend(csv: &str, args: &[&str]) -> (std::process::Output, Option<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trend.csv");
    std::fs::write(&path, csv).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_densing"))
        .arg("trend")
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    let json = out
        .status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten();
    (out, json)
}

/// The date `days` (0–5) after the trend's origin, 2023-02-24.
fn day(days: usize) -> &'static str {
    [
        "2023-02-24",
        "2023-02-25",
        "2023-02-26",
        "2023-02-27",
        "2023-02-28",
        "2023-03-01",
    ][days]
}

#[test]
fn trend_on_the_six_point_example_returns_powells_solution() {
    // (t, ln ρ, censor): the example, ρ written as e^y, t in days.
    let rows = [
        (5, 2.1, "lower_bound"),
        (4, 0.8, ""),
        (4, 3.7, ""),
        (1, 0.0, ""),
        (4, 2.3, "lower_bound"),
        (0, -0.3, ""),
    ];
    let mut csv = String::from("# the issue-18 example\nmodel,family,release_date,rho,censor\n");
    for (i, (t, y, c)) in rows.iter().enumerate() {
        csv += &format!("m{i},f{i},{},{:e},{c}\n", day(*t), f64::exp(*y));
    }
    let (out, v) = trend(
        &csv,
        &[
            "--quantile",
            "0.5",
            "--bootstrap",
            "200",
            "--permutations",
            "99",
            "--json",
        ],
    );
    let v = v.unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let e = &v["estimators"][0];
    assert_eq!(e["estimator"]["name"], "censored-quantile");
    // Through (0, −0.3) and the bound (4, 2.3): slope 0.65 per day (worked in tests/trend.rs).
    assert!((e["A"].as_f64().unwrap() - 0.65).abs() < 1e-9, "{e}");
    assert!((e["doubling_days"].as_f64().unwrap() - std::f64::consts::LN_2 / 0.65).abs() < 1e-9);
    for k in [
        "doubling_ci95",
        "p_value",
        "p_mc_se",
        "permutations_failed",
        "replicates_failed",
    ] {
        assert!(!e[k].is_null(), "{k} missing: {e}");
    }
    assert_eq!(v["n_censored"], 2);
    assert_eq!(v["estimators"].as_array().unwrap().len(), 3);
    let tests = v["tests"].as_array().unwrap();
    assert!(tests
        .iter()
        .all(|t| t["p_holm"].as_f64() >= t["p_raw"].as_f64()));
}

#[test]
fn trend_on_runs_densities_reproduces_runs_slopes_and_p_values() {
    let dir = tempfile::tempdir().unwrap();
    let run_out = dir.path().join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_densing"))
        .args([
            "run",
            "--json",
            "--no-report",
            "--bootstrap",
            "0",
            "--permutations",
            "199",
            "--out",
        ])
        .arg(&run_out)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_densing"))
        .arg("trend")
        .arg(run_out.join("densities.csv"))
        .args(["--json", "--bootstrap", "0", "--permutations", "199"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tr: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tr["n_points"], run["n_trend"]);
    for (a, b) in run["estimators"]
        .as_array()
        .unwrap()
        .iter()
        .zip(tr["estimators"].as_array().unwrap())
    {
        assert_eq!(a["estimator"], b["estimator"]);
        assert_eq!(a["A"], b["A"], "{}", a["estimator"]);
        assert_eq!(a["p_value"], b["p_value"], "{}", a["estimator"]);
        assert_eq!(a["permutations_failed"], b["permutations_failed"]);
    }
}

#[test]
fn bad_trend_rows_name_file_line_and_field() {
    let head = "model,family,release_date,rho,censor\n";
    let cases = [
        (
            "a,f,2024-01-01,1.5,\nb,g,2024-02-01,2.0,maybe\n",
            ":3",
            "censor",
        ),
        (
            "a,f,2024-01-01,1.5,\nb,g,2024-13-01,2.0,\n",
            ":3",
            "release_date",
        ),
        ("a,f,2024-01-01,-1,\n", ":2", "rho"),
        ("a,,2024-01-01,1,\n", ":2", "family"),
    ];
    for (body, line, field) in cases {
        let (out, _) = trend(&format!("{head}{body}"), &["--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{body}");
        assert!(
            err.contains("trend.csv") && err.contains(line) && err.contains(field),
            "{err}"
        );
    }
    let (out, _) = trend("model,family,rho\na,f,1\n", &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("release_date"));
}
