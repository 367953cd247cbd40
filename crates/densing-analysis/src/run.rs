//! One full analysis: densities of every registry model against a calibration,
//! the Densing-Law trend with its CI for all qualifying models and for the
//! paper's 29, the corollaries (hardware, prices, compressed models), and on
//! request the sensitivity sweep and a forecasting backtest. Every trend comes
//! with its estimator, interval and permutation p-value; the main
//! trend is also fitted by every other estimator, side by side.

use crate::capability::Scale;
use crate::spec::{CalibrationSpec, Reference};
use crate::trend::{fit_estimators, trend_tests};
use chrono::NaiveDate;
use densing_core::calibration::{basis_name, Calibration};
use densing_core::density::Bounded;
use densing_core::density::DensityOptions;
use densing_core::registry::{parse_date, Benchmark, ParamsBasis, Registry, Weights};
use densing_core::study::{
    backtest, split_trend, study, trend_points, BacktestRow, ParentPair, SplitTrend, Study,
};
use densing_core::table::Table;
use densing_core::trend::inference::ALPHA;
use densing_core::trend::size::{measured_size, MeasuredSize};
use densing_core::trend::{
    combined_doubling_days, fit_trend, price_halving_days, EstimatorKind, TestRow, TrendConfig,
    TrendFit,
};
use densing_core::Result;
use serde::Serialize;
use std::path::Path;

/// The paper's price example, bundled so a run shows the corollary with no files.
const BUNDLED_PRICES: &str = include_str!("../../../data/prices.csv");

/// What to compute besides the main study.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub calibration: CalibrationSpec,
    pub density: DensityOptions,
    /// Also fit the interaction model at this date: the trend before and after
    /// it, and the one test of a slope change.
    pub split_at: Option<NaiveDate>,
    /// Hardware price-performance doubling time, years (compounded with density).
    pub hardware_doubling_years: f64,
    /// (date, price per million tokens) for the price-halving corollary; `None`:
    /// the paper's two points ([`bundled_prices`]).
    pub prices: Option<Vec<(NaiveDate, f64)>>,
    /// Sensitivity sweep (references, benchmark subsets, basis, model set, D0) and backtest.
    pub sweep: bool,
    /// A benchmark set the sweep also fits the trend on (empty: none).
    pub alt_benchmarks: Vec<Benchmark>,
    /// The trend's estimator (the others are fitted beside it).
    pub estimator: EstimatorKind,
    /// Release-date permutations behind every trend's p-value (0: no test).
    pub permutations: usize,
}

impl RunOptions {
    /// The trend configuration with `replicates` bootstrap replicates.
    pub(crate) fn trend(&self, replicates: usize) -> TrendConfig {
        TrendConfig {
            estimator: self.estimator,
            replicates,
            permutations: self.permutations,
            seed: self.calibration.uncertainty.seed,
        }
    }

    /// Refits [`run`] reports through its `tick` (for a progress bar): bootstrap
    /// replicates and permutations of the main trend and of each side-by-side estimator.
    pub fn trend_work(&self) -> u64 {
        let per_fit = self.calibration.uncertainty.replicates + self.permutations;
        (per_fit * EstimatorKind::all(0.5).len()) as u64
    }
}

/// One row of the sensitivity sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    pub dimension: String,
    pub choice: String,
    pub n_models: usize,
    pub doubling_days: Option<f64>,
    pub doubling_ci95: Option<[Option<f64>; 2]>,
    pub r2: Option<f64>,
    pub p_value: Option<f64>,
    pub note: Option<String>,
}

