//! Adding rows to a registry validates them as one file would be.

use densing_core::registry::Registry;
use densing_core::Error;

const HEADER: &str =
    "model,family,params_billion,release_date,mmlu,bbh,math,humaneval,mbpp,parent\n";

#[test]
fn added_rows_join_the_registry_and_may_name_its_models_as_parents() {
    let reg = Registry::bundled().unwrap();
    let more = reg
        .with_rows(
            "extra.csv",
            &format!("{HEADER}Mine-1B,user,1.0,2025-01-01,50,40,20,30,35,Llama-2-7B\n"),
        )
        .unwrap();
    assert_eq!(more.models.len(), reg.models.len() + 1);
    assert_eq!(more.name, "data/models.csv (bundled) + extra.csv");
    assert_eq!(
        more.get("Mine-1B").unwrap().parent.as_deref(),
        Some("Llama-2-7B")
    );
}

#[test]
fn added_rows_name_their_own_file_line_and_field() {
    let reg = Registry::bundled().unwrap();
    let msg = |text: &str| match reg.with_rows("extra.csv", &format!("{HEADER}{text}")) {
        Err(e @ Error::Field { .. }) => e.to_string(),
        other => panic!("expected a field error, got {other:?}"),
    };
    let dup = msg("llama-2-7b,user,1.0,2025-01-01,50,40,20,30,35,\n");
    assert!(
        dup.starts_with("extra.csv:2: field `model`: duplicate model `llama-2-7b` (already in data/models.csv (bundled), line "),
        "{dup}"
    );
    let orphan =
        msg("A,user,1.0,2025-01-01,50,40,20,30,35,\nB,user,1.0,2025-01-01,50,40,20,30,35,Nobody\n");
    assert_eq!(
        orphan,
        "extra.csv:3: field `parent`: parent `Nobody` of `B` is not in the registry"
    );
}
