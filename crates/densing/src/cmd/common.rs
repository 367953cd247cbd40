//! Options shared by `run`, `density`, `models` and `simulate`: where the
//! registry comes from, which calibration to build, how the trend is estimated,
//! and how outputs are written.

use crate::outputs::Outputs;
use anyhow::Result;
use clap::{Args, ValueEnum};
use densing_analysis::{density_options, limits, CalibrationSpec, Reference};
use densing_core::calibration::Uncertainty;
use densing_core::data::{read_anchors, read_ladder};
use densing_core::density::DensityOptions;
use densing_core::law::LossForm;
use densing_core::registry::{Benchmark, ParamsBasis, Registry, RowPolicy};
use densing_core::trend::inference::DEFAULT_PERMUTATIONS;
use densing_core::trend::{EstimatorKind, TrendConfig};
use std::path::{Path, PathBuf};

#[derive(Args, Clone)]
pub struct RegistryArgs {
    /// Your own registry file, layered on the bundled registry (repeatable, in
    /// order): a models CSV with the bundled models.csv's columns, or a scores
    /// CSV (model,benchmark,shots,protocol,value,source). A later row with the
    /// same model name (or model, benchmark and protocol) replaces the earlier one.
    #[arg(long)]
    pub registry: Vec<PathBuf>,
    /// Leave out registry rows that break a rule of `densing models check`
    /// (each listed as a warning on stderr and in the run's summary and report)
    /// instead of refusing the registry at the first one.
    #[arg(long)]
    pub lenient: bool,
    /// Use only the --registry files' models and scores, not the bundled ones
    /// (the bundled benchmark catalog still defines the benchmarks).
    #[arg(long, requires = "registry")]
    pub no_bundled: bool,
}

impl RegistryArgs {
    /// The layered registry; each replacement is said on stderr, and each
    /// row `--lenient` dropped.
    pub fn load(&self) -> Result<Registry> {
        let policy = if self.lenient {
            RowPolicy::Lenient
        } else {
            RowPolicy::Strict
        };
        let reg = if self.no_bundled {
            Registry::from_files(&self.registry, policy)?
        } else {
            Registry::layered_with(&self.registry, policy)?
        };
        for r in &reg.replacements {
            eprintln!("note: {r}");
        }
        for d in &reg.dropped {
            eprintln!("warning: --lenient: {d}");
        }
        Ok(reg)
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Basis {
    Total,
    Nonemb,
    Active,
}

impl From<Basis> for ParamsBasis {
    fn from(b: Basis) -> Self {
        match b {
            Basis::Total => ParamsBasis::Total,
            Basis::Nonemb => ParamsBasis::Nonemb,
            Basis::Active => ParamsBasis::Active,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Form {
    /// L = a·N^-α + b·D^-β (the Densing paper, eq. 2).
    Paper,
    /// L = E + A·N^-α + B·D^-β (Hoffmann et al.).
    Chinchilla,
}

impl From<Form> for LossForm {
    fn from(f: Form) -> Self {
        match f {
            Form::Paper => LossForm::Paper,
            Form::Chinchilla => LossForm::Chinchilla,
        }
    }
}

#[derive(Args, Clone)]
pub struct CalibrationArgs {
    /// Reference family in the registry (reference-family calibration).
    #[arg(long, default_value = "Qwen2.5")]
    pub reference: String,
    /// Ladder CSV for a two-step calibration (with --anchors; overrides --reference).
    #[arg(long, requires = "anchors")]
    pub ladder: Option<PathBuf>,
    /// Anchors CSV for a two-step calibration (column `task` names the benchmark).
    #[arg(long, requires = "ladder")]
    pub anchors: Option<PathBuf>,
    /// The ladder task whose loss the loss law is fitted on, for a ladder with
    /// several tasks (such as `densing predict`'s checkpoint ladders).
    #[arg(long, requires = "ladder")]
    pub ladder_task: Option<String>,
    /// Loss-law form of a two-step calibration.
    #[arg(long, value_enum, default_value = "paper")]
    pub form: Form,
    /// Training tokens at which a two-step calibration reads off N̂.
    #[arg(long, default_value_t = 1e12, value_parser = positive)]
    pub d0: f64,
    /// Benchmark of anchors that have no `task` column.
    #[arg(long)]
    pub benchmark: Option<String>,
    /// Parameter basis densities are computed against (the count itself is
    /// `--params` where a command takes one).
    #[arg(long, value_enum, default_value = "nonemb")]
    pub basis: Basis,
    /// Benchmarks used (comma-separated ids from data/benchmarks.csv; a
    /// reference family calibrates those it reports at ≥ 4 sizes).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "mmlu,bbh,math,humaneval,mbpp"
    )]
    pub benchmarks: Vec<String>,
    /// Models with fewer benchmarks are reported but kept out of the trend.
    #[arg(long, default_value_t = 4)]
    pub min_benchmarks: usize,
    /// Let chat-tuned releases into the trend (default: base models only).
    #[arg(long)]
    pub include_chat: bool,
    /// Bootstrap replicates carried from the calibration to ρ and the trend
    /// (at most 100000; a memory preflight refuses what would not fit).
    #[arg(long, default_value_t = 1000, value_parser = bootstrap_count)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 20241205)]
    pub seed: u64,
}

impl CalibrationArgs {
    pub fn uncertainty(&self) -> Uncertainty {
        Uncertainty {
            replicates: self.bootstrap,
            seed: self.seed,
        }
    }

    pub fn options(&self) -> Result<DensityOptions> {
        Ok(density_options(
            self.basis.into(),
            &self.benchmarks,
            self.min_benchmarks,
            self.include_chat,
        )?)
    }

    /// The calibration these options ask for (reads the ladder and anchors files).
    pub fn spec(&self) -> Result<CalibrationSpec> {
        let reference = match (&self.ladder, &self.anchors) {
            (Some(l), Some(a)) => {
                let default_benchmark = self
                    .benchmark
                    .as_deref()
                    .map(Benchmark::parse)
                    .transpose()?;
                let mut ladder = read_ladder(l)?;
                if let Some(task) = &self.ladder_task {
                    ladder.retain(|p| p.task.as_deref() == Some(task.as_str()));
                    if ladder.is_empty() {
                        anyhow::bail!("{}: no rows of --ladder-task `{task}`", l.display());
                    }
                }
                Reference::TwoStep {
                    ladder,
                    anchors: read_anchors(a)?,
                    form: self.form.into(),
                    default_benchmark,
                }
            }
            _ => Reference::Family(self.reference.clone()),
        };
        Ok(CalibrationSpec {
            reference,
            d0: self.d0,
            uncertainty: self.uncertainty(),
        })
    }
}

/// Write one file atomically through [`Outputs`]: a temporary beside it, then
/// a rename, so readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = Outputs::new();
    out.write(path, bytes)?;
    out.commit()
}

/// `--bootstrap` and `--permutations` as clap reads them: a whole number up to
/// the documented maximum (a larger one is refused before any work).
pub fn bootstrap_count(s: &str) -> std::result::Result<usize, String> {
    count_at_most(s, limits::MAX_BOOTSTRAP)
}

pub fn permutation_count(s: &str) -> std::result::Result<usize, String> {
    count_at_most(s, limits::MAX_PERMUTATIONS)
}

pub fn count_at_most(s: &str, max: usize) -> std::result::Result<usize, String> {
    let v: i128 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if v < 0 {
        return Err(format!("must be ≥ 0, got {v}"));
    }
    if v > max as i128 {
        return Err(format!("{v} exceeds the maximum {max}"));
    }
    Ok(v as usize)
}

/// A count of at least 1 (requests in flight, items per call), at most
/// [`limits::MAX_CONCURRENCY`].
pub fn concurrency_count(s: &str) -> std::result::Result<usize, String> {
    match count_at_most(s, limits::MAX_CONCURRENCY)? {
        0 => Err("must be at least 1".into()),
        v => Ok(v),
    }
}

/// A positive finite number (a size, a token count, a duration, a Huber δ):
/// negative numbers are read as numbers, then refused.
pub fn positive(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if !(v > 0.0 && v.is_finite()) {
        return Err(format!("must be a positive finite number, got {v}"));
    }
    Ok(v)
}

/// A number in [0, 1] (a score as a fraction).
pub fn fraction(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!(
            "{v} is outside [0, 1] (a score as a fraction, not percent)"
        ));
    }
    Ok(v)
}

