//! Issue 21 through the real binary: every bad input of the hostile-user audit
//! that used to change a result silently, panic, hang or leave files behind
//! now ends in a clear error (file:line:field, or the flag) with nothing
//! written, or, under `--lenient`, in a dropped row that the output lists.

mod cli_support;

use cli_support::{densing, ok};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Stderr of a run that must fail with status 1 (not a panic's 101 or a
/// signal), with stdout in the message otherwise.
fn fails(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Stderr of a run clap refuses (status 2).
fn refused(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const HEADER: &str = "model,family,weights,params_billion,nonemb_params_billion,active_params_billion,training_tokens_trillion,release_date,mmlu,bbh,math,humaneval,mbpp,parent,in_densing_fig1,source,notes";

/// A user registry file with one model row (`fields` replaces the good row's
/// cells by column name).
fn user_registry(dir: &Path, fields: &[(&str, &str)]) -> PathBuf {
    let mut row: Vec<(String, String)> = HEADER
        .split(',')
        .map(|c| (c.to_string(), String::new()))
        .collect();
    let good = [
        ("model", "Mine-7B"),
        ("family", "Mine"),
        ("weights", "base"),
        ("params_billion", "7.2"),
        ("nonemb_params_billion", "6.5"),
        ("release_date", "2025-06-01"),
        ("mmlu", "70"),
        ("bbh", "60"),
        ("math", "40"),
        ("humaneval", "50"),
        ("mbpp", "55"),
        ("source", "test"),
    ];
    for (k, v) in good.iter().chain(fields) {
        row.iter_mut().find(|(c, _)| c == k).unwrap().1 = v.to_string();
    }
    let path = dir.join("mine.csv");
    let line: Vec<&str> = row.iter().map(|(_, v)| v.as_str()).collect();
    std::fs::write(&path, format!("{HEADER}\n{}\n", line.join(","))).unwrap();
    path
}

fn quick_run(extra: &[&str], out: &Path) -> Output {
    let mut args = vec![
        "run",
        "--bootstrap",
        "20",
        "--permutations",
        "19",
        "--no-report",
        "--json",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    densing(&args)
}

/// Cells to change, the field the error names, and what it says.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

#[test]
fn run_refuses_registry_rows_that_models_check_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [Case; 6] = [
        (
            &[("release_date", "9999-01-01")],
            "release_date",
            "in the future",
        ),
        (
            &[("release_date", "1900-01-01")],
            "release_date",
            "before 2018-01-01",
        ),
        (
            &[("nonemb_params_billion", "9")],
            "nonemb_params_billion",
            "exceeds the total",
        ),
        (
            &[("params_billion", "1e308"), ("nonemb_params_billion", "")],
            "params_billion",
            "billions of parameters",
        ),
        (
            &[("params_billion", "0.0065"), ("nonemb_params_billion", "")],
            "params_billion",
            "outside 0.01–10000",
        ),
        (&[("source", "")], "source", "every row needs a source"),
    ];
    for (fields, field, msg) in cases {
        let reg = user_registry(dir.path(), fields);
        let out_dir = dir.path().join("out");
        let err = fails(&quick_run(&["--registry", s(&reg)], &out_dir));
        let want = format!("{}:2: field `{field}`: ", reg.display());
        assert!(
            err.contains(&want) && err.contains(msg),
            "{fields:?}: {err}"
        );
        assert!(
            !out_dir.exists(),
            "a refused run wrote {}",
            out_dir.display()
        );
        let check = fails(&densing(&["models", "check", s(&reg)]));
        assert!(check.contains(&want) && check.contains(msg), "{check}");
    }
}

#[test]
fn a_models_file_without_a_source_column_is_refused_by_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nosource.csv");
    std::fs::write(
        &path,
        "model,family,params_billion,release_date,mmlu\nMine-7B,Mine,7,2025-06-01,70\n",
    )
    .unwrap();
    let err = fails(&quick_run(&["--registry", s(&path)], &dir.path().join("o")));
    assert!(
        err.contains("field `source`: required column `source` is missing"),
        "{err}"
    );
}

#[test]
fn lenient_drops_the_row_lists_it_and_keeps_the_headline() {
    let dir = tempfile::tempdir().unwrap();
    let reg = user_registry(dir.path(), &[("release_date", "9999-01-01")]);
    let base = ok(&quick_run(&[], &dir.path().join("a")));
    let out = quick_run(&["--lenient", "--registry", s(&reg)], &dir.path().join("b"));
    let lenient = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "dropped row {}:2: {}:2: field `release_date`",
        reg.display(),
        reg.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    let (b, l): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&base).unwrap(),
        serde_json::from_str(&lenient).unwrap(),
    );
    assert_eq!(b["A"], l["A"], "the dropped row changed the slope");
    assert_eq!(b["n_models"], l["n_models"]);
    let warnings = l["warnings"].to_string();
    assert!(warnings.contains(&want), "{warnings}");
    let md = std::fs::read_to_string(dir.path().join("b/summary.md")).unwrap();
    assert!(md.contains(&want), "{md}");
}

