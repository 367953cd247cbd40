//! `densing capability` and `densing run`'s scales through the real binary:
//! the JSON's shape, `--no-bundled`, the default scale, and bad input named by
//! file, line and field.

mod cli_support;

use cli_support::{densing, ok};
use serde_json::Value;
use std::path::Path;

/// A registry of its own: a reference family of 5 sizes and 4 other models on
/// 4 benchmarks (scores from a known capability per model), one model with a
/// single score.
fn write_registry(dir: &Path) -> (String, String) {
    let mut models = String::from(
        "model,family,weights,params_billion,release_date,mmlu,bbh,math,humaneval,source\n",
    );
    let mut scores = String::from("model,benchmark,shots,protocol,value,source\n");
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let rows = [
        ("Ref-1B", "Ref", 1.0, -1.0),
        ("Ref-2B", "Ref", 2.0, -0.4),
        ("Ref-4B", "Ref", 4.0, 0.2),
        ("Ref-8B", "Ref", 8.0, 0.8),
        ("Ref-16B", "Ref", 16.0, 1.4),
        ("New-3B", "New", 3.0, 0.9),
        ("New-7B", "New", 7.0, 1.6),
        ("Old-7B", "Old", 7.0, -0.6),
        ("Old-13B", "Old", 13.0, 0.0),
    ];
    for (i, (name, fam, n, t)) in rows.iter().enumerate() {
        let mmlu = 100.0 * (0.25 + 0.75 * sig(1.2 * (t - 0.3)));
        let bbh = 100.0 * sig(1.0 * (t - 0.8));
        let math = 100.0 * sig(1.5 * (t - 1.5));
        let he = 100.0 * sig(0.8 * (t - 0.5));
        models += &format!(
            "{name},{fam},base,{n},2024-0{}-01,{mmlu:.1},{bbh:.1},{math:.1},{he:.1},test\n",
            1 + i % 9
        );
        scores += &format!(
            "{name},gsm8k,4,4-shot,{:.1},test\n",
            100.0 * sig(1.1 * (t - 0.2))
        );
    }
    models += "Lone-1B,Lone,base,1,2024-05-01,30,,,,test\n";
    let (m, s) = (dir.join("models.csv"), dir.join("scores.csv"));
    std::fs::write(&m, models).unwrap();
    std::fs::write(&s, scores).unwrap();
    (m.to_str().unwrap().into(), s.to_str().unwrap().into())
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&ok(out)).expect("one JSON object")
}

