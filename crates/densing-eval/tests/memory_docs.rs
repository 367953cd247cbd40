//! The guide's table of which models fit in 24 GiB (docs/src/evaluation.md) is
//! the preflight's formula, as `examples/memory_table.rs` computes it: a change to
//! the estimate that moves a cell fails here until the guide is regenerated
//! (`cargo run --release -p densing-eval --example memory_table -- 24 2048`).

#[allow(dead_code)] // its `main` is the example's, not this test's
#[path = "../examples/memory_table.rs"]
mod memory_table;

#[test]
fn the_guides_memory_table_is_the_preflights() {
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/src/evaluation.md"
    ))
    .unwrap();
    let table = memory_table::table(24.0, 2048);
    assert!(
        guide.contains(&table),
        "docs/src/evaluation.md does not hold the current table:\n{table}"
    );
}
