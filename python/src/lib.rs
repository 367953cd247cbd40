//! `densing._densing`, the native half of the Python package: options in, the
//! library's own serde output out (JSON text, CSV bytes), so every field the
//! library adds reaches Python unchanged. `python/densing/__init__.py` turns
//! it into dicts and pandas frames.
//!
//! Every call releases the GIL while it computes and catches panics at this
//! edge: a Rust error becomes the matching `densing.DensingError` subclass with
//! the library's message, a panic becomes `densing.InternalError`.

use densing_analysis::{
    basis_from_name, densities_csv, density_options, fit, form_from_name, parse_scores, place,
    prices_from, read_lm_eval, report_input, run_scaled, Analysis, CalibrationSpec, Reference,
    RunOptions, Scale, ScaleOptions,
};
use densing_core::calibration::Uncertainty;
use densing_core::data::{parse_anchors, parse_ladder};
use densing_core::registry::{parse_date, Benchmark, Registry};
use densing_core::table::Table;
use densing_core::trend::{EstimatorKind, TrendConfig};
use densing_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

create_exception!(
    densing,
    DensingError,
    PyException,
    "Any error densing reports, with the library's message."
);
create_exception!(
    densing,
    FieldError,
    DensingError,
    "A value in a data file or frame is wrong: `file:line: field `name`: message` (attributes file, line, field, reason)."
);
create_exception!(
    densing,
    FileError,
    DensingError,
    "A whole file or frame is wrong: unreadable, a missing column, too few rows (attributes file, reason)."
);
create_exception!(
    densing,
    FitError,
    DensingError,
    "A fit could not be carried out (bad configuration, degenerate data)."
);
create_exception!(
    densing,
    OptionError,
    DensingError,
    "A request that makes no sense: unknown family or benchmark, bad option value."
);
create_exception!(
    densing,
    InternalError,
    DensingError,
    "A bug in densing: a Rust panic caught at the Python boundary."
);

/// The Python exception for a library error, with the same message; field and
/// file errors also carry their parts as attributes.
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.to_string();
    let err = match &e {
        Error::Field { .. } => FieldError::new_err(msg),
        Error::File { .. } => FileError::new_err(msg),
        Error::Fit(_) => FitError::new_err(msg),
        Error::Invalid(_) => OptionError::new_err(msg),
    };
    let v = err.value(py);
    let attrs = match e {
        Error::Field {
            file,
            line,
            field,
            msg,
        } => v
            .setattr("file", file)
            .and_then(|_| v.setattr("line", line))
            .and_then(|_| v.setattr("field", field))
            .and_then(|_| v.setattr("reason", msg)),
        Error::File { file, msg } => v
            .setattr("file", file)
            .and_then(|_| v.setattr("reason", msg)),
        Error::Fit(_) | Error::Invalid(_) => Ok(()),
    };
    // Attributes on a fresh exception instance can only fail on a bug in Python.
    attrs.map_or_else(|failed| failed, |()| err)
}

/// Run `f` without the GIL; library errors and panics become Python exceptions.
fn guarded<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> densing_core::Result<T> + Send,
) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(py, e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(InternalError::new_err(format!(
                "internal error in densing (please report it): {what}"
            )))
        }
    }
}

/// A CSV input: a path, or `(name, text)` (a DataFrame written out by the
/// Python side; messages then say `name:line`, line 1 being the header).
#[derive(FromPyObject)]
enum TableArg {
    Text(String, String),
    Path(PathBuf),
}

impl TableArg {
    fn table(&self) -> densing_core::Result<Table> {
        match self {
            TableArg::Text(name, text) => Table::parse(name, text),
            TableArg::Path(p) => Table::read(p),
        }
    }

    fn name(&self) -> String {
        match self {
            TableArg::Text(name, _) => name.clone(),
            TableArg::Path(p) => p.display().to_string(),
        }
    }
}

/// The calibration and density options shared by `run` and `density`, as one
/// dict whose defaults live in the Python signatures (those of the CLI flags).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct CalArgs {
    reference: String,
    basis: String,
    benchmarks: Vec<String>,
    min_benchmarks: usize,
    include_chat: bool,
    bootstrap: usize,
    seed: u64,
    ladder: Option<TableArg>,
    anchors: Option<TableArg>,
    form: String,
    d0: f64,
    benchmark: Option<String>,
    estimator: String,
    quantile: f64,
    permutations: usize,
}

