//! Acceptance test of the HTML report in a real browser: pages made by the
//! `densing` binary are opened in Debian's headless Chromium, driven by
//! playwright-core (`tests/browser/check.mjs`), which checks that each page loads
//! with no console errors and no network requests, that every figure is present
//! and non-empty, and that sorting the models table by density works. Screenshots
//! are kept as build artefacts in `$DENSING_ARTEFACTS` (default:
//! `<target>/tmp/browser-check`).
//!
//! Missing Chromium, Node or playwright-core fails the test with the command that
//! installs it: a browser check that skips itself checks nothing.

use densing_report::{Censor, CensorKind, ModelRow, ReportInput};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn artefact_dir() -> PathBuf {
    std::env::var_os("DENSING_ARTEFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-check"))
}

fn densing(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_densing"))
        .args(args)
        .output()
        .expect("densing binary runs")
}

fn must(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `input` as `dir/report.json` and draws it with `densing report --from`.
fn render_via_cli(dir: &Path, input: &ReportInput) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string(input).unwrap(),
    )
    .unwrap();
    must(
        densing(&[
            "report",
            "--from",
            dir.to_str().unwrap(),
            "--format",
            "both",
        ]),
        "densing report",
    );
    dir.join("report.html")
}

fn model(i: usize, date: String, rho: f64) -> ModelRow {
    ModelRow {
        name: format!("model-{i}"),
        family: format!("family-{}", i % 9),
        release_date: date,
        params: 0.5 + (i % 70) as f64,
        n_hat: Some(rho * (0.5 + (i % 70) as f64)),
        n_hat_ci95: None,
        rho: Some(rho),
        rho_ci95: Some([rho * 0.8, rho * 1.25]),
        censor: None,
        on_envelope: false,
        in_trend: false,
        flags: vec![],
        parent: None,
        source: format!("https://example.org/model-{i}"),
        scores: [("MMLU".to_string(), 30.0 + (i % 60) as f64)].into(),
    }
}

fn base_input(models: Vec<ModelRow>) -> ReportInput {
    ReportInput {
        reference: "synthetic reference".into(),
        generated_by: "densing browser test".into(),
        params_basis: "total parameters (billions)".into(),
        models,
        trend: None,
        split: None,
        ladder: None,
        score_map: None,
        residuals: vec![],
        sweep: None,
        backtest: vec![],
        methods: vec![],
        caveats: vec![],
        capability: None,
    }
}

/// 500 models over two years, every 20th censored (alternately above and below).
fn many_models() -> ReportInput {
    let mut best = 0.0;
    let models = (0..500)
        .map(|i| {
            let day = i * 730 / 500;
            let date = format!(
                "{}-{:02}-{:02}",
                2023 + day / 365,
                1 + (day % 365) / 31,
                1 + day % 28
            );
            let noise = ((i * 7919) % 100) as f64 / 50.0;
            let rho = (0.007 * day as f64 - 2.0 + noise).exp();
            let mut m = model(i, date, rho);
            if i % 20 == 3 {
                m.rho = None;
                m.n_hat = None;
                m.rho_ci95 = None;
                m.censor = Some(Censor {
                    kind: if i % 40 == 3 {
                        CensorKind::Lower
                    } else {
                        CensorKind::Upper
                    },
                    bound: rho,
                });
            } else if rho > best {
                best = rho;
                m.on_envelope = true;
            }
            m
        })
        .collect();
    let mut input = base_input(models);
    input.trend = Some(
        serde_json::from_str(
            r#"{"a":0.007,"b":-1.2,"r2":0.88,"doubling_days":99.0,"doubling_ci95":[80,130],
                "origin_date":"2023-02-24","n_points":25,
                "band":[{"t_days":-60,"lo":-2.0,"hi":-0.9},{"t_days":700,"lo":3.2,"hi":4.4}]}"#,
        )
        .unwrap(),
    );
    input
}

#[test]
fn report_pages_pass_in_headless_chromium() {
    let base = artefact_dir();
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let mut pages = Vec::new();

    // The bundled run, once `densing run` exists: the report researchers get.
    let help = densing(&["--help"]);
    let has_run = String::from_utf8_lossy(&help.stdout)
        .lines()
        .any(|l| l.trim_start().starts_with("run "));
    if has_run {
        let dir = base.join("bundled-run");
        // Few bootstrap replicates: the page, not the intervals, is under test here.
        // `--split-at` adds the before/after figure (Fig. 4).
        must(
            densing(&[
                "run",
                "--out",
                dir.to_str().unwrap(),
                "--format",
                "both",
                "--bootstrap",
                "100",
                "--split-at",
                "2024-06-01",
            ]),
            "densing run",
        );
        assert!(
            dir.join("fig4_split_trend.svg").is_file(),
            "densing run --split-at drew no split figure"
        );
        // The default capability scale's figures, inlined in the page.
        let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
        for id in ["capability_density", "benchmark_map"] {
            assert!(
                page.contains(&format!("<figure id=\"{id}\"")),
                "report.html lacks the {id} figure"
            );
        }
        assert!(
            dir.join("report.json").is_file(),
            "densing run wrote no report.json"
        );
        // The page `run` wrote, and the same page drawn again from its report.json.
        pages.push(dir.join("report.html"));
        must(
            densing(&["report", "--from", dir.to_str().unwrap()]),
            "densing report --from (bundled run)",
        );
    }

    // The prediction report of `densing predict` (two tasks, backtest plus a target).
    let dir = base.join("predict");
    must(
        densing(&[
            "predict",
            "--backtest",
            "largest",
            "--task",
            "arc_easy_test",
            "--task",
            "piqa_val",
            "--target",
            "OLMo-2-7B=6887575552:3945065873408",
            "--bootstrap",
            "20",
            "--out",
            dir.to_str().unwrap(),
        ]),
        "densing predict",
    );
    pages.push(dir.join("report.html"));

    let fixture = repo_root().join("crates/densing-report/tests/fixtures/report_input.json");
    let fixture: ReportInput =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    pages.push(render_via_cli(&base.join("fixture"), &fixture));

    let mut one = model(1, "2024-06-01".into(), 1.3);
    one.on_envelope = true;
    pages.push(render_via_cli(
        &base.join("one-model"),
        &base_input(vec![one]),
    ));

    pages.push(render_via_cli(&base.join("many-models"), &many_models()));

    let script = repo_root().join("tests/browser/check.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(&script).arg(base.join("screenshots")).args(&pages);
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run node ({e}): install Node.js, then `npm ci --prefix tests/browser`")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser check failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with('{')).count(),
        pages.len(),
        "not every page was checked:\n{stdout}"
    );
    for page in &pages {
        let name = format!(
            "{}-report.png",
            page.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
        );
        let shot = base.join("screenshots").join(name);
        let len = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(
            len > 10_000,
            "screenshot {} missing or empty",
            shot.display()
        );
    }
    println!("screenshots in {}", base.join("screenshots").display());
}