#[test]
fn huge_counts_are_errors_not_panics_aborts_or_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("o");
    for (flag, value) in [
        ("--bootstrap", "18446744073709551615"),
        ("--bootstrap", "1000000000"),
        ("--permutations", "18446744073709551615"),
        ("--bootstrap", "-3"),
    ] {
        let err = refused(&densing(&["run", flag, value, "--out", s(&out_dir)]));
        assert!(
            err.contains(&format!("for '{flag} <"))
                && (err.contains("exceeds the maximum 100000") || err.contains("must be ≥ 0")),
            "{flag} {value}: {err}"
        );
    }
    assert!(!out_dir.exists());
    // `simulate --registries 1000000000` used to abort allocating 32 GB.
    let err = refused(&densing(&["simulate", "--registries", "1000000000"]));
    assert!(
        err.contains("1000000000 exceeds the maximum 100000"),
        "{err}"
    );
}

#[test]
fn the_memory_preflight_refuses_what_would_not_fit() {
    // 100000 replicates × 100k models would need ~1 TB: refused before any work.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.csv");
    let mut text = format!("{HEADER}\n");
    for i in 0..100_000 {
        text += &format!("M-{i},Many,base,7,,,,2025-01-01,60,,,,,,,test,\n");
    }
    std::fs::write(&path, text).unwrap();
    let err = fails(&densing(&[
        "run",
        "--registry",
        s(&path),
        "--bootstrap",
        "100000",
        "--out",
        s(&dir.path().join("o")),
    ]));
    assert!(
        // 100,000 rows of ours plus the bundled registry's models.
        err.contains("bootstrap 100000 on 100") && err.contains("lower bootstrap"),
        "{err}"
    );
}