/// The headline numbers of a run (what `densing run --json` prints).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub reference: String,
    pub params_basis: String,
    pub n_models: usize,
    pub n_trend: usize,
    /// The main trend's estimator, e.g. `censored-quantile τ=0.9`.
    pub estimator: String,
    #[serde(rename = "A")]
    pub a: f64,
    pub r2: Option<f64>,
    pub doubling_days: f64,
    pub doubling_ci95: Option<[Option<f64>; 2]>,
    /// One-sided permutation p-value of the main trend under "no trend".
    pub p_value: Option<f64>,
    /// Its Monte Carlo standard error.
    pub p_mc_se: Option<f64>,
    /// Every test this run reports (estimators, the paper's 29, split sides and
    /// slope change, sweep rows), raw and Holm-adjusted together.
    pub tests: Vec<TestRow>,
    /// The verdict in words: whether the trend is distinguishable from none.
    pub verdict: String,
    /// The permutation test's size measured on this scale's real design
    /// (`densing simulate`, bundled in densing-core's `test_size.csv`).
    pub test_size: Option<MeasuredSize>,
    /// Trend models known only as a bound on ρ.
    pub n_censored: usize,
    pub trend: TrendFit,
    /// The main trend under every estimator (the main one included), side by side.
    pub estimators: Vec<TrendFit>,
    /// The same trend on the paper's 29 models (`in_densing_fig1`).
    pub trend_fig1: Option<TrendFit>,
    pub split: Option<SplitTrend>,
    pub combined_with_hardware_days: f64,
    pub hardware_doubling_years: f64,
    pub price_halving_days: Option<f64>,
    pub parents: Vec<ParentPair>,
    pub sweep: Option<Vec<SweepRow>>,
    pub backtest: Option<Vec<BacktestRow>>,
    /// Rows and scores of earlier registry layers that later ones replaced.
    pub registry_notes: Vec<String>,
    pub warnings: Vec<String>,
    /// Both density scales side by side and the capability scale under every
    /// eligible reference family (`densing run` with a reference family).
    pub scales: Option<crate::capability::ScaleComparison>,
}

/// A finished analysis: the study, its summary and the calibration it used.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub study: Study,
    pub summary: Summary,
    /// The five-benchmark calibration (the report's calibration figures).
    pub calibration: Calibration,
    /// The capability scale's fit and densities, when the run computed them.
    pub capability: Option<crate::capability::CapabilityRun>,
}

/// Run the whole analysis on `reg`.
pub fn run(reg: &Registry, opts: &RunOptions) -> Result<Analysis> {
    run_observed(reg, opts, &|| {})
}

/// [`run`], calling `tick` once per refit of [`RunOptions::trend_work`].
pub fn run_observed(
    reg: &Registry,
    opts: &RunOptions,
    tick: &(dyn Fn() + Sync),
) -> Result<Analysis> {
    let (cal, main, warnings) = five_benchmark_study(reg, opts, tick)?;
    let summary = summarize(reg, opts, Scale::FiveBenchmark, &main, warnings, tick)?;
    Ok(Analysis {
        study: main,
        summary,
        calibration: cal,
        capability: None,
    })
}

/// The five-benchmark calibration, its study (densities and the main trend)
/// and the calibration's warnings, after checking the run's limits.
pub(crate) fn five_benchmark_study(
    reg: &Registry,
    opts: &RunOptions,
    tick: &(dyn Fn() + Sync),
) -> Result<(Calibration, Study, Vec<String>)> {
    let dens = &opts.density;
    let unc = opts.calibration.uncertainty;
    crate::limits::check_run(
        reg.models.len(),
        dens.benchmarks.len(),
        unc.replicates,
        opts.permutations,
    )?;
    let hw = opts.hardware_doubling_years;
    if !(hw > 0.0 && hw.is_finite()) {
        return Err(densing_core::Error::Invalid(format!(
            "hardware doubling time (--hardware-doubling-years) must be a positive number of years, got {hw}"
        )));
    }
    let cal = opts.calibration.build(reg, dens)?;
    let cfg = opts.trend(unc.replicates);
    let main = study(reg, &cal, dens, &cfg, tick)?;
    let warnings: Vec<String> = cal
        .curves
        .values()
        .flat_map(|c| c.warnings.clone())
        .collect();
    Ok((cal, main, warnings))
}

