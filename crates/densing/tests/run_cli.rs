//! `densing run`, `densing density` and `densing models` through the real binary.

mod cli_support;

use cli_support::{densing, ok};
use std::path::Path;

/// On the five-benchmark scale, where bounds (censored models) arise; the
/// default capability scale is tested in capability_cli.rs.
#[test]
fn run_on_the_bundled_registry_writes_every_output_and_reports_both_trends() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let o = out_dir.to_str().unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&densing(&[
        "run",
        "--scale",
        "five-benchmark",
        "--out",
        o,
        "--json",
        "--bootstrap",
        "300",
        "--no-report",
    ])))
    .unwrap();
    assert!(v["reference"].as_str().unwrap().contains("Qwen2.5"));
    // Every row of the bundled models.csv (comment lines and header aside).
    let rows = include_str!("../../../data/models.csv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
        - 1;
    assert_eq!(v["n_models"].as_u64(), Some(rows as u64));
    let a = v["A"].as_f64().unwrap();
    let days = v["doubling_days"].as_f64().unwrap();
    assert!(a > 0.0 && (days - std::f64::consts::LN_2 / a).abs() < 1e-9);
    // The default estimator, its permutation test, and the others beside it.
    assert_eq!(v["estimator"], "censored-quantile τ=0.9");
    let p = v["p_value"].as_f64().unwrap();
    assert!(p > 0.0 && p < 0.05, "p = {p} on the bundled registry");
    assert_eq!(v["trend"]["permutations"], 999);
    assert!(v["verdict"]
        .as_str()
        .unwrap()
        .contains("distinguishable from no trend"));
    // The test's measured size beside the verdict: the bundled simulation row
    // of this scale and estimator, read from the file, not from the code.
    let table = include_str!("../../densing-core/src/trend/test_size.csv");
    let row = table
        .lines()
        .find(|l| l.starts_with("five-benchmark,censored-quantile τ=0.9,"))
        .expect("a five-benchmark row in test_size.csv");
    let size: f64 = row.split(',').nth(4).unwrap().parse().unwrap();
    assert_eq!(v["test_size"]["scale"], "five-benchmark");
    assert_eq!(v["test_size"]["size"].as_f64(), Some(size));
    // The reported interval is the inverted permutation test, the bootstrap's
    // percentile interval beside it.
    assert_eq!(v["trend"]["interval"], "inverted-test");
    for key in ["a_ci95", "a_ci95_percentile"] {
        let ci = v["trend"][key].as_array().unwrap();
        assert!(
            ci[0].as_f64().unwrap() < a && a < ci[1].as_f64().unwrap(),
            "{key}"
        );
    }
    let names: Vec<&str> = v["estimators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["estimator"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["censored-quantile", "quantile", "envelope"]);
    let envelope = &v["estimators"][2];
    assert!(envelope["r2"].as_f64().unwrap() > 0.5 && envelope["p_value"].as_f64().is_some());
    assert!(v["n_censored"].as_u64().unwrap() >= 1);
    let ci = v["doubling_ci95"].as_array().unwrap();
    assert!(
        ci[0].as_f64().unwrap() < days && days < ci[1].as_f64().unwrap(),
        "{ci:?} vs {days}"
    );
    let fig1 = &v["trend_fig1"];
    assert!(fig1["n_points"].as_u64().unwrap() < v["n_trend"].as_u64().unwrap());
    assert!(fig1["doubling_ci95"].as_array().is_some());
    // The paper's price example: $20 → $0.075 over 609 days.
    let halving = v["price_halving_days"].as_f64().unwrap();
    assert!((halving - 609.0 * std::f64::consts::LN_2 / (20.0f64 / 0.075).ln()).abs() < 1e-6);
    for f in ["densities.csv", "trend.json", "summary.md", "report.json"] {
        assert!(out_dir.join(f).metadata().unwrap().len() > 100, "{f}");
    }
    let trend_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("trend.json")).unwrap()).unwrap();
    assert_eq!(trend_json["p_value"], v["p_value"]);
    let md = std::fs::read_to_string(out_dir.join("summary.md")).unwrap();
    assert!(
        md.contains(&format!("permutation p = {p:.3} ± "))
            && md.contains("999 permutations, 0 failed refits counted as extreme"),
        "{md}"
    );
    // Every p comes with its Monte Carlo error, every refit is accounted for,
    // and the run's tests are Holm-adjusted together.
    assert!(v["p_mc_se"].as_f64().unwrap() > 0.0);
    for e in v["estimators"].as_array().unwrap() {
        assert_eq!(
            e["replicates_used"].as_u64().unwrap() + e["replicates_failed"].as_u64().unwrap(),
            300
        );
        assert!(e["permutations_failed"].as_u64().is_some() && e["a_ci95_bca"].is_array());
    }
    let tests = v["tests"].as_array().unwrap();
    assert!(tests.len() >= 4, "{tests:?}");
    assert!(tests
        .iter()
        .all(|t| t["p_holm"].as_f64().unwrap() >= t["p_raw"].as_f64().unwrap()));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["trend"]["p_value"], v["p_value"]);
    assert!(
        !out_dir.join("report.html").exists(),
        "--no-report wrote the page"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let csv = std::fs::read_to_string(out_dir.join("densities.csv")).unwrap();
    assert_eq!(csv.lines().count(), rows + 1);
    assert!(
        !csv.contains("NaN") && !csv.contains("inf"),
        "non-numbers in densities.csv"
    );
    // Falcon-7B scores 0.0 on HumanEval: below the floor, so its density is a bound.
    let falcon = csv.lines().find(|l| l.starts_with("Falcon-7B,")).unwrap();
    assert!(falcon.contains("upper_bound"), "{falcon}");
    // Same seed, same numbers.
    let again: serde_json::Value = serde_json::from_str(&ok(&densing(&[
        "run",
        "--scale",
        "five-benchmark",
        "--out",
        o,
        "--json",
        "--bootstrap",
        "300",
        "--no-report",
    ])))
    .unwrap();
    assert_eq!(v["doubling_ci95"], again["doubling_ci95"]);
}