fn fails(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn json_has_models_benchmarks_and_every_prediction() {
    let v = json(&densing(&["capability", "--json", "--bootstrap", "100"]));
    let models = v["models"].as_array().unwrap();
    let benches = v["benchmarks"].as_array().unwrap();
    assert!(models.len() >= 90, "{} models", models.len());
    for m in models {
        for key in [
            "model",
            "theta",
            "theta_ci95",
            "n_hat_b",
            "rho",
            "rho_ci95",
            "n_benchmarks",
        ] {
            assert!(m.get(key).is_some(), "model row lacks {key}: {m}");
        }
        let ci = m["rho_ci95"].as_array().unwrap();
        let rho = m["rho"].as_f64().unwrap();
        assert!(ci[0].as_f64().unwrap() <= rho * 1.5 && ci[1].as_f64().unwrap() >= rho / 1.5);
    }
    for b in benches {
        for key in ["name", "slope", "difficulty", "chance"] {
            assert!(b.get(key).is_some(), "benchmark row lacks {key}: {b}");
        }
        assert!(b["slope"].as_f64().unwrap() > 0.0);
    }
    let mmlu = benches.iter().find(|b| b["name"] == "mmlu").unwrap();
    assert_eq!(mmlu["chance"].as_f64(), Some(25.0));
    let preds = v["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), models.len() * benches.len());
    let observed = preds.iter().filter(|p| !p["observed"].is_null()).count();
    let absent = preds.iter().filter(|p| p["observed"].is_null()).count();
    assert!(
        observed > 700 && absent > 1000,
        "{observed} observed, {absent} absent"
    );
    let err: f64 = preds
        .iter()
        .filter_map(|p| Some((p["predicted"].as_f64()? - p["observed"].as_f64()?).abs()))
        .sum::<f64>()
        / observed as f64;
    assert!(err < 5.0, "in-sample MAE {err}");
}

#[test]
fn no_bundled_uses_only_the_given_files() {
    let dir = tempfile::tempdir().unwrap();
    let (m, s) = write_registry(dir.path());
    let args = [
        "capability",
        "--json",
        "--no-bundled",
        "--registry",
        &m,
        "--registry",
        &s,
        "--reference",
        "Ref",
        "--bootstrap",
        "50",
    ];
    let v = json(&densing(&args));
    let names: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(!names.contains(&"Qwen2.5-7B"));
    let excluded = v["excluded"].as_array().unwrap();
    assert_eq!(excluded[0]["model"], "Lone-1B");
    assert!(excluded[0]["reason"]
        .as_str()
        .unwrap()
        .contains("models.csv:11"));
    // The stronger recipe is denser than the weaker one at a similar size.
    let rho = |n: &str| {
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == n)
            .unwrap()["rho"]
            .as_f64()
            .unwrap()
    };
    assert!(
        rho("New-7B") > 2.0 * rho("Old-7B"),
        "{} vs {}",
        rho("New-7B"),
        rho("Old-7B")
    );
    let listed = ok(&densing(&[
        "models",
        "--json",
        "--no-bundled",
        "--registry",
        &m,
    ]));
    assert!(listed.contains("Ref-16B") && !listed.contains("Llama-1-7B"));
    let run = densing(&[
        "density",
        "--no-bundled",
        "--registry",
        &m,
        "--reference",
        "Ref",
        "--benchmarks",
        "mmlu,bbh,math,humaneval",
        "--min-benchmarks",
        "3",
        "--bootstrap",
        "20",
        "--permutations",
        "0",
        "--name",
        "Mine",
        "--params",
        "5",
        "--date",
        "2024-06-01",
        "--scores",
        "mmlu=60,bbh=40,math=20,humaneval=40",
    ]);
    let out =
        String::from_utf8_lossy(&run.stdout).to_string() + &String::from_utf8_lossy(&run.stderr);
    // It must run (with `--size`, gone since the flags were renamed, it failed
    // and this test passed on the error message).
    assert!(run.status.success(), "{out}");
    assert!(!out.contains("Qwen"), "{out}");
}

#[test]
fn no_bundled_needs_a_models_file() {
    let err = fails(&densing(&["capability", "--no-bundled"]));
    assert!(err.contains("--registry"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let (_, s) = write_registry(dir.path());
    let err = fails(&densing(&["capability", "--no-bundled", "--registry", &s]));
    assert!(err.contains("models file"), "{err}");
}

#[test]
fn bad_input_is_named() {
    let err = fails(&densing(&[
        "capability",
        "--reference",
        "Phi",
        "--bootstrap",
        "0",
    ]));
    assert!(
        err.contains("`Phi`") && err.contains("need ≥ 4") && err.contains("models.csv"),
        "{err}"
    );
    let err = fails(&densing(&[
        "capability",
        "--min-benchmarks",
        "1",
        "--bootstrap",
        "0",
    ]));
    assert!(err.contains("--min-benchmarks 1"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "model,benchmark,shots,protocol,value,source\nQwen2.5-7B,gsm8k,4,4-shot,120,x\n",
    )
    .unwrap();
    let err = fails(&densing(&[
        "capability",
        "--registry",
        bad.to_str().unwrap(),
        "--bootstrap",
        "0",
    ]));
    assert!(
        err.contains("bad.csv:2") && err.contains("`value`"),
        "{err}"
    );
}

/// `densing run` is on the capability scale by default, with the
/// five-benchmark scale beside it.
#[test]
fn run_is_on_the_capability_scale_by_default_and_compares_both_scales() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let v = json(&densing(&[
        "run",
        "--json",
        "--no-report",
        "--bootstrap",
        "200",
        "--permutations",
        "99",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(
        v["reference"]
            .as_str()
            .unwrap()
            .starts_with("capability scale"),
        "{}",
        v["reference"]
    );
    assert_eq!(v["scales"]["main"], "capability");
    let rows = v["scales"]["rows"].as_array().unwrap();
    let scale = |s: &str| rows.iter().find(|r| r["scale"] == s).unwrap();
    let five = scale("five-benchmark");
    let cap = scale("capability (rulers pooled)");
    assert!(
        cap["n_trend"].as_u64() > five["n_trend"].as_u64(),
        "{rows:?}"
    );
    assert!(cap["n_trend_2025_on"].as_u64() > five["n_trend_2025_on"].as_u64());
    assert_eq!(v["n_trend"], cap["n_trend"]);
    let refs = v["scales"]["references"].as_array().unwrap();
    assert!(refs.len() >= 4 && refs.iter().any(|r| r["reference"] == "Qwen2.5"));
    assert!(std::fs::read_to_string(out.join("densities.csv"))
        .unwrap()
        .contains("Qwen3-8B-Base"));
}

/// Issue 17's bad input, each through `densing capability --registry FILE`:
/// a benchmark with no chance level (not in the catalog), a score outside
/// [0, 100] in either table, a model with one score (left out, its row named,
/// not refused) and a reference family with fewer than 4 sizes.
#[test]
fn bad_registry_files_are_named_by_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cap = |file: &Path, extra: &[&str]| {
        let mut args = vec!["capability", "--registry", file.to_str().unwrap()];
        args.extend(["--bootstrap", "0"]);
        args.extend(extra);
        densing(&args)
    };
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    // No chance level: a benchmark the catalog does not define.
    let f = write(
        "nochance.csv",
        "model,benchmark,shots,protocol,value,source\n\
         Qwen2.5-7B,gsm8k,4,4-shot,80,x\nQwen2.5-7B,my_private_eval,0,0-shot,55,x\n",
    );
    let err = fails(&cap(&f, &[]));
    assert!(
        err.contains("nochance.csv:3")
            && err.contains("`benchmark`")
            && err.contains("unknown benchmark `my_private_eval`")
            && err.contains("benchmarks.csv"),
        "{err}"
    );
    // A score outside [0, 100] in the wide table, and below 0 in the long one.
    let f = write(
        "wide.csv",
        "model,family,params_billion,release_date,mmlu,bbh,source\n\
         Mine-1B,Mine,1,2025-01-01,55,40,x\nMine-2B,Mine,2,2025-01-01,101.5,45,x\n",
    );
    let err = fails(&cap(&f, &[]));
    assert!(
        err.contains("wide.csv:3") && err.contains("`mmlu`") && err.contains("101.5"),
        "{err}"
    );
    let f = write(
        "long.csv",
        "model,benchmark,shots,protocol,value,source\nQwen2.5-7B,gpqa,5,5-shot,-2,x\n",
    );
    let err = fails(&cap(&f, &[]));
    assert!(
        err.contains("long.csv:2") && err.contains("`value`"),
        "{err}"
    );
    // One score: fitted without it, listed as excluded with its row.
    let f = write(
        "one.csv",
        "model,family,params_billion,release_date,mmlu,source\nSolo-3B,Solo,3,2025-02-01,61,x\n",
    );
    let v = json(&cap(&f, &["--json"]));
    assert!(!v["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["model"] == "Solo-3B"));
    let solo = v["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["model"] == "Solo-3B")
        .expect("Solo-3B listed as excluded");
    let why = solo["reason"].as_str().unwrap();
    assert!(
        why.contains("one.csv:2") && why.contains("1 benchmark"),
        "{why}"
    );
    let text = ok(&cap(&f, &[]));
    assert!(
        text.contains("excluded Solo-3B: ") && text.contains("one.csv:2"),
        "{text}"
    );
    // A reference family of 3 sizes: an error listing its rows.
    let f = write(
        "small.csv",
        "model,family,params_billion,release_date,mmlu,bbh,source\n\
         Tri-1B,Tri,1,2025-01-01,40,20,x\nTri-2B,Tri,2,2025-01-01,45,25,x\nTri-4B,Tri,4,2025-01-01,50,30,x\n",
    );
    let err = fails(&cap(&f, &["--reference", "Tri"]));
    assert!(
        err.contains("`Tri` has 3 distinct base sizes")
            && err.contains("need ≥ 4")
            && err.contains("Tri-4B")
            && err.contains("small.csv:4"),
        "{err}"
    );
}