impl CalArgs {
    fn spec(&self) -> densing_core::Result<CalibrationSpec> {
        let reference = match (&self.ladder, &self.anchors) {
            (Some(l), Some(a)) => Reference::TwoStep {
                default_benchmark: self
                    .benchmark
                    .as_deref()
                    .map(Benchmark::parse)
                    .transpose()?,
                ladder: parse_ladder(&l.table()?)?,
                anchors: parse_anchors(&a.table()?)?,
                form: form_from_name(&self.form)?,
            },
            (None, None) => Reference::Family(self.reference.clone()),
            _ => {
                return Err(Error::Invalid(
                    "a two-step calibration needs both ladder and anchors".into(),
                ))
            }
        };
        Ok(CalibrationSpec {
            reference,
            d0: self.d0,
            uncertainty: Uncertainty {
                replicates: self.bootstrap,
                seed: self.seed,
            },
        })
    }

    /// The trend's estimator, bootstrap and permutation test.
    fn trend(&self) -> densing_core::Result<TrendConfig> {
        Ok(TrendConfig {
            estimator: EstimatorKind::from_name(&self.estimator, self.quantile)?,
            replicates: self.bootstrap,
            permutations: self.permutations,
            seed: self.seed,
        })
    }

    fn options(&self) -> densing_core::Result<densing_core::density::DensityOptions> {
        density_options(
            basis_from_name(&self.basis)?,
            &self.benchmarks,
            self.min_benchmarks,
            self.include_chat,
        )
    }
}

/// A validated model registry.
#[pyclass(name = "_Registry", module = "densing._densing", frozen)]
struct PyRegistry {
    inner: Registry,
}

#[pymethods]
impl PyRegistry {
    /// The registry bundled with densing (data/models.csv).
    #[staticmethod]
    fn bundled(py: Python<'_>) -> PyResult<Self> {
        guarded(py, Registry::bundled).map(|inner| PyRegistry { inner })
    }

    /// A path: the bundled registry with that models or scores file layered on
    /// top (as `--registry`); `(name, text)`: a models table on its own.
    #[staticmethod]
    fn load(py: Python<'_>, source: TableArg) -> PyResult<Self> {
        guarded(py, || match &source {
            TableArg::Text(name, text) => Registry::parse(name, text),
            TableArg::Path(p) => Registry::layered(std::slice::from_ref(p)),
        })
        .map(|inner| PyRegistry { inner })
    }

    /// This registry with the table `(name, text)` layered on top: model rows
    /// replace same-named models, score rows attach to known models.
    fn layer(&self, py: Python<'_>, name: &str, text: &str) -> PyResult<Self> {
        guarded(py, || {
            let mut inner = self.inner.clone();
            inner.layer(&Table::parse(name, text)?)?;
            inner.finish()?;
            Ok(inner)
        })
        .map(|inner| PyRegistry { inner })
    }

    /// The models in the bundled models.csv's columns (scores in percent).
    fn wide_csv(&self, py: Python<'_>) -> PyResult<String> {
        guarded(py, || self.inner.wide_csv())
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    fn __len__(&self) -> usize {
        self.inner.models.len()
    }

    fn families(&self) -> Vec<String> {
        self.inner
            .families()
            .into_iter()
            .map(String::from)
            .collect()
    }
}

/// A finished analysis.
#[pyclass(name = "_Analysis", module = "densing._densing", frozen)]
struct PyAnalysis {
    inner: Analysis,
}

#[pymethods]
impl PyAnalysis {
    /// The summary exactly as `densing run --json` prints it.
    fn summary_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.summary)
            .map_err(|e| InternalError::new_err(e.to_string()))
    }

    /// densities.csv, byte for byte as `densing run` writes it.
    fn densities_csv<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = guarded(py, || densities_csv(&self.inner.study))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// report.json: the report's plain-data input.
    fn report_input_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&report_input(&self.inner))
            .map_err(|e| InternalError::new_err(e.to_string()))
    }

    /// Write the figures and report.html into `folder` (`format`: svg, png or
    /// both); returns the files written, the page last.
    fn write_report(
        &self,
        py: Python<'_>,
        folder: PathBuf,
        format: &str,
    ) -> PyResult<Vec<PathBuf>> {
        let format = match format {
            "svg" => densing_report::Format::Svg,
            "png" => densing_report::Format::Png,
            "both" => densing_report::Format::Both,
            other => {
                return Err(OptionError::new_err(format!(
                    "format `{other}` is not svg, png or both"
                )))
            }
        };
        let input = report_input(&self.inner);
        guarded(py, || {
            densing_report::write_report(&input, &folder, format)
                .map_err(|e| Error::file(&folder, e.to_string()))
        })
    }
}

