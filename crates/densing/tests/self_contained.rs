//! The repository carries every file its tests, benches, examples and scripts read:
//! no source, script or CI file names a path into a directory beside the checkout
//! (the project's working data once lived in a `shared` directory beside it). `.ci/run` proves
//! the same end to end by running the suite from a fresh clone in a temporary
//! directory.

use std::path::{Path, PathBuf};

/// Directories whose files must not reach outside the repository.
const CHECKED: [&str; 6] = ["crates", "tests", "scripts", "bench", ".ci", "fuzz"];
/// Build outputs and installed packages, not the project's own files.
const SKIPPED: [&str; 3] = ["target", "node_modules", ".venv"];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_ref()) {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_path_leaves_the_repository() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Spelled in pieces so that this file does not match itself.
    let outside = ["..", "shared"].join("/");
    let mut all = Vec::new();
    for dir in CHECKED {
        files(&repo.join(dir), &mut all);
    }
    assert!(
        all.len() > 50,
        "only {} files found under {CHECKED:?}",
        all.len()
    );
    let offenders: Vec<String> = all
        .iter()
        .filter_map(|p| {
            let text = std::fs::read(p).ok()?;
            let text = String::from_utf8_lossy(&text);
            let lines: Vec<String> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.contains(&outside))
                .map(|(i, _)| format!("{}:{}", p.display(), i + 1))
                .collect();
            (!lines.is_empty()).then(|| lines.join(", "))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "paths outside the repository ({outside}): {offenders:?}; copy the file into data/ with its source and licence"
    );
}
