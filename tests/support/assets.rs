//! The real test assets (SmolLM2-135M GGUF and HumanEval, fetched by
//! `scripts/fetch-assets.sh`), shared by the test binaries of the crates that run
//! the engine (`#[path]`-included: one definition, no test-only code in a library).

use std::path::PathBuf;

/// The assets folder (`DENSING_ASSETS`, else the repository's `assets/`); a missing
/// asset fails the test with the command that fetches it, never skips it.
pub fn assets() -> PathBuf {
    let dir = std::env::var_os("DENSING_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets"));
    for f in ["SmolLM2-135M-Instruct.Q4_1.gguf", "HumanEval.jsonl.gz"] {
        assert!(
            dir.join(f).exists(),
            "test asset {} is missing: run scripts/fetch-assets.sh (or set DENSING_ASSETS)",
            dir.join(f).display()
        );
    }
    dir
}