fn ladder(dir: &Path, rows: &[(f64, f64, f64)]) -> PathBuf {
    let path = dir.join("ladder.csv");
    let mut text = "params,tokens,loss\n".to_string();
    for (n, d, l) in rows {
        text += &format!("{n},{d},{l}\n");
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn grid() -> Vec<(f64, f64, f64)> {
    let mut rows = Vec::new();
    for n in [1e8, 3e8, 1e9, 3e9] {
        for d in [2e9, 8e9, 3.2e10] {
            rows.push((
                n,
                d,
                1.7 + 400.0 * f64::powf(n, -0.34) + 410.0 * f64::powf(d, -0.28),
            ));
        }
    }
    rows
}

#[test]
fn fits_refuse_what_they_cannot_identify() {
    let dir = tempfile::tempdir().unwrap();
    let one_n: Vec<_> = grid().into_iter().filter(|r| r.0 == 1e9).collect();
    let err = fails(&densing(&[
        "fit",
        "loss",
        "--data",
        s(&ladder(dir.path(), &one_n)),
    ]));
    assert!(
        err.contains("column `params` has a single value") && err.contains("cannot identify α"),
        "{err}"
    );
    let one_d: Vec<_> = grid().into_iter().filter(|r| r.1 == 8e9).collect();
    let err = fails(&densing(&[
        "fit",
        "loss",
        "--data",
        s(&ladder(dir.path(), &one_d)),
    ]));
    assert!(err.contains("column `tokens` has a single value"), "{err}");
    let flat: Vec<_> = grid().into_iter().map(|(n, d, _)| (n, d, 2.5)).collect();
    let err = fails(&densing(&[
        "fit",
        "loss",
        "--data",
        s(&ladder(dir.path(), &flat)),
    ]));
    assert!(err.contains("column `loss` is constant"), "{err}");
    let data = ladder(dir.path(), &grid());
    for delta in ["-1", "0", "nan", "inf"] {
        let err = fails(&densing(&[
            "fit",
            "loss",
            "--data",
            s(&data),
            &format!("--delta={delta}"),
        ]));
        assert!(
            err.contains("delta (the Huber δ, --delta) must be a positive finite number"),
            "{delta}: {err}"
        );
        let err = fails(&densing(&[
            "fit",
            "loss",
            "--data",
            s(&data),
            "--delta",
            delta,
        ]));
        assert!(err.contains("--delta"), "{delta}: {err}");
    }
    let anchors = dir.path().join("anchors.csv");
    std::fs::write(
        &anchors,
        "loss,score\n2.1,0.5\n2.3,0.5\n2.5,0.5\n2.7,0.5\n2.9,0.5\n",
    )
    .unwrap();
    let err = fails(&densing(&["fit", "score", "--data", s(&anchors)]));
    assert!(err.contains("column `score` is constant (0.5)"), "{err}");
}

#[test]
fn a_zero_width_bootstrap_interval_is_flagged() {
    // Every checkpoint belongs to one run: the bootstrap resamples whole runs,
    // so each replicate is the full data and every interval has zero width.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one_run.csv");
    let mut text = "params,tokens,loss,run\n".to_string();
    for (n, d, l) in grid() {
        text += &format!("{n},{d},{l},r1\n");
    }
    std::fs::write(&path, text).unwrap();
    let out = densing(&[
        "fit",
        "loss",
        "--data",
        s(&path),
        "--bootstrap",
        "20",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let warnings = v["warnings"].to_string();
    for name in ["a", "alpha", "b", "beta"] {
        let [lo, hi] = [&v["ci95"][name][0], &v["ci95"][name][1]];
        assert_eq!(lo, hi, "{name}");
        assert!(
            warnings.contains(&format!("interval of {name} has zero width")),
            "{warnings}"
        );
    }
    let text = ok(&densing(&[
        "fit",
        "loss",
        "--data",
        s(&path),
        "--bootstrap",
        "20",
    ]));
    assert!(
        text.contains("warning: the 95% bootstrap interval of alpha has zero width"),
        "{text}"
    );
}

#[test]
fn a_failed_run_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("o");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::create_dir(out_dir.join("trend.json")).unwrap();
    let err = fails(&quick_run(&[], &out_dir));
    assert!(err.contains("trend.json is a folder, not a file"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["trend.json"], "{left:?}");
}

#[test]
fn outputs_need_an_existing_parent_folder() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("no/such/out");
    let err = fails(&quick_run(&[], &deep));
    assert!(err.contains("does not exist (create it first)"), "{err}");
    assert!(!dir.path().join("no").exists());
    let to = dir.path().join("missing/mine.csv");
    let err = fails(&densing(&[
        "models",
        "add",
        "--to",
        s(&to),
        "--name",
        "X-1B",
        "--family",
        "X",
        "--params",
        "1",
        "--date",
        "2025-01-01",
        "--source",
        "test",
    ]));
    assert!(err.contains("does not exist (create it first)"), "{err}");
    assert!(!dir.path().join("missing").exists());
}

fn add(to: &Path, name: &str) -> Output {
    densing(&[
        "models",
        "add",
        "--to",
        s(to),
        "--name",
        name,
        "--family",
        "X",
        "--params",
        "1",
        "--date",
        "2025-01-01",
        "--source",
        "test",
        "--scores",
        "mmlu=50",
    ])
}

#[cfg(unix)]
#[test]
fn models_add_writes_through_a_symlink_and_keeps_the_mode() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.csv");
    ok(&add(&target, "X-1B"));
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.csv");
    symlink("real.csv", &link).unwrap();
    ok(&add(&link, "X-2B"));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.contains("X-1B") && text.contains("X-2B"), "{text}");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);

    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o444)).unwrap();
    let err = fails(&add(&link, "X-3B"));
    assert!(err.contains("is read-only"), "{err}");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o444);
    assert!(!std::fs::read_to_string(&target).unwrap().contains("X-3B"));
}

