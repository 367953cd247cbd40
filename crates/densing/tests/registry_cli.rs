//! A registry users grow, through the real binary: `--registry` layering with
//! replacements said on stderr and in the summary, `densing models check`,
//! `densing models add` (flags and lm-evaluation-harness), and `--benchmarks`
//! beyond the paper's five, in `run` and in the sweep.

mod cli_support;

use cli_support::{densing, ok};
use std::path::{Path, PathBuf};
use std::process::Output;

fn fails(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../densing-core/tests/fixtures")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn user_registries_layer_and_replacements_are_said() {
    let (models, scores) = (fixture("user_models.csv"), fixture("user_scores.csv"));
    let out = densing(&["models", "--registry", s(&models), "--registry", s(&scores)]);
    let text = ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "note: model `Qwen2.5-7B`: row {}:3 replaces data/models.csv (bundled):",
            models.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("note: model `Qwen2.5-1.5B`: mmlu score"),
        "{err}"
    );
    assert!(
        text.contains("Mine-2B") && text.contains("mmlu_pro=25.0"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    // The five-benchmark scale, whose table flags an off-protocol score (the
    // capability scale models it with a protocol offset instead).
    let run = densing(&[
        "run",
        "--scale",
        "five-benchmark",
        "--registry",
        s(&models),
        "--registry",
        s(&scores),
        "--bootstrap",
        "50",
        "--no-report",
        "--out",
        s(&out_dir),
    ]);
    let text = ok(&run);
    assert!(String::from_utf8_lossy(&run.stderr).contains("note: model `Qwen2.5-7B`"));
    let summary = std::fs::read_to_string(out_dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("note: model `Qwen2.5-1.5B`: mmlu score"),
        "{summary}"
    );
    // The 0-shot MBPP the user gave is used (no other) and flagged as off-protocol.
    assert!(text.contains("mbpp 0-shot (standard 3-shot)"), "{text}");
    let trend: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("trend.json")).unwrap())
            .unwrap();
    assert_eq!(trend["registry_notes"].as_array().unwrap().len(), 2);

    // Export the layered registry, then check the export strictly.
    let export = dir.path().join("export");
    ok(&densing(&[
        "models",
        "--registry",
        s(&models),
        "--registry",
        s(&scores),
        "--export",
        s(&export),
    ]));
    let text = ok(&densing(&[
        "models",
        "check",
        s(&export.join("models.csv")),
        s(&export.join("scores.csv")),
    ]));
    assert!(
        text.contains("models, valid") && text.contains("scores, valid"),
        "{text}"
    );
}

#[test]
fn models_check_reports_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "# mine\nmodel,family,params_billion,nonemb_params_billion,release_date,mmlu,source\n\
         A-1B,A,1,1.5,2025-01-01,50,src\n\
         B-1B,B,1,,2999-01-01,50,src\n\
         C-1B,C,1,,2025-01-01,50,\n\
         D-1B,D,1,,2025-13-01,50,src\n",
    )
    .unwrap();
    let scores = dir.path().join("scores.csv");
    std::fs::write(
        &scores,
        "model,benchmark,shots,protocol,value,source\nQwen2.5-7B,gpqa_diamond,5,,30,src\n",
    )
    .unwrap();
    let err = fails(&densing(&["models", "check", s(&bad), s(&scores)]));
    let f = bad.display();
    for line in [
        format!("{f}:3: field `nonemb_params_billion`: 1.5 exceeds the total"),
        format!("{f}:4: field `release_date`: 2999-01-01 is in the future"),
        format!("{f}:5: field `source`: is empty"),
        format!("{f}:6: field `release_date`: `2025-13-01` is not a valid date"),
        format!("{}:2: field `protocol`: is empty", scores.display()),
        "5 problem(s) found".to_string(),
    ] {
        assert!(err.contains(&line), "`{err}` lacks `{line}`");
    }
    // The bundled tables pass the strict check.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = ok(&densing(&[
        "models",
        "check",
        s(&root.join("data/models.csv")),
        s(&root.join("data/scores.csv")),
    ]));
    assert!(text.contains("scores, valid"), "{text}");
}