/// The summary of a study: the trend under every estimator, the paper's 29,
/// the split, the corollaries and (with `opts.sweep`) the sweep and backtest.
/// The sweep always varies the five-benchmark calibration.
pub(crate) fn summarize(
    reg: &Registry,
    opts: &RunOptions,
    scale: Scale,
    main: &Study,
    mut warnings: Vec<String>,
    tick: &(dyn Fn() + Sync),
) -> Result<Summary> {
    let dens = &opts.density;
    let cfg = opts.trend(opts.calibration.uncertainty.replicates);
    let points = trend_points(&main.densities, |_| true);
    let (estimators, estimator_notes) = fit_estimators(&points, &cfg, Some(&main.trend), tick);
    // The paper's 29: the same densities, only the models it plotted.
    let fig1 = fit_trend(
        &trend_points(&main.densities, |d| d.in_densing_fig1),
        &cfg,
        &|| {},
    )
    .ok();
    let split = opts
        .split_at
        .map(|date| split_trend(&main.densities, date, &cfg));
    let prices = match &opts.prices {
        Some(p) => p.clone(),
        None => bundled_prices()?,
    };
    warnings.extend(estimator_notes);
    warnings.extend(estimate_outside_interval(main));
    warnings.extend(reg.dropped.iter().map(|d| format!("--lenient: {d}")));
    if main.trend.doubling_ci95.is_some_and(|c| c[1].is_none()) {
        warnings.push(
            "the slope's 95% CI reaches zero: the doubling time's upper bound is unbounded".into(),
        );
    }
    let (sweep, backtest_rows) = if opts.sweep {
        let rows = estimators
            .iter()
            .map(|e: &TrendFit| e.estimator)
            .flat_map(|estimator| {
                backtest(&main.densities, &TrendConfig { estimator, ..cfg }, 180, 90)
            })
            .collect();
        (Some(sweep(reg, opts)), Some(rows))
    } else {
        (None, None)
    };
    let tests = run_tests(&estimators, fig1.as_ref(), split.as_ref(), sweep.as_deref());
    let main_name = format!("trend, {}", main.trend.estimator.label());
    let main_holm = tests.iter().find(|t| t.test == main_name).map(|t| t.p_holm);
    let test_size = measured_size(scale.key(), &main.trend.estimator.label());
    Ok(Summary {
        reference: main.reference.clone(),
        params_basis: basis_name(dens.basis).into(),
        n_models: main.densities.len(),
        n_trend: main.trend.n_points,
        estimator: main.trend.estimator.label(),
        a: main.trend.a,
        r2: main.trend.r2,
        doubling_days: main.trend.doubling_days,
        doubling_ci95: main.trend.doubling_ci95,
        p_value: main.trend.p_value,
        p_mc_se: main.trend.p_mc_se,
        verdict: verdict(
            &main.trend,
            main_holm.filter(|_| tests.len() > 1),
            tests.len(),
        ),
        test_size,
        tests,
        n_censored: main.trend.n_censored,
        trend: main.trend.clone(),
        estimators,
        trend_fig1: fig1,
        split,
        combined_with_hardware_days: combined_doubling_days(
            main.trend.doubling_days,
            opts.hardware_doubling_years,
        ),
        hardware_doubling_years: opts.hardware_doubling_years,
        price_halving_days: Some(price_halving_days(&prices)?),
        parents: main.parents.clone(),
        sweep,
        backtest: backtest_rows,
        registry_notes: reg.replacements.iter().map(|r| r.to_string()).collect(),
        warnings,
        scales: None,
    })
}

/// Whether a trend is distinguishable from none, in words: the raw p with
/// its Monte Carlo error and failed refits, and the Holm-adjusted p when the
/// run reports `n_tests` > 1 tests. The test's measured size is
/// [`Summary::test_size`], printed on the next line ([`size_text`]).
pub fn verdict(t: &TrendFit, holm: Option<f64>, n_tests: usize) -> String {
    let Some(p) = t.p_value else {
        return "no permutation test was run (--permutations 0)".into();
    };
    let mut detail = format!(
        "permutation p = {p:.3} ± {:.3} (MC SE; {} permutations, {} failed refits counted as extreme",
        t.p_mc_se.unwrap_or(0.0),
        t.permutations,
        t.permutations_failed
    );
    if t.permutations_added > 0 {
        detail += &format!(
            ", {} added because p was within 3 SE of 0.05{}",
            t.permutations_added,
            if t.permutations_at_cap {
                "; still within at the cap: the verdict is within Monte Carlo noise"
            } else {
                ""
            }
        );
    }
    detail += ")";
    if let Some(h) = holm {
        detail += &format!("; Holm-adjusted over the run's {n_tests} tests: p = {h:.3}");
    }
    if p < ALPHA {
        format!("the trend is distinguishable from no trend: {detail}")
    } else {
        format!(
            "the trend is NOT distinguishable from no trend: {detail}; \
             registries with the release dates shuffled among the families give slopes this large"
        )
    }
}