/// The given registry, or the bundled one.
fn registry_or_bundled(registry: Option<&PyRegistry>) -> densing_core::Result<Cow<'_, Registry>> {
    match registry {
        Some(r) => Ok(Cow::Borrowed(&r.inner)),
        None => Registry::bundled().map(Cow::Owned),
    }
}

/// The whole analysis (`densing run`).
#[pyfunction]
#[pyo3(signature = (registry, cal, split_at, hardware_doubling_years, prices, sweep, alt_benchmarks, scale))]
#[allow(clippy::too_many_arguments)]
fn run_analysis(
    py: Python<'_>,
    registry: Option<&PyRegistry>,
    cal: CalArgs,
    split_at: Option<String>,
    hardware_doubling_years: f64,
    prices: Option<TableArg>,
    sweep: bool,
    alt_benchmarks: Vec<String>,
    scale: Option<String>,
) -> PyResult<PyAnalysis> {
    let inner = guarded(py, || {
        let reg = registry_or_bundled(registry)?;
        let opts = RunOptions {
            density: cal.options()?,
            calibration: cal.spec()?,
            split_at: split_at
                .as_deref()
                .map(|d| parse_date(d).map_err(|m| Error::Invalid(format!("split_at: {m}"))))
                .transpose()?,
            hardware_doubling_years,
            prices: prices
                .as_ref()
                .map(|p| prices_from(&p.table()?))
                .transpose()?,
            sweep,
            alt_benchmarks: alt_benchmarks
                .iter()
                .map(|b| Benchmark::parse(b))
                .collect::<densing_core::Result<Vec<_>>>()?,
            estimator: cal.trend()?.estimator,
            permutations: cal.permutations,
        };
        // As `densing run --scale`: capability unless a two-step ladder is given.
        let scale = match scale.as_deref() {
            Some(name) => Scale::from_name(name)?,
            None if cal.ladder.is_some() => Scale::FiveBenchmark,
            None => Scale::Capability,
        };
        let sc = ScaleOptions {
            scale,
            capability: Default::default(),
            compare: false,
        };
        run_scaled(&reg, &opts, &sc, &|| {})
    })?;
    Ok(PyAnalysis { inner })
}

/// The capability scale (`densing capability --json`); JSON text.
#[pyfunction]
#[pyo3(signature = (registry, reference, min_benchmarks, protocols, basis, bootstrap, seed))]
#[allow(clippy::too_many_arguments)]
fn capability_report(
    py: Python<'_>,
    registry: Option<&PyRegistry>,
    reference: String,
    min_benchmarks: usize,
    protocols: String,
    basis: String,
    bootstrap: usize,
    seed: u64,
) -> PyResult<String> {
    guarded(py, || {
        let reg = registry_or_bundled(registry)?;
        let opts = densing_core::capability::CapabilityOptions {
            protocols: densing_core::capability::Protocols::from_name(&protocols)?,
            min_benchmarks,
            replicates: bootstrap,
            seed,
            basis: basis_from_name(&basis)?,
            ..Default::default()
        };
        let a = densing_analysis::capability::capability(&reg, &reference, opts)?;
        serde_json::to_string(&a.report).map_err(|e| Error::Invalid(e.to_string()))
    })
}

/// Place one new model against the registry (`densing density`); JSON text.
#[pyfunction]
#[pyo3(signature = (registry, cal, name, params, date, tokens, scores, lm_eval))]
#[allow(clippy::too_many_arguments)]
fn place_model(
    py: Python<'_>,
    registry: Option<&PyRegistry>,
    cal: CalArgs,
    name: String,
    params: f64,
    date: String,
    tokens: Option<f64>,
    scores: Option<BTreeMap<String, f64>>,
    lm_eval: Option<PathBuf>,
) -> PyResult<String> {
    guarded(py, || {
        let release = parse_date(&date).map_err(|m| Error::Invalid(format!("date: {m}")))?;
        let (scores, read) = match (&lm_eval, &scores) {
            (Some(p), None) => read_lm_eval(p)?,
            (None, Some(s)) => {
                let items: Vec<String> = s.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (parse_scores(&items, None, None, "user input")?, Vec::new())
            }
            _ => {
                return Err(Error::Invalid(
                    "give either scores (percent, by benchmark) or lm_eval (a results file)".into(),
                ))
            }
        };
        let reg = registry_or_bundled(registry)?;
        let model = densing_analysis::new_model(&name, params, tokens, release, scores)?;
        let placed = place(&reg, &cal.spec()?, &cal.options()?, &cal.trend()?, &model)?;
        let mut v = serde_json::to_value(&placed).map_err(|e| Error::Fit(e.to_string()))?;
        v["scores_read"] = serde_json::json!(read);
        Ok(v.to_string())
    })
}