#[test]
fn models_add_writes_a_validated_row_from_flags_and_from_lm_eval() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine.csv");
    let mine_scores = dir.path().join("mine_scores.csv");
    let base = [
        "models",
        "add",
        "--family",
        "Mine",
        "--params",
        "3.1",
        "--nonemb",
        "2.8",
        "--tokens",
        "9",
        "--source",
        "my eval run",
    ];
    let add = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend(extra);
        densing(&a)
    };
    let text = ok(&add(&[
        "--to",
        s(&mine),
        "--name",
        "Mine-3B",
        "--date",
        "2025-06-01",
        "--scores",
        "mmlu=66.5,bbh=50,math=30,humaneval=40,mbpp=45",
    ]));
    assert!(text.contains(&format!("added Mine-3B to {}", mine.display())));
    // Scores beyond the five columns need the long file; nothing is written without it.
    let before = std::fs::read_to_string(&mine).unwrap();
    let err = fails(&add(&[
        "--to",
        s(&mine),
        "--name",
        "Mine-7B",
        "--date",
        "2025-06-01",
        "--scores",
        "mmlu_pro=40",
    ]));
    assert!(err.contains("mmlu_pro not a models.csv column"), "{err}");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), before);

    let results = dir.path().join("results.json");
    std::fs::write(
        &results,
        r#"{"results": {"mmlu": {"acc,none": 0.70},
            "bbh_cot_fewshot": {"exact_match,get-answer": 0.60},
            "minerva_math": {"exact_match,none": 0.40},
            "humaneval": {"pass@1,create_test": 0.50}},
            "n-shot": {"mmlu": 0, "bbh_cot_fewshot": 3, "minerva_math": 4, "humaneval": 0}}"#,
    )
    .unwrap();
    let text = ok(&add(&[
        "--to",
        s(&mine),
        "--scores-to",
        s(&mine_scores),
        "--name",
        "Mine-7B",
        "--date",
        "2025-07-01",
        "--lm-eval",
        s(&results),
    ]));
    assert!(text.contains("added its mmlu to"), "{text}");
    assert!(text.contains("read bbh: results.bbh_cot_fewshot"), "{text}");
    let long = std::fs::read_to_string(&mine_scores).unwrap();
    assert!(
        long.contains("Mine-7B,mmlu,0,\"lm-evaluation-harness mmlu \"\"acc,none\"\", 0-shot\",70,"),
        "{long}"
    );
    let wide = std::fs::read_to_string(&mine).unwrap();
    assert!(
        wide.contains("Mine-7B,Mine,base,3.1,2.8,,9,2025-07-01,,60,40,50,,"),
        "{wide}"
    );

    // Both files pass the strict check and load on top of the bundled registry.
    ok(&densing(&["models", "check", s(&mine), s(&mine_scores)]));
    let text = ok(&densing(&[
        "models",
        "--registry",
        s(&mine),
        "--registry",
        s(&mine_scores),
    ]));
    assert!(text.contains("Mine-3B") && text.contains("Mine-7B"));

    // Invalid rows are refused and nothing is written.
    for (extra, msg) in [
        (
            vec![
                "--name",
                "Mine-3B",
                "--date",
                "2025-06-01",
                "--scores",
                "mmlu=60",
            ],
            "duplicate model `Mine-3B`",
        ),
        (
            vec![
                "--name",
                "Late",
                "--date",
                "2999-01-01",
                "--scores",
                "mmlu=60",
            ],
            "2999-01-01 is in the future",
        ),
        (
            vec![
                "--name",
                "Big",
                "--date",
                "2025-01-01",
                "--scores",
                "mmlu=60",
                "--active",
                "5",
            ],
            "field `active_params_billion`: 5 exceeds nonemb_params_billion 2.8",
        ),
    ] {
        let mut a = vec!["--to", s(&mine)];
        a.extend(extra);
        let err = fails(&add(&a));
        assert!(err.contains(msg), "`{err}` lacks `{msg}`");
        assert!(err.contains("nothing written"), "{err}");
    }
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap().lines().count(),
        4,
        "header, comment and two rows"
    );
    // A file of your own with fewer columns gets rows in its own layout, and a
    // value it has no column for is refused rather than dropped.
    let sub = dir.path().join("sub.csv");
    std::fs::write(
        &sub,
        "model,family,params_billion,release_date,mmlu,source\n",
    )
    .unwrap();
    let err = fails(&add(&[
        "--to",
        s(&sub),
        "--name",
        "S-1B",
        "--date",
        "2025-01-01",
        "--scores",
        "mmlu=50",
    ]));
    assert!(
        err.contains("has no `nonemb_params_billion` column for the value 2.8"),
        "{err}"
    );
    // The bundled registry is never the target.
    let copy = dir.path().join("models.csv");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/models.csv"),
        &copy,
    )
    .unwrap();
    let err = fails(&add(&[
        "--to",
        s(&copy),
        "--name",
        "X",
        "--date",
        "2025-01-01",
        "--scores",
        "mmlu=60",
    ]));
    assert!(err.contains("copy of the bundled registry"), "{err}");
}

#[test]
fn run_on_benchmarks_beyond_the_five_and_the_sweep_reports_the_alternative_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // `--benchmarks` picks the five-benchmark scale's set (the capability
    // scale uses every benchmark).
    let v: serde_json::Value = serde_json::from_str(&ok(&densing(&[
        "run",
        "--scale",
        "five-benchmark",
        "--benchmarks",
        "mmlu_pro,gpqa",
        "--min-benchmarks",
        "2",
        "--bootstrap",
        "50",
        "--no-report",
        "--json",
        "--out",
        s(&out),
    ])))
    .unwrap();
    let reference = v["reference"].as_str().unwrap();
    assert!(reference.contains("Qwen2.5"), "{reference}");
    assert!(v["n_trend"].as_u64().unwrap() >= 3, "{v}");
    assert!(v["doubling_days"].as_f64().unwrap().is_finite());
    let csv = std::fs::read_to_string(out.join("densities.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.contains("n_hat_mmlu_pro,n_hat_gpqa"), "{header}");
    assert!(!header.contains("n_hat_mmlu,"), "{header}");

    let text = ok(&densing(&[
        "run",
        "--sweep",
        "--bootstrap",
        "50",
        "--no-report",
        "--out",
        s(&dir.path().join("sweep")),
    ]));
    let row = text
        .lines()
        .find(|l| l.starts_with("benchmarks") && l.contains("alternative "))
        .unwrap_or_else(|| panic!("no alternative-set row in\n{text}"));
    assert!(row.contains("mmlu_pro"), "{row}");

    // `density` takes any catalog benchmark and says which scores it left out.
    let text = ok(&densing(&[
        "density",
        "--name",
        "X",
        "--params",
        "3",
        "--date",
        "2025-06-01",
        "--scores",
        "mmlu=60,mmlu_pro=40",
        "--bootstrap",
        "50",
    ]));
    assert!(
        text.contains("not used (not in --benchmarks): mmlu_pro"),
        "{text}"
    );
}