#[test]
fn split_sweep_and_backtest_print_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o");
    let text = ok(&densing(&[
        "run",
        "--out",
        o.to_str().unwrap(),
        "--bootstrap",
        "100",
        "--no-report",
        "--sweep",
        "--split-at",
        "2024-06-01",
    ]));
    for needle in [
        "before 2024-06-01",
        "after  2024-06-01",
        "slope change at 2024-06-01 (one interaction model",
        "tests, Holm-adjusted together",
        "reference",
        "without mmlu",
        "paper's 29",
        "backtest",
        "no-growth",
        "censored-quantile τ=0.9    2025-05-19",
        "envelope                   2025-05-19",
        "p = 0.",
        "compressed Llama-3.2-1B vs parent Llama-3.1-8B",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
}

fn registry_with(extra_header: Option<&str>, row: &str) -> String {
    let header = extra_header.unwrap_or("model,family,weights,params_billion,nonemb_params_billion,active_params_billion,training_tokens_trillion,release_date,mmlu,bbh,math,humaneval,mbpp,parent,in_densing_fig1,source,notes");
    format!("# test\n{header}\nA-1B,A,base,1,,,1,2024-01-01,50,40,10,20,30,,no,src,\n{row}\n")
}

#[test]
fn bad_registries_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "date",
            registry_with(None, "B-1B,B,base,1,,,1,2024-02-30,50,40,10,20,30,,no,src,"),
            ":4: field `release_date`: `2024-02-30` is not a valid date",
        ),
        (
            "score",
            registry_with(
                None,
                "B-1B,B,base,1,,,1,2024-02-01,150,40,10,20,30,,no,src,",
            ),
            ":4: field `mmlu`: score 150 is outside 0–100",
        ),
        (
            "dup",
            registry_with(None, "a-1b,B,base,1,,,1,2024-02-01,50,40,10,20,30,,no,src,"),
            ":4: field `model`: duplicate model `a-1b` (first on line 3)",
        ),
        (
            "parent",
            registry_with(
                None,
                "B-1B,B,base,1,,,1,2024-02-01,50,40,10,20,30,Nope,no,src,",
            ),
            ":4: field `parent`: parent `Nope` of `B-1B` is not in the registry",
        ),
        (
            "cols",
            "model,family,params_billion\nA,A,1\n".to_string(),
            "field `release_date`: required column `release_date` is missing",
        ),
        (
            "params",
            registry_with(
                None,
                "B-1B,B,base,-1,,,1,2024-02-01,50,40,10,20,30,,no,src,",
            ),
            ":4: field `params_billion`: must be > 0",
        ),
    ];
    for (name, body, msg) in cases {
        let f = dir.path().join(format!("{name}.csv"));
        std::fs::write(&f, body).unwrap();
        let out_dir = dir.path().join(format!("out-{name}"));
        for cmd in [
            vec!["models"],
            vec!["run", "--out", out_dir.to_str().unwrap()],
        ] {
            let mut args = cmd.clone();
            args.extend(["--registry", f.to_str().unwrap()]);
            let out = densing(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name} {cmd:?}: {err}");
            assert!(
                err.contains(&format!("{}{msg}", f.display()))
                    || err.contains(msg) && err.contains(f.to_str().unwrap()),
                "{name}: `{err}` lacks `{msg}`"
            );
        }
        assert!(
            !Path::new(&out_dir).exists(),
            "{name}: output written despite the error"
        );
    }
    let out = densing(&[
        "run",
        "--reference",
        "NoSuchFamily",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("unknown reference family `NoSuchFamily`") && err.contains("Qwen2.5"),
        "{err}"
    );
}