/// Fit the loss law on a ladder (`densing fit loss`): its JSON text and the
/// parameter names in the law's order (the JSON's keys are sorted).
#[pyfunction]
#[pyo3(signature = (data, form, drop_highest, delta, bootstrap, seed))]
fn fit_loss(
    py: Python<'_>,
    data: TableArg,
    form: &str,
    drop_highest: usize,
    delta: f64,
    bootstrap: usize,
    seed: u64,
) -> PyResult<(String, Vec<String>)> {
    guarded(py, || {
        let form = form_from_name(form)?;
        let points = parse_ladder(&data.table()?)?;
        let boot = fit::FitBootstrap {
            replicates: bootstrap,
            seed,
        };
        let f = fit::fit_loss(
            &data.name(),
            points,
            form,
            drop_highest,
            delta,
            boot,
            &|| {},
        )?;
        Ok((f.to_value().to_string(), f.report.names))
    })
}

/// Fit the score map on anchors (`densing fit score`), as [`fit_loss`].
#[pyfunction]
#[pyo3(signature = (data, bootstrap, seed))]
fn fit_score(
    py: Python<'_>,
    data: TableArg,
    bootstrap: usize,
    seed: u64,
) -> PyResult<(String, Vec<String>)> {
    guarded(py, || {
        let anchors = parse_anchors(&data.table()?)?;
        let boot = fit::FitBootstrap {
            replicates: bootstrap,
            seed,
        };
        let f = fit::fit_score(&data.name(), anchors, boot, &|| {})?;
        Ok((f.to_value().to_string(), f.report.names))
    })
}

/// Predict from a ladder (`densing predict`): the `--json` document and
/// `predictions.csv` as text. `ladder` None is the bundled OLMo-2 ladder;
/// `targets` are `NAME=N:D`.
#[pyfunction]
#[pyo3(signature = (ladder, targets, tasks, runs, exclude, final_window, skip, smooth, bootstrap, seed, backtest_largest))]
#[allow(clippy::too_many_arguments)]
fn predict_ladder(
    py: Python<'_>,
    ladder: Option<TableArg>,
    targets: Vec<String>,
    tasks: Vec<String>,
    runs: Vec<String>,
    exclude: Vec<String>,
    final_window: usize,
    skip: f64,
    smooth: usize,
    bootstrap: usize,
    seed: u64,
    backtest_largest: bool,
) -> PyResult<(String, String)> {
    use densing_analysis::predict::{parse_target, predict, PredictSpec};
    guarded(py, || {
        let spec = PredictSpec {
            ladder: ladder.as_ref().map(TableArg::table).transpose()?,
            targets: targets
                .iter()
                .map(|t| parse_target(t))
                .collect::<densing_core::Result<_>>()?,
            tasks,
            runs,
            exclude,
            settings: densing_core::predict::Settings {
                window: final_window,
                skip,
                smooth,
            },
            bootstrap,
            seed,
            backtest_largest,
        };
        let outcome = predict(&spec, &|| {})?;
        Ok((
            outcome.to_json(&spec).to_string(),
            outcome.predictions_csv()?,
        ))
    })
}

/// Panic on purpose, so the tests can check that a panic surfaces as
/// `densing.InternalError` and never crosses the boundary.
#[pyfunction]
fn _panic_for_test(py: Python<'_>) -> PyResult<()> {
    guarded(py, || -> densing_core::Result<()> {
        panic!("deliberate panic for the test")
    })
}

#[pymodule]
fn _densing(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("DensingError", py.get_type::<DensingError>())?;
    m.add("FieldError", py.get_type::<FieldError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("FitError", py.get_type::<FitError>())?;
    m.add("OptionError", py.get_type::<OptionError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add_class::<PyRegistry>()?;
    m.add_class::<PyAnalysis>()?;
    m.add_function(wrap_pyfunction!(run_analysis, m)?)?;
    m.add_function(wrap_pyfunction!(place_model, m)?)?;
    m.add_function(wrap_pyfunction!(capability_report, m)?)?;
    m.add_function(wrap_pyfunction!(fit_loss, m)?)?;
    m.add_function(wrap_pyfunction!(fit_score, m)?)?;
    m.add_function(wrap_pyfunction!(predict_ladder, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
