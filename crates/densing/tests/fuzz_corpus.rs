//! The committed fuzz corpus (`fuzz/corpus/<target>/`: seeds and every input that
//! once found a bug) replayed on the stable toolchain through the fuzz targets' own
//! functions (`fuzz/src/lib.rs`): each must be handled without a panic.

#[path = "../../../fuzz/src/lib.rs"]
mod targets;

#[test]
fn fuzz_corpus_replays_without_panics() {
    let corpus = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let n = targets::replay(&corpus);
    assert!(n >= targets::TARGETS.len(), "{n} inputs replayed");
}
