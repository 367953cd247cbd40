//! The library's run on the bundled registry: one analysis feeds the summary,
//! the densities table and the report input consistently, and the options the
//! fronts pass by name are parsed or refused with a message.

use chrono::NaiveDate;
use densing_analysis::{
    basis_from_name, densities_csv, density_options, form_from_name, report_input, run,
    CalibrationSpec, Reference, RunOptions,
};
use densing_core::calibration::Uncertainty;
use densing_core::registry::Registry;
use densing_core::trend::EstimatorKind;

fn options(replicates: usize) -> RunOptions {
    RunOptions {
        calibration: CalibrationSpec {
            reference: Reference::Family("Qwen2.5".into()),
            d0: 1e12,
            uncertainty: Uncertainty {
                replicates,
                seed: 5,
            },
        },
        density: density_options(
            basis_from_name("nonemb").unwrap(),
            &["mmlu", "bbh", "math", "humaneval", "mbpp"],
            4,
            false,
        )
        .unwrap(),
        split_at: NaiveDate::from_ymd_opt(2024, 1, 1),
        hardware_doubling_years: 2.1,
        prices: Some(vec![
            (NaiveDate::from_ymd_opt(2022, 12, 1).unwrap(), 20.0),
            (NaiveDate::from_ymd_opt(2024, 8, 1).unwrap(), 0.075),
        ]),
        sweep: false,
        alt_benchmarks: Vec::new(),
        estimator: EstimatorKind::default(),
        permutations: 99,
    }
}

#[test]
fn one_analysis_feeds_summary_table_and_report() {
    let reg = Registry::bundled().unwrap();
    let a = run(&reg, &options(60)).unwrap();
    assert_eq!(a.summary.n_models, reg.models.len());
    assert_eq!(a.summary.doubling_days, a.study.trend.doubling_days);
    assert!(a.summary.split.is_some() && a.summary.sweep.is_none());
    // The given prices: 266.7× cheaper over 609 days, log2(266.7) = 8.06 halvings.
    let halving = a.summary.price_halving_days.unwrap();
    assert!((75.0..76.0).contains(&halving), "{halving}");
    let csv = String::from_utf8(densities_csv(&a.study).unwrap()).unwrap();
    assert_eq!(csv.lines().count(), reg.models.len() + 1);
    let input = report_input(&a);
    assert_eq!(input.models.len(), reg.models.len());
    assert_eq!(input.reference, a.summary.reference);
    // Same options, same seed: the same numbers.
    let again = run(&reg, &options(60)).unwrap();
    assert_eq!(
        serde_json::to_string(&again.summary).unwrap(),
        serde_json::to_string(&a.summary).unwrap()
    );
}

#[test]
fn names_from_other_fronts_are_checked() {
    assert!(form_from_name("chinchilla").is_ok());
    let e = basis_from_name("embedding").unwrap_err().to_string();
    assert_eq!(e, "basis `embedding` is not total, nonemb or active");
    let e = form_from_name("hoffmann").unwrap_err().to_string();
    assert_eq!(e, "form `hoffmann` is not paper or chinchilla");
    let e = density_options(basis_from_name("total").unwrap(), &["mmlx"], 1, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown benchmark `mmlx`"), "{e}");
}