#[test]
fn flags_name_the_same_thing_alike_and_refuse_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    // density: --params is the count, --basis the basis.
    let good = ok(&densing(&[
        "density",
        "--name",
        "Mine",
        "--params",
        "7",
        "--basis",
        "total",
        "--date",
        "2025-01-01",
        "--scores",
        "mmlu=70,bbh=60,math=40,humaneval=50",
        "--bootstrap",
        "20",
        "--permutations",
        "19",
        "--json",
    ]));
    assert!(good.contains("\"rank\""), "{good}");
    let err = fails(&densing(&[
        "density",
        "--name",
        "M",
        "--size",
        "7",
        "--date",
        "2025-01-01",
        "--scores",
        "mmlu=70",
    ]));
    assert!(
        err.contains("--size 7: the parameter count is now --params 7"),
        "{err}"
    );
    let err = refused(&densing(&[
        "density",
        "--name",
        "M",
        "--params",
        "total",
        "--date",
        "2025-01-01",
        "--scores",
        "mmlu=70",
    ]));
    assert!(
        err.contains("the basis `total` is now --basis total"),
        "{err}"
    );
    let err = fails(&densing(&[
        "run",
        "--params",
        "total",
        "--out",
        s(&dir.path().join("o")),
    ]));
    assert!(err.contains("the parameter basis is now --basis"), "{err}");
    // `capability` named the basis `--params` too; now `--basis` like the rest.
    let err = fails(&densing(&["capability", "--params", "total"]));
    assert!(err.contains("the parameter basis is now --basis"), "{err}");
    // Negative numbers are numbers, then refused with a message.
    let err = refused(&densing(&[
        "density",
        "--name",
        "M",
        "--params",
        "-7",
        "--date",
        "2025-01-01",
        "--scores",
        "mmlu=70",
    ]));
    assert!(
        err.contains("invalid value '-7' for '--params")
            && err.contains("must be a positive finite number"),
        "{err}"
    );
    let err = refused(&densing(&[
        "run",
        "--hardware-doubling-years=-2",
        "--out",
        s(&dir.path().join("o")),
    ]));
    assert!(
        err.contains("'--hardware-doubling-years")
            && err.contains("must be a positive finite number, got -2"),
        "{err}"
    );
    // Empty names.
    let err = refused(&densing(&[
        "density",
        "--name",
        "",
        "--params",
        "7",
        "--date",
        "2025-01-01",
        "--scores",
        "mmlu=70",
    ]));
    assert!(
        err.contains("--name") && err.contains("must not be empty"),
        "{err}"
    );
    let err = refused(&densing(&[
        "models",
        "add",
        "--to",
        s(&dir.path().join("m.csv")),
        "--name",
        " ",
        "--family",
        "X",
        "--params",
        "1",
        "--date",
        "2025-01-01",
        "--source",
        "t",
    ]));
    assert!(err.contains("must not be empty"), "{err}");
    // density's own model passes the registry's rules.
    let err = fails(&densing(&[
        "density",
        "--name",
        "M",
        "--params",
        "0.0065",
        "--date",
        "2025-01-01",
        "--scores",
        "mmlu=70",
    ]));
    assert!(
        err.contains("params (--params): 0.0065 is outside 0.01–10000"),
        "{err}"
    );
    let err = fails(&densing(&[
        "density",
        "--name",
        "M",
        "--params",
        "7",
        "--date",
        "1900-01-01",
        "--scores",
        "mmlu=70",
    ]));
    assert!(
        err.contains("date (--date): 1900-01-01 is before 2018-01-01"),
        "{err}"
    );
    assert!(!dir.path().join("o").exists());
}

