//! The documentation runs: every shell block of README.md and docs/src/*.md is
//! executed, in page order, and what it prints is checked, so a renamed flag, a
//! removed file or a changed number fails the suite instead of rotting the docs.
//!
//! The block kinds (the first word of the fence's info string):
//! - `console`: transcripts. `$ command` lines (a trailing `\` continues one);
//!   the lines after a command, up to the next `$`, are its expected output
//!   (stdout and stderr together). A `...` line matches any number of lines and
//!   `[..]` any text within a line; a `? failed` or `? N` line right after the
//!   command expects a failing exit (status N), otherwise it must succeed.
//! - `sh`: a script run whole by `bash -euo pipefail` (so it may start a server in
//!   the background); it must succeed.
//! - `sh no-run=REASON` / `console no-run=REASON`: not run here (a GPU host, the
//!   suite itself); the reason is required, and `docs/src/building.md` must list
//!   each such block (page and first command) so they stay visible.
//! - anything else (`text`, `python`, `csv`, …) is not a command. Python examples
//!   are `>>>` doctests, run by pytest (`scripts/test.sh`).
//!
//! Each page runs in a fresh directory holding links to the repository's `data`,
//! `assets`, `tests`, `python` and `scripts` (so commands are written as from the
//! repository root, and whatever they write stays out of it), with the built
//! `densing` and the lm-eval venv (`scripts/setup-lm-eval.sh`) first on PATH.
//! Blocks of one page share the directory, so a page can build on its earlier
//! blocks (`densing run`, then `densing report --from densing-out`).
//!
//! `DENSING_DOCS_BLESS=1` rewrites the expected output of every failing
//! `console` command with what it printed, for a reviewed update after a change
//! that moves numbers (`git diff` shows what moved; elided lines come back in
//! full, to be trimmed to `...` again by hand).
//!
//! A small runner of our own rather than trycmd: trycmd runs one binary per
//! command without a shell, so it can neither start `densing serve` in the
//! background nor run `bash`/`lm_eval`, nor share files between a page's blocks.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The pages: README.md, then docs/src/*.md in name order.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo().join("docs/src"))
        .expect("docs/src")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.insert(0, repo().join("README.md"));
    pages
}

#[derive(Debug)]
struct Block {
    kind: String,
    no_run: Option<String>,
    /// 0-based line of the first body line.
    start: usize,
    body: Vec<String>,
}

/// Fenced blocks of a page (```` ``` ```` fences, info string's words).
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let mut words = info.split_whitespace();
        let kind = words.next().unwrap_or("").to_string();
        let no_run = info
            .split_once("no-run=")
            .map(|(_, r)| r.trim().to_string());
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && !lines[end].trim_start().starts_with("```") {
            end += 1;
        }
        out.push(Block {
            kind,
            no_run,
            start,
            body: lines[start..end.min(lines.len())]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        });
        i = end + 1;
    }
    out
}

/// One command of a console block: its text, expected status and output lines.
struct Step {
    command: String,
    expect_fail: Option<Option<i32>>,
    expected: Vec<String>,
    /// Body-relative lines of the expected output, for blessing.
    out_range: (usize, usize),
}

fn steps(body: &[String]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let Some(first) = body[i].strip_prefix("$ ") else {
            i += 1;
            continue;
        };
        let mut command = first.to_string();
        while command.ends_with('\\') && i + 1 < body.len() {
            i += 1;
            command.push('\n');
            command.push_str(&body[i]);
        }
        i += 1;
        let mut expect_fail = None;
        if let Some(s) = body.get(i).and_then(|l| l.strip_prefix("? ")) {
            expect_fail = Some(s.trim().parse().ok());
            i += 1;
        }
        let from = i;
        while i < body.len() && !body[i].starts_with("$ ") {
            i += 1;
        }
        steps.push(Step {
            command,
            expect_fail,
            expected: body[from..i].to_vec(),
            out_range: (from, i),
        });
    }
    steps
}