/// Text that is not empty or blank (a model name, a family, a source).
pub fn non_empty(s: &str) -> std::result::Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    Ok(s.to_string())
}

/// `--params` where it no longer names the basis (`run`, `simulate`): kept
/// hidden so the old spelling gets a clear error instead of a silent change.
#[derive(Args, Clone)]
pub struct RenamedBasis {
    #[arg(long = "params", hide = true, value_name = "BASIS")]
    pub params: Option<String>,
}

impl RenamedBasis {
    pub fn check(&self) -> Result<()> {
        if let Some(v) = &self.params {
            anyhow::bail!(
                "--params {v}: the parameter basis is now --basis (total, nonemb or active); --params is the parameter count where a command takes one"
            );
        }
        Ok(())
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EstimatorArg {
    /// Quantile regression that keeps models known only as ρ > bound.
    CensoredQuantile,
    /// Quantile regression on the models with numeric densities.
    Quantile,
    /// The paper's least squares on the running-max envelope.
    Envelope,
}

/// How the trend is estimated and tested (`run`, `density`, `simulate`).
#[derive(Args, Clone)]
pub struct TrendArgs {
    /// Trend estimator; the default is the one whose intervals and test were
    /// best calibrated in `densing simulate` (see README).
    #[arg(long, value_enum, default_value = "censored-quantile")]
    pub estimator: EstimatorArg,
    /// Quantile of ln ρ the quantile estimators fit (the frontier).
    #[arg(long, default_value_t = 0.9)]
    pub quantile: f64,
    /// Release-date permutations for the trend's p-value (0: no test; at most
    /// 100000).
    #[arg(long, default_value_t = DEFAULT_PERMUTATIONS, value_parser = permutation_count)]
    pub permutations: usize,
}

impl TrendArgs {
    pub fn estimator(&self) -> Result<EstimatorKind> {
        let name = match self.estimator {
            EstimatorArg::CensoredQuantile => "censored-quantile",
            EstimatorArg::Quantile => "quantile",
            EstimatorArg::Envelope => "envelope",
        };
        EstimatorKind::from_name(name, self.quantile).map_err(|e| anyhow::anyhow!("--{e}"))
    }

    pub fn config(&self, replicates: usize, seed: u64) -> Result<TrendConfig> {
        Ok(TrendConfig {
            estimator: self.estimator()?,
            replicates,
            permutations: self.permutations,
            seed,
        })
    }
}
