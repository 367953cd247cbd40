//! The trend's null through the real binary: on registries whose release dates
//! are shuffled among the models there is no trend, and `densing run` must say
//! so (p > 0.05) on at least four of five.

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