/// Whether `line` matches `pattern`, where `[..]` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern.trim_end() == line.trim_end();
    }
    let line = line.trim_end();
    let Some(mut rest) = line.strip_prefix(parts[0]) else {
        return false;
    };
    for (k, part) in parts.iter().enumerate().skip(1) {
        let part = if k == parts.len() - 1 {
            part.trim_end()
        } else {
            part
        };
        if k == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `actual` matches `expected` (with `...` lines and `[..]`).
fn output_matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." => {
            (0..=actual.len()).any(|skip| output_matches(rest, &actual[skip..]))
        }
        Some((e, rest)) => {
            !actual.is_empty() && line_matches(e, actual[0]) && output_matches(rest, &actual[1..])
        }
    }
}

/// A fresh working directory for a page, with links to the repository's inputs.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["data", "assets", "tests", "python", "scripts", "docs"] {
        let target = repo().join(name);
        if target.exists() {
            std::os::unix::fs::symlink(&target, dir.path().join(name)).unwrap();
        }
    }
    dir
}

fn shell(dir: &Path, script: &str) -> (Option<i32>, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_densing")).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        repo().join(".venv-lmeval/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c"])
        .arg(format!("exec 2>&1\n{script}"))
        .current_dir(dir)
        .env("PATH", path)
        .env("DENSING_REPO", repo())
        .output()
        .expect("run bash");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `page:line: first command` of a block, as building.md lists it.
fn label(page: &Path, b: &Block) -> String {
    let first = b
        .body
        .iter()
        .map(|l| l.strip_prefix("$ ").unwrap_or(l).trim())
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    // Without a trailing `# comment`.
    let first = first.split(" #").next().unwrap_or(first);
    format!(
        "{}: `{}`",
        page.strip_prefix(repo()).unwrap().display(),
        first.trim_end_matches('\\').trim()
    )
}

#[test]
fn every_command_in_the_docs_runs_and_prints_what_the_docs_say() {
    let bless = std::env::var_os("DENSING_DOCS_BLESS").is_some();
    let listing = std::fs::read_to_string(repo().join("docs/src/building.md")).unwrap();
    let mut failures = Vec::new();
    let (mut ran, mut skipped) = (0, 0);
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        // Lines added or removed by blessing earlier steps of this page.
        let mut shift: isize = 0;
        let dir = workdir();
        for b in blocks(&text) {
            if !matches!(b.kind.as_str(), "sh" | "console") {
                continue;
            }
            if let Some(reason) = &b.no_run {
                skipped += 1;
                let l = label(&page, &b);
                if reason.is_empty() {
                    failures.push(format!("{l}: `no-run=` needs a reason"));
                }
                let first = l.split_once(": ").unwrap().1;
                if !listing.contains(first) {
                    failures.push(format!(
                        "{l}: a block not run in CI must be listed in docs/src/building.md"
                    ));
                }
                continue;
            }
            if b.kind == "sh" {
                ran += 1;
                let (code, out) = shell(dir.path(), &b.body.join("\n"));
                if code != Some(0) {
                    failures.push(format!("{}: exit {code:?}\n{out}", label(&page, &b)));
                }
                continue;
            }
            for s in steps(&b.body) {
                ran += 1;
                let (code, out) = shell(dir.path(), &s.command);
                let actual: Vec<&str> = out.lines().collect();
                let status_ok = match s.expect_fail {
                    None => code == Some(0),
                    Some(None) => code != Some(0),
                    Some(Some(n)) => code == Some(n),
                };
                if status_ok && output_matches(&s.expected, &actual) {
                    continue;
                }
                failures.push(format!(
                    "{}:{}: `{}` exited {code:?}\n--- expected\n{}\n--- got\n{}",
                    page.strip_prefix(repo()).unwrap().display(),
                    b.start + s.out_range.0,
                    s.command,
                    s.expected.join("\n"),
                    out.trim_end()
                ));
                if bless && status_ok {
                    let at = (b.start + s.out_range.0) as isize + shift;
                    let len = s.out_range.1 - s.out_range.0;
                    let new: Vec<String> = actual.iter().map(|l| l.to_string()).collect();
                    shift += new.len() as isize - len as isize;
                    lines.splice(at as usize..at as usize + len, new);
                }
            }
        }
        let blessed = lines.join("\n") + "\n";
        if bless && blessed != text {
            std::fs::write(&page, blessed).unwrap();
        }
    }
    eprintln!("docs: {ran} commands run, {skipped} blocks marked no-run");
    assert!(ran > 10, "only {ran} commands found in the docs");
    assert!(
        failures.is_empty(),
        "{} doc command(s) failed (DENSING_DOCS_BLESS=1 rewrites expected outputs):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_matcher_handles_wildcards_and_elided_lines() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(output_matches(
        &e(&["a [..] c", "...", "z"]),
        &["a b c", "x", "y", "z"]
    ));
    assert!(output_matches(&e(&["...", "z"]), &["z"]));
    assert!(!output_matches(&e(&["a [..] c"]), &["a b d"]));
    assert!(!output_matches(&e(&["a"]), &["a", "extra"]));
    assert!(line_matches(
        "[..]133 days[..]",
        "doubling 133 days (p = 0.001)"
    ));
    let b = blocks("x\n```console\n$ echo a \\\n  b\n? 2\nout\n$ true\n```\n```sh no-run=GPU\nvllm serve\n```\n");
    assert_eq!(b.len(), 2);
    let s = steps(&b[0].body);
    assert_eq!(s[0].command, "echo a \\\n  b");
    assert_eq!(s[0].expect_fail, Some(Some(2)));
    assert_eq!(s[0].expected, vec!["out".to_string()]);
    assert!(s[1].expected.is_empty());
    assert_eq!(b[1].no_run.as_deref(), Some("GPU"));
}