#[test]
fn density_places_a_new_model_from_scores_and_from_lm_eval() {
    let v: serde_json::Value = serde_json::from_str(&ok(&densing(&[
        "density",
        "--name",
        "Mine-3B",
        "--params",
        "3",
        "--date",
        "2025-06-01",
        "--scores",
        "mmlu=70,bbh=60,math=40,humaneval=50,mbpp=60",
        "--bootstrap",
        "200",
        "--json",
    ])))
    .unwrap();
    let rho = v["model"]["rho"]["value"].as_f64().unwrap();
    let ci = v["model"]["rho_ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < rho && rho < ci[1].as_f64().unwrap());
    assert!(v["rank"].as_u64().unwrap() >= 1 && v["rank"].as_u64().unwrap() <= 66);
    assert!(v["ratio_to_trend"].as_f64().unwrap() > 0.0);

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("results.json");
    std::fs::write(
        &f,
        r#"{"results": {"mmlu": {"acc,none": 0.70, "acc_stderr,none": 0.004},
            "bbh_cot_fewshot": {"exact_match,get-answer": 0.60},
            "minerva_math": {"exact_match,none": 0.40},
            "humaneval": {"pass@1,create_test": 0.50},
            "mbpp": {"pass_at_1,none": 0.60}}}"#,
    )
    .unwrap();
    let w: serde_json::Value = serde_json::from_str(&ok(&densing(&[
        "density",
        "--name",
        "Mine-3B",
        "--params",
        "3",
        "--date",
        "2025-06-01",
        "--lm-eval",
        f.to_str().unwrap(),
        "--bootstrap",
        "200",
        "--json",
    ])))
    .unwrap();
    assert_eq!(
        w["model"]["rho"], v["model"]["rho"],
        "same scores, same density"
    );
    let read = w["scores_read"].as_array().unwrap();
    assert!(read.iter().any(|r| r
        .as_str()
        .unwrap()
        .contains("bbh: results.bbh_cot_fewshot metric \"exact_match,get-answer\"")));

    for (args, msg) in [
        (vec!["--scores", "mmlu=170"], "outside 0–100"),
        (vec!["--scores", "mmlx=70"], "unknown benchmark `mmlx`"),
        (
            vec!["--scores", "mmlu=70", "--date", "2025-13-01"],
            "--date: `2025-13-01` is not a valid date",
        ),
        (
            vec!["--scores", "mmlu=70", "--name", "Llama-2-7B"],
            "already in",
        ),
    ] {
        let mut full = vec!["density", "--params", "1"];
        if !args.contains(&"--name") {
            full.extend(["--name", "X"]);
        }
        if !args.contains(&"--date") {
            full.extend(["--date", "2025-01-01"]);
        }
        full.extend(args);
        let out = densing(&full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{full:?}: {err}");
        assert!(err.contains(msg), "{full:?}: `{err}` lacks `{msg}`");
    }
}