/// The test's measured size in words (no rejection at all: the rule of
/// three's 95% upper bound, 3/n, instead of a zero standard error).
pub fn size_text(s: &MeasuredSize) -> String {
    let value = if s.size == 0.0 {
        format!(
            "0 of {} (95% upper bound {:.1}%)",
            s.registries,
            300.0 / s.registries as f64
        )
    } else {
        format!("{:.1}% ± {:.1}", 100.0 * s.size, 100.0 * s.size_se)
    };
    format!(
        "the test's size at 0.05, measured on {} trend-free registries simulated on the {} scale's design: {value}",
        s.registries, s.scale
    )
}

/// Every test the run reports, Holm-adjusted together.
fn run_tests(
    estimators: &[TrendFit],
    fig1: Option<&TrendFit>,
    split: Option<&SplitTrend>,
    sweep: Option<&[SweepRow]>,
) -> Vec<TestRow> {
    let mut fits: Vec<(String, &TrendFit)> = estimators
        .iter()
        .map(|f| (format!("trend, {}", f.estimator.label()), f))
        .collect();
    fits.extend(fig1.map(|f| ("trend, paper's 29-model set".to_string(), f)));
    let mut extra = Vec::new();
    if let Some(sp) = split {
        fits.extend(
            sp.before
                .iter()
                .map(|f| (format!("trend before {}", sp.date), f)),
        );
        fits.extend(
            sp.after
                .iter()
                .map(|f| (format!("trend from {}", sp.date), f)),
        );
        if let Some(c) = &sp.change {
            extra.extend(
                c.p_value
                    .map(|p| (format!("slope change at {}", sp.date), p, c.p_mc_se)),
            );
        }
    }
    for r in sweep.unwrap_or_default() {
        extra.extend(
            r.p_value
                .map(|p| (format!("sweep {}: {}", r.dimension, r.choice), p, None)),
        );
    }
    trend_tests(fits, extra)
}

/// Models whose point ρ lies outside their own calibration interval, with the
/// reason: the interval is the spread of the density under resampled
/// calibration curves, and near a curve's asymptote (or where benchmarks
/// disagree) those resampled inversions all fall on one side of the point's.
fn estimate_outside_interval(s: &Study) -> Vec<String> {
    s.densities
        .iter()
        .filter_map(|d| match (d.rho, d.rho_ci95) {
            (Bounded::Value(v), Some([lo, hi])) if v < lo || v > hi => Some(format!(
                "{}: ρ {v:.3} lies outside its own 95% calibration interval [{lo:.3}, {hi:.3}]: \
                 the resampled calibration curves invert its scores to one side of the point \
                 curve's (scores near a curve's asymptote); read ρ as weakly determined",
                d.name
            )),
            _ => None,
        })
        .collect()
}

/// The paper's two price points (GPT-3.5-level API, Dec 2022 and Aug 2024).
pub fn bundled_prices() -> Result<Vec<(NaiveDate, f64)>> {
    prices_from(&Table::parse("data/prices.csv (bundled)", BUNDLED_PRICES)?)
}

/// Read a CSV of (date, price_per_mtok) for the price-halving corollary.
pub fn read_prices(path: &Path) -> Result<Vec<(NaiveDate, f64)>> {
    prices_from(&Table::read(path)?)
}