/// The README's headline numbers are the ones `densing run --json` prints today:
/// model counts, the default estimator's doubling time, its 95% interval (an
/// interval unbounded above as "a days to unbounded"), the permutation p-value
/// and the test's measured size, written as the README writes them.
#[test]
fn readme_headline_matches_densing_run_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_densing"))
        .args(["run", "--json", "--no-report", "--out"])
        .arg(dir.path())
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Whole days with thousands separators, as prose writes them (2,780).
    let days = |v: &serde_json::Value| {
        v.as_f64().map_or("unbounded".to_string(), |d| {
            let digits = format!("{d:.0}");
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out
        })
    };
    let ci = &run["doubling_ci95"];
    let expected = [
        format!(
            "({} models, {} in the trend)",
            run["n_models"], run["n_trend"]
        ),
        format!("**{} days**", days(&run["doubling_days"])),
        if ci[1].is_null() {
            format!("(95% CI {} days to unbounded", days(&ci[0]))
        } else {
            format!("(95% CI {}–{} days)", days(&ci[0]), days(&ci[1]))
        },
        format!("**p = {:.3}**", run["p_value"].as_f64().unwrap()),
        format!(
            "rejected {:.1}% ± {:.1}",
            100.0 * run["test_size"]["size"].as_f64().unwrap(),
            100.0 * run["test_size"]["size_se"].as_f64().unwrap()
        ),
    ];
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let headline = readme
        .split("**The headline.**")
        .nth(1)
        .and_then(|h| h.split("\n\n").next())
        .expect("README has a paragraph starting **The headline.**")
        .replace('\n', " ");
    let missing: Vec<&String> = expected.iter().filter(|e| !headline.contains(*e)).collect();
    assert!(
        missing.is_empty(),
        "the README headline must say {missing:?} (from `densing run --json`); it says:\n{headline}"
    );
}
