//! No import circles between the modules of any crate in the workspace.
//!
//! A circle (`a` uses `b`, `b` uses `a`) means neither module can be read, tested
//! or moved without the other: the shared type belongs in a third place. This
//! test reads every `crates/*/src/**/*.rs`, takes the module paths each file names
//! (`use crate::…` and `use super::…` statements, grouped ones expanded, plus
//! `crate::a::b` paths written inline in code), resolves each to the deepest module
//! that exists as a file, and fails on any cycle, printing it. A module naming its
//! own ancestor or descendant (`use super::*` in a child, `mod child` re-exports in
//! its parent) is the normal shape of a module tree and is not an edge.
//!
//! It lives in `densing-core`, the crate without candle, because its test binary
//! links in seconds; it reads the other crates' sources as text.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; `lib.rs`/`main.rs` → the root `""`.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Expands a `use` tree: `crate::{a::X, b::{Y, Z}}` → `crate::a::X`, `crate::b::Y`,
/// `crate::b::Z`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// The code of a file without comments (line comments and doc comments).
fn code_lines(text: &str) -> String {
    text.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a file names that starts at `crate::` or `super::`, as segments
/// relative to the crate root.
fn named_paths(module: &str, text: &str) -> Vec<Vec<String>> {
    let code = code_lines(text);
    let mut raw = Vec::new();
    // `use` statements, grouped or not (a statement may span lines).
    for stmt in code.split(';') {
        // The statement's `use` starts a line, after any attribute or brace before it.
        let tree = stmt.lines().enumerate().find_map(|(i, l)| {
            let t = l.trim_start();
            let t = ["pub(crate) ", "pub(super) ", "pub "]
                .iter()
                .find_map(|v| t.strip_prefix(v))
                .unwrap_or(t);
            let rest: Vec<&str> = stmt.lines().skip(i + 1).collect();
            t.strip_prefix("use ")
                .map(|head| format!("{head}\n{}", rest.join("\n")))
        });
        raw.extend(tree.iter().flat_map(|t| expand(t.trim())));
    }
    // Inline `crate::a::b` paths in code.
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest: String = code[i..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        raw.push(rest);
    }
    let base: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(String::from).collect()
    };
    raw.into_iter()
        .filter_map(|p| {
            let segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
            let (mut at, mut rest) = match segs.first() {
                Some(&"crate") => (Vec::new(), &segs[1..]),
                Some(&"super") => (base.clone(), &segs[..]),
                _ => return None,
            };
            while let Some(&"super") = rest.first() {
                at.pop();
                rest = &rest[1..];
            }
            at.extend(rest.iter().map(|s| s.to_string()));
            Some(at)
        })
        .collect()
}

/// The deepest module in `modules` that `path` lies in.
fn resolve(path: &[String], modules: &BTreeSet<String>) -> String {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
        .unwrap_or_default()
}

fn related(a: &str, b: &str) -> bool {
    let within = |x: &str, y: &str| y.is_empty() || x == y || x.starts_with(&format!("{y}::"));
    within(a, b) || within(b, a)
}

/// Import edges between unrelated modules of the crate whose sources are in `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_path(src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = module_path(src, f);
        let text = fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for p in named_paths(&from, &text) {
            let to = resolve(&p, &modules);
            if !related(&from, &to) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// One cycle of the graph, if it has any (depth-first search with a path stack).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_crate_has_an_import_circle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    let mut circles = Vec::new();
    for entry in fs::read_dir(&crates).expect("crates/") {
        let src = entry.expect("entry").path().join("src");
        if !src.is_dir() {
            continue;
        }
        checked += 1;
        if let Some(c) = find_cycle(&graph(&src)) {
            circles.push(format!("{}: {}", src.display(), c.join(" → ")));
        }
    }
    assert!(
        checked >= 6,
        "found only {checked} crates under {}",
        crates.display()
    );
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_checker_sees_a_circle_and_its_absence() {
    let dir = std::env::temp_dir().join(format!("densing-cycles-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("fig")).unwrap();
    fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod fig;\n").unwrap();
    fs::write(src.join("fig.rs"), "mod one;\npub use one::X;\n").unwrap();
    fs::write(src.join("fig/one.rs"), "use super::*;\npub struct X;\n").unwrap();
    fs::write(src.join("a.rs"), "use crate::{fig::X, b::{Y, Z}};\n").unwrap();
    fs::write(
        src.join("b.rs"),
        "// use crate::a::W; (a comment)\npub struct Y;\n",
    )
    .unwrap();
    assert_eq!(find_cycle(&graph(&src)), None);
    fs::write(src.join("b.rs"), "pub fn y() { crate::a::w() }\n").unwrap();
    assert_eq!(
        find_cycle(&graph(&src)),
        Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
    );
    fs::remove_dir_all(&dir).unwrap();
}
