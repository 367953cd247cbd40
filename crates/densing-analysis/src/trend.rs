//! The trend on its own: every estimator, with interval and test, fitted to
//! trend points — the registry's (from [`crate::run`]) or a user's table
//! (`densing trend FILE`), through the same function, so both report the same
//! `estimators` entries — and the Holm adjustment of the tests a run reports.

use densing_core::density::Bounded;
use densing_core::registry::parse_date;
use densing_core::table::Table;
use densing_core::trend::multiple::test_rows;
use densing_core::trend::size::{measured_size, MeasuredSize};
use densing_core::trend::{
    days_since_origin, fit_trend, EstimatorKind, TestRow, TrendConfig, TrendFit, TrendPoint,
};
use densing_core::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// Every estimator at the quantile of `cfg.estimator` (τ = 0.9 for the
/// envelope), in [`EstimatorKind::all`]'s order; `known` is reused where it is
/// the fit of one of them. An estimator that cannot fit is left out of the
/// list and named in the returned notes.
pub fn fit_estimators(
    points: &[TrendPoint],
    cfg: &TrendConfig,
    known: Option<&TrendFit>,
    tick: &(dyn Fn() + Sync),
) -> (Vec<TrendFit>, Vec<String>) {
    let tau = match cfg.estimator {
        EstimatorKind::Quantile { tau } | EstimatorKind::CensoredQuantile { tau } => tau,
        EstimatorKind::Envelope => 0.9,
    };
    let mut notes = Vec::new();
    let fits = EstimatorKind::all(tau)
        .into_iter()
        .filter_map(|estimator| {
            if let Some(k) = known.filter(|k| k.estimator == estimator) {
                return Some(k.clone());
            }
            fit_trend(points, &TrendConfig { estimator, ..*cfg }, tick)
                .map_err(|e| notes.push(format!("{}: {e}", estimator.label())))
                .ok()
        })
        .collect();
    (fits, notes)
}

/// Holm-adjusted rows for every `(name, fit)` with a p-value, plus extra
/// `(name, p, MC SE)` tests.
pub fn trend_tests<'a>(
    fits: impl IntoIterator<Item = (String, &'a TrendFit)>,
    extra: Vec<(String, f64, Option<f64>)>,
) -> Vec<TestRow> {
    let mut tests: Vec<(String, f64, Option<f64>)> = fits
        .into_iter()
        .filter_map(|(name, f)| f.p_value.map(|p| (name, p, f.p_mc_se)))
        .collect();
    tests.extend(extra);
    test_rows(tests)
}

/// What `densing trend FILE` prints with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct TrendReport {
    pub file: String,
    pub n_points: usize,
    pub n_censored: usize,
    /// Every estimator, the main one (`--estimator`) first as in `densing run`'s order.
    pub estimators: Vec<TrendFit>,
    /// Each estimator's test of "no trend", raw and Holm-adjusted.
    pub tests: Vec<TestRow>,
    /// Estimators that could not fit, and why.
    pub notes: Vec<String>,
    /// The main estimator's test size as measured on the bundled registry's
    /// design on each density scale (a user's table has its own design, so
    /// these are a guide, not its size).
    pub test_size: Vec<MeasuredSize>,
}

/// Fit every estimator to `points` (from `file`) under `cfg`.
pub fn trend_report(
    file: &str,
    points: &[TrendPoint],
    cfg: &TrendConfig,
    tick: &(dyn Fn() + Sync),
) -> Result<TrendReport> {
    let main = fit_trend(points, cfg, tick)?;
    let (estimators, notes) = fit_estimators(points, cfg, Some(&main), tick);
    let tests = trend_tests(
        estimators
            .iter()
            .map(|f| (format!("trend, {}", f.estimator.label()), f)),
        Vec::new(),
    );
    Ok(TrendReport {
        file: file.to_string(),
        n_points: points.len(),
        n_censored: main.n_censored,
        estimators,
        tests,
        notes,
        test_size: ["capability", "five-benchmark"]
            .into_iter()
            .filter_map(|scale| measured_size(scale, &main.estimator.label()))
            .collect(),
    })
}

/// Read a trend table `model,family,release_date,rho,censor` (censor: empty,
/// `lower_bound` for ρ > rho, `upper_bound` for ρ < rho, `undetermined` with
/// rho empty; the column may be left out when nothing is censored). A
/// `densing run` densities.csv reads as it is: its `rho_censor` column is the
/// censor, and where an `in_trend` column exists only the rows it flags are
/// the trend's. Every bad row is an error naming the file, line and field.
pub fn read_trend_table(path: &Path) -> Result<Vec<TrendPoint>> {
    trend_points_from(&Table::read(path)?)
}

/// Trend points from a parsed trend table (see [`read_trend_table`]).
pub fn trend_points_from(table: &Table) -> Result<Vec<TrendPoint>> {
    table.require(&["model", "family", "release_date", "rho"])?;
    let censor = if table.has("censor") {
        "censor"
    } else {
        "rho_censor"
    };
    let mut points = Vec::new();
    for row in table.rows() {
        if table.has("in_trend") && !row.flag("in_trend")? {
            continue;
        }
        let release =
            parse_date(row.required("release_date")?).map_err(|m| row.error("release_date", m))?;
        let kind = row.text(censor).map(str::to_ascii_lowercase);
        let ln_rho = match kind.as_deref() {
            None => Bounded::Value(row.positive("rho")?.ln()),
            Some("lower_bound") => Bounded::AtLeast(row.positive("rho")?.ln()),
            Some("upper_bound") => Bounded::AtMost(row.positive("rho")?.ln()),
            Some("undetermined") => Bounded::Undetermined,
            Some(other) => {
                return Err(row.error(
                    censor,
                    format!(
                        "`{other}` is not empty, lower_bound (ρ > rho), upper_bound (ρ < rho) or undetermined"
                    ),
                ))
            }
        };
        points.push(TrendPoint {
            name: row.required("model")?.to_string(),
            family: row.required("family")?.to_string(),
            t: days_since_origin(release),
            ln_rho,
            ln_rho_replicates: Vec::new(),
        });
    }
    if points.is_empty() {
        return Err(Error::file(&table.name, "no trend rows"));
    }
    Ok(points)
}
