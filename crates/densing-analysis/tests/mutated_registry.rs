//! Property test of issue 21: a user registry row mutated at random (dates,
//! numbers, empty cells, encodings) either is refused with `file:line: field`,
//! or loads as a row that passes every registry rule; under `--lenient` a
//! refused row is dropped and listed, and the headline is exactly the one of
//! the registry without it. A mutated row never changes the headline silently.

use chrono::NaiveDate;
use densing_analysis::{basis_from_name, density_options, run, CalibrationSpec, Reference};
use densing_analysis::{limits, RunOptions};
use densing_core::calibration::Uncertainty;
use densing_core::registry::{today, Registry, RowPolicy};
use densing_core::table::Table;
use densing_core::trend::EstimatorKind;
use densing_core::validate::model_problems;
use proptest::prelude::*;
use std::sync::OnceLock;

const FILE: &str = "mine.csv";
const HEADER: [&str; 10] = [
    "model",
    "family",
    "params_billion",
    "nonemb_params_billion",
    "training_tokens_trillion",
    "release_date",
    "mmlu",
    "bbh",
    "math",
    "source",
];
const GOOD: [&str; 10] = [
    "Mine-7B",
    "Mine",
    "7.2",
    "6.5",
    "12",
    "2025-06-01",
    "70",
    "60",
    "40",
    "test",
];

fn options() -> RunOptions {
    RunOptions {
        calibration: CalibrationSpec {
            reference: Reference::Family("Qwen2.5".into()),
            d0: 1e12,
            uncertainty: Uncertainty {
                replicates: 0,
                seed: 5,
            },
        },
        density: density_options(
            basis_from_name("nonemb").unwrap(),
            &["mmlu", "bbh", "math", "humaneval", "mbpp"],
            3,
            false,
        )
        .unwrap(),
        split_at: None,
        hardware_doubling_years: 2.1,
        prices: None,
        sweep: false,
        alt_benchmarks: Vec::new(),
        estimator: EstimatorKind::default(),
        permutations: 0,
    }
}

/// The headline slope of the bundled registry alone.
fn bundled_slope() -> f64 {
    static A: OnceLock<f64> = OnceLock::new();
    *A.get_or_init(|| {
        run(&Registry::bundled().unwrap(), &options())
            .unwrap()
            .summary
            .a
    })
}

fn load(text: &str, policy: RowPolicy) -> densing_core::Result<Registry> {
    let mut reg = Registry::bundled()?;
    reg.layer_with(&Table::parse(FILE, text)?, policy)?;
    reg.finish_with(policy)?;
    Ok(reg)
}

/// One mutation of a cell: a value a hostile or careless user could type.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("abc".to_string()),
        Just("NaN".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("1e308".to_string()),
        Just("0.0065".to_string()),
        (-1e6f64..1e6).prop_map(|v| v.to_string()),
        (0.0001f64..100.0).prop_map(|v| v.to_string()),
        (1800i32..10_000, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (2018i32..2027, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
    ]
}

/// How the file is encoded: plain, with a byte-order mark, with CRLF, both.
fn encoding() -> impl Strategy<Value = (bool, bool)> {
    (any::<bool>(), any::<bool>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_mutated_row_is_refused_with_its_place_or_valid(
        mutations in proptest::collection::vec((0usize..HEADER.len(), cell()), 1..3),
        (bom, crlf) in encoding(),
    ) {
        let mut row: Vec<String> = GOOD.iter().map(|s| s.to_string()).collect();
        for (col, value) in &mutations {
            row[*col] = value.clone();
        }
        let eol = if crlf { "\r\n" } else { "\n" };
        let text = format!(
            "{}# a user's models{eol}{}{eol}{}{eol}",
            if bom { "\u{feff}" } else { "" },
            HEADER.join(","),
            row.join(",")
        );
        match load(&text, RowPolicy::Strict) {
            Ok(reg) => {
                // Loaded: the row passes every rule, and lenient agrees.
                let m = reg.get(&row[0]).expect("the user row is in the registry");
                prop_assert!(model_problems(m, today()).is_empty());
                prop_assert_eq!(m.line, 3);
                let lenient = load(&text, RowPolicy::Lenient).unwrap();
                prop_assert!(lenient.dropped.is_empty());
            }
            Err(e) => {
                // Refused: the message says where (line 3, a named field).
                let msg = e.to_string();
                prop_assert!(msg.starts_with("mine.csv:3: field `"), "{}", msg);
                // Lenient: the row is dropped, listed, and the headline is the
                // registry's without it.
                let lenient = load(&text, RowPolicy::Lenient).unwrap();
                prop_assert_eq!(lenient.dropped.len(), 1);
                prop_assert_eq!(&lenient.dropped[0].origin, "mine.csv:3");
                prop_assert!(lenient.dropped[0].problems.iter().any(|p| p == &msg));
                prop_assert_eq!(lenient.models.len(), Registry::bundled().unwrap().models.len());
                let a = run(&lenient, &options()).unwrap();
                prop_assert_eq!(a.summary.a, bundled_slope());
                prop_assert!(a.summary.warnings.iter().any(|w| w.contains("dropped row mine.csv:3")));
            }
        }
    }
}

#[test]
fn the_paper_dates_and_ranges_are_the_rules() {
    // The bundled registry passes the rules it is held to.
    let reg = Registry::bundled().unwrap();
    for m in &reg.models {
        assert!(model_problems(m, today()).is_empty(), "{}", m.name);
    }
    assert_eq!(
        densing_core::validate::EARLIEST_RELEASE,
        NaiveDate::from_ymd_opt(2018, 1, 1).unwrap()
    );
}

#[test]
fn counts_beyond_the_maxima_are_refused_before_any_work() {
    let reg = Registry::bundled().unwrap();
    let mut o = options();
    o.calibration.uncertainty.replicates = usize::MAX;
    let e = run(&reg, &o).unwrap_err().to_string();
    assert!(
        e.contains("bootstrap 18446744073709551615 exceeds the maximum 100000"),
        "{e}"
    );
    let mut o = options();
    o.permutations = 1 << 40;
    let e = run(&reg, &o).unwrap_err().to_string();
    assert!(
        e.contains("permutations 1099511627776 exceeds the maximum 100000"),
        "{e}"
    );
    let e = limits::preflight(1_000_000, 5, 100_000)
        .unwrap_err()
        .to_string();
    assert!(e.contains("lower bootstrap"), "{e}");
    let mut o = options();
    o.hardware_doubling_years = -2.0;
    let e = run(&reg, &o).unwrap_err().to_string();
    assert!(
        e.contains("must be a positive number of years, got -2"),
        "{e}"
    );
}