#[test]
fn eval_with_no_items_or_a_bad_fit_row_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("t.jsonl");
    std::fs::write(&data, "").unwrap();
    let out_dir = dir.path().join("store");
    let err = fails(&densing(&[
        "eval",
        "--task",
        "jsonl",
        "--data",
        s(&data),
        "--out",
        s(&out_dir),
        "--model",
        "none.gguf",
    ]));
    assert!(
        err.contains("no items to score") && err.contains("left untouched"),
        "{err}"
    );
    assert!(!out_dir.exists());
    std::fs::write(
        &data,
        "{\"id\": \"a\", \"context\": \"x\", \"continuation\": \" y\"}\n",
    )
    .unwrap();
    let err = refused(&densing(&[
        "eval",
        "--task",
        "jsonl",
        "--data",
        s(&data),
        "--limit",
        "0",
        "--model",
        "none.gguf",
    ]));
    assert!(
        err.contains("'--limit <LIMIT>'") && err.contains("0 would score nothing"),
        "{err}"
    );
    let ladder = dir.path().join("ladder.csv");
    let err = refused(&densing(&[
        "eval",
        "--task",
        "jsonl",
        "--data",
        s(&data),
        "--model",
        "none.gguf",
        "--ladder",
        s(&ladder),
        "--params",
        "0",
        "--train-tokens",
        "1e9",
    ]));
    assert!(
        err.contains("'--params <PARAMS>'") && err.contains("positive"),
        "{err}"
    );
    let anchors = dir.path().join("anchors.csv");
    let err = refused(&densing(&[
        "eval",
        "--task",
        "jsonl",
        "--data",
        s(&data),
        "--model",
        "none.gguf",
        "--anchors",
        s(&anchors),
        "--score",
        "150",
    ]));
    assert!(err.contains("150 is outside [0, 1]"), "{err}");
    assert!(!ladder.exists() && !anchors.exists());
}

#[test]
fn every_reader_accepts_a_byte_order_mark_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let reg = user_registry(dir.path(), &[]);
    let text = std::fs::read_to_string(&reg).unwrap().replace('\n', "\r\n");
    let bom = dir.path().join("bom.csv");
    std::fs::write(&bom, format!("\u{feff}# my models\r\n{text}")).unwrap();
    let out = ok(&densing(&["models", "check", s(&bom)]));
    assert!(out.contains("1 models, valid"), "{out}");
    let lm = dir.path().join("lm.json");
    std::fs::write(
        &lm,
        "\u{feff}{\"results\": {\"mmlu\": {\"acc,none\": 0.7}}, \"n-shot\": {\"mmlu\": 5}}\r\n",
    )
    .unwrap();
    let out = ok(&densing(&[
        "density",
        "--name",
        "M",
        "--params",
        "7",
        "--date",
        "2025-01-01",
        "--lm-eval",
        s(&lm),
        "--bootstrap",
        "10",
        "--permutations",
        "9",
        "--json",
    ]));
    assert!(out.contains("\"rank\""), "{out}");
    // A task file with a BOM and CRLF is read (it then stops at the missing model).
    let data = dir.path().join("t.jsonl");
    std::fs::write(
        &data,
        "\u{feff}{\"id\": \"a\", \"context\": \"x\", \"continuation\": \" y\"}\r\n",
    )
    .unwrap();
    let err = fails(&densing(&[
        "eval",
        "--task",
        "jsonl",
        "--data",
        s(&data),
        "--model",
        "none.gguf",
    ]));
    assert!(
        !err.contains("invalid JSON") && err.contains("none.gguf"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_run_cleanly_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("o");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_densing"))
        .args([
            "run",
            "--bootstrap",
            "100000",
            "--permutations",
            "100000",
            "--out",
            s(&out_dir),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted: nothing was written"));
    assert!(
        !out_dir.exists(),
        "an interrupted run left {}",
        out_dir.display()
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