/// (date, price_per_mtok) rows of a table, validated.
pub fn prices_from(table: &Table) -> Result<Vec<(NaiveDate, f64)>> {
    table.require(&["date", "price_per_mtok"])?;
    table
        .rows()
        .map(|row| {
            let date = parse_date(row.text("date").unwrap_or_default())
                .map_err(|m| row.error("date", m))?;
            Ok((date, row.positive("price_per_mtok")?))
        })
        .collect()
}

/// Doubling time under each alternative choice, one change at a time.
fn sweep(reg: &Registry, opts: &RunOptions) -> Vec<SweepRow> {
    let dens = &opts.density;
    let base_spec = &opts.calibration;
    let replicates = base_spec.uncertainty.replicates.min(200);
    let cfg = opts.trend(replicates);
    let mut unc_spec = base_spec.clone();
    unc_spec.uncertainty.replicates = replicates;
    let mut rows = Vec::new();
    let mut push = |dimension: &str, choice: String, spec: &CalibrationSpec, o: &DensityOptions| {
        let row = match spec
            .build(reg, o)
            .and_then(|c| study(reg, &c, o, &cfg, &|| {}))
        {
            Ok(s) => SweepRow {
                dimension: dimension.into(),
                choice,
                n_models: s.trend.n_points,
                doubling_days: Some(s.trend.doubling_days),
                doubling_ci95: s.trend.doubling_ci95,
                r2: s.trend.r2,
                p_value: s.trend.p_value,
                note: None,
            },
            Err(e) => SweepRow {
                dimension: dimension.into(),
                choice,
                n_models: 0,
                doubling_days: None,
                doubling_ci95: None,
                r2: None,
                p_value: None,
                note: Some(e.to_string()),
            },
        };
        rows.push(row);
    };
    if !base_spec.is_two_step() {
        for fam in reg.families() {
            let sizes = reg
                .models
                .iter()
                .filter(|m| m.family == fam && m.weights == Weights::Base)
                .count();
            if sizes >= 4 {
                let spec = CalibrationSpec {
                    reference: Reference::Family(fam.to_string()),
                    ..unc_spec.clone()
                };
                push("reference", fam.to_string(), &spec, dens);
            }
        }
    } else {
        for d0 in [1e11, 1e12, 1e13] {
            let spec = CalibrationSpec {
                d0,
                ..unc_spec.clone()
            };
            push("D0", format!("{d0:.0e} tokens"), &spec, dens);
        }
    }
    let keys = |bs: &[Benchmark]| bs.iter().map(|b| b.key()).collect::<Vec<_>>().join(",");
    push("benchmarks", keys(&dens.benchmarks), &unc_spec, dens);
    for &b in &dens.benchmarks {
        let o = DensityOptions {
            benchmarks: dens
                .benchmarks
                .iter()
                .copied()
                .filter(|x| *x != b)
                .collect(),
            min_benchmarks: dens.min_benchmarks.min(dens.benchmarks.len() - 1),
            ..dens.clone()
        };
        push("benchmarks", format!("without {}", b.key()), &unc_spec, &o);
    }
    if !opts.alt_benchmarks.is_empty() {
        let o = DensityOptions {
            min_benchmarks: dens.min_benchmarks.min(opts.alt_benchmarks.len()),
            benchmarks: opts.alt_benchmarks.clone(),
            ..dens.clone()
        };
        let choice = format!("alternative {}", keys(&opts.alt_benchmarks));
        push("benchmarks", choice, &unc_spec, &o);
    }
    for (name, basis) in [
        ("total", ParamsBasis::Total),
        ("nonemb", ParamsBasis::Nonemb),
        ("active", ParamsBasis::Active),
    ] {
        let o = DensityOptions {
            basis,
            ..dens.clone()
        };
        push("params", name.into(), &unc_spec, &o);
    }
    push("models", "all base models".into(), &unc_spec, dens);
    let o = DensityOptions {
        fig1_only: true,
        ..dens.clone()
    };
    push(
        "models",
        "paper's 29 (in_densing_fig1)".into(),
        &unc_spec,
        &o,
    );
    rows
}