#[test]
fn models_lists_the_bundled_registry() {
    let text = ok(&densing(&["models"]));
    assert!(
        text.contains(" models in data/models.csv (bundled) + data/scores.csv (bundled) (valid)"),
        "{text}"
    );
    assert!(text.contains("Qwen2.5-72B"));
}

#[test]
fn two_step_calibration_from_files_feeds_run_figures_and_the_d0_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let law = |n: f64, d: f64| 400.0 * n.powf(-0.34) + 400.0 * d.powf(-0.28);
    let mut ladder = String::from(
        "# synthetic ladder from L = 400 N^-0.34 + 400 D^-0.28\nparams,tokens,loss,run\n",
    );
    for (i, n) in [5e6, 1.2e7, 3e7, 8e7, 2e8, 4e8, 8e8]
        .into_iter()
        .enumerate()
    {
        for k in [10.0, 15.0, 20.0, 30.0, 40.0, 60.0] {
            ladder += &format!("{n},{},{},r{i}\n", k * n, law(n, k * n));
        }
    }
    let map = |l: f64| -0.65 / (1.0 + (-8.0 * (l - 0.5f64)).exp()) + 0.9;
    let mut anchors = String::from("model,loss,score,task\n");
    for i in 0..15 {
        let l = 0.2 + i as f64 / 14.0;
        anchors += &format!("a{i},{l},{},mmlu\n", map(l));
    }
    let (lf, af) = (
        dir.path().join("ladder.csv"),
        dir.path().join("anchors.csv"),
    );
    std::fs::write(&lf, ladder).unwrap();
    std::fs::write(&af, anchors).unwrap();
    let o = dir.path().join("o");
    let text = ok(&densing(&[
        "run",
        "--ladder",
        lf.to_str().unwrap(),
        "--anchors",
        af.to_str().unwrap(),
        "--benchmarks",
        "mmlu",
        "--min-benchmarks",
        "1",
        "--bootstrap",
        "50",
        "--sweep",
        "--out",
        o.to_str().unwrap(),
    ]));
    assert!(text.contains("two-step (paper-form loss law on 42 ladder runs + score map on 15 anchors, D0 = 1.000e12 tokens)"), "{text}");
    for d0 in ["1e11 tokens", "1e12 tokens", "1e13 tokens"] {
        assert!(text.contains(d0), "sweep lacks D0 {d0}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(o.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["ladder"]["points"].as_array().unwrap().len(), 42);
    assert_eq!(report["ladder"]["curves"].as_array().unwrap().len(), 7);
    assert_eq!(report["score_map"]["points"].as_array().unwrap().len(), 15);
    assert!(o.join("fig2a_loss_law.svg").exists() && o.join("fig2b_score_map.svg").exists());
}

/// A user's family with enough base sizes whose capability falls with size
/// cannot be a ruler: the default (capability) run leaves it out of the pooled
/// rulers and says so, instead of failing on its map.
#[test]
fn a_family_whose_capability_falls_with_size_is_not_a_ruler_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models.csv");
    let mut csv = String::from(
        "model,family,weights,params_billion,nonemb_params_billion,active_params_billion,\
         training_tokens_trillion,release_date,mmlu,bbh,math,humaneval,mbpp,parent,\
         in_densing_fig1,source,notes\n",
    );
    for (i, n) in [1.0, 2.0, 4.0, 8.0, 16.0].iter().enumerate() {
        let s = 60.0 - 5.0 * i as f64;
        csv += &format!(
            "Falling-{n}B,Falling,base,{n},{n},,2.0,2025-03-01,{s},{},{},{},{},,no,test row,\n",
            s - 5.0,
            s - 25.0,
            s - 15.0,
            s - 10.0
        );
    }
    std::fs::write(&models, csv).unwrap();
    let out = dir.path().join("out");
    let v: serde_json::Value = serde_json::from_str(&ok(&densing(&[
        "run",
        "--registry",
        models.to_str().unwrap(),
        "--bootstrap",
        "50",
        "--permutations",
        "0",
        "--no-report",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ])))
    .unwrap();
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("family `Falling`") && warnings.contains("not used as rulers"),
        "{warnings}"
    );
    let rulers: Vec<&str> = v["scales"]["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap())
        .collect();
    assert!(
        !rulers.contains(&"Falling") && rulers.contains(&"Qwen2.5"),
        "{rulers:?}"
    );
}
