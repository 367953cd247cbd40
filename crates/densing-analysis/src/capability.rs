//! The capability scale as the CLI, the run and Python use it: the fit, the
//! per-model and per-benchmark tables, every model × benchmark prediction, and
//! densities in the shape the trend takes ([`ModelDensity`]).

use densing_core::capability::{
    eligible_families, CapDensity, Capability, CapabilityOptions, RefMap, RefMembers, Variant,
};
use densing_core::density::{Bounded, ModelDensity};
use densing_core::registry::{Benchmark, Registry};
use densing_core::{Error, Result};
use serde::Serialize;

/// One model's row of `densing capability --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    pub model: String,
    pub family: String,
    pub release_date: String,
    pub base: bool,
    pub params_b: f64,
    pub theta: f64,
    pub theta_ci95: Option<[f64; 2]>,
    pub n_hat_b: f64,
    pub n_hat_ci95: Option<[f64; 2]>,
    pub rho: f64,
    pub rho_ci95: Option<[f64; 2]>,
    pub n_benchmarks: usize,
    pub benchmarks: Vec<String>,
    pub extrapolated: bool,
    pub flags: Vec<String>,
}

/// A difficulty offset of a non-standard protocol class.
#[derive(Debug, Clone, Serialize)]
pub struct OffsetRow {
    pub protocol: Variant,
    pub offset: f64,
    pub n_scores: usize,
}

/// One benchmark's row: slope a_b, difficulty d_b, chance c_b (percent).
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub name: String,
    pub slope: f64,
    pub difficulty: f64,
    pub chance: f64,
    pub n_scores: usize,
    pub offsets: Vec<OffsetRow>,
}

/// A fitted score (percent) and the registry's own, where it has one.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub model: String,
    pub benchmark: String,
    pub predicted: f64,
    pub observed: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Excluded {
    pub model: String,
    pub reason: String,
}

/// Everything `densing capability` reports.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilityReport {
    /// The reference family and its line θ = α + β ln N.
    pub reference: RefMap,
    pub params_basis: String,
    pub protocols: String,
    pub min_benchmarks: usize,
    pub n_scores: usize,
    pub objective: f64,
    pub sweeps: usize,
    pub replicates: usize,
    pub replicates_unconverged: usize,
    /// Replicates whose resample of the reference's sizes had no increasing
    /// map: every model's N̂ and ρ are undetermined there and left out of the
    /// intervals.
    pub replicates_without_ruler: usize,
    /// Families with ≥ 4 base sizes that could be the reference.
    pub eligible_references: Vec<String>,
    pub models: Vec<ModelRow>,
    pub benchmarks: Vec<BenchRow>,
    pub predictions: Vec<Prediction>,
    pub excluded: Vec<Excluded>,
}

/// A fitted scale with its densities against one reference.
pub struct CapabilityAnalysis {
    pub fit: Capability,
    pub map: RefMap,
    pub densities: Vec<CapDensity>,
    pub report: CapabilityReport,
}

/// Fit the scale on `reg` and read it against `reference` (its own size
/// resamples only: intervals conditional on that ruler).
pub fn capability(
    reg: &Registry,
    reference: &str,
    opts: CapabilityOptions,
) -> Result<CapabilityAnalysis> {
    let fit = Capability::from_registry(reg, opts)?;
    let members = RefMembers::of(reg, &fit.data, reference, opts.basis)?;
    let (map, densities) = fit.densities(reg, &members, std::slice::from_ref(&members))?;
    let report = report(reg, &fit, &map, &densities)?;
    Ok(CapabilityAnalysis {
        fit,
        map,
        densities,
        report,
    })
}

fn report(
    reg: &Registry,
    fit: &Capability,
    map: &RefMap,
    densities: &[CapDensity],
) -> Result<CapabilityReport> {
    let data = &fit.data;
    let p = &fit.params;
    let count = |pred: &dyn Fn(usize) -> bool| data.cells.iter().filter(|c| pred(c.item)).count();
    let benchmarks = data
        .benches
        .iter()
        .enumerate()
        .map(|(b, bench)| BenchRow {
            name: bench.name.clone(),
            slope: p.ln_a[b].exp(),
            difficulty: p.d[b],
            chance: 100.0 * bench.chance,
            n_scores: count(&|it| data.items[it].bench == b),
            offsets: data
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.bench == b && it.has_offset)
                .map(|(i, it)| OffsetRow {
                    protocol: it.variant,
                    offset: p.offset[i],
                    n_scores: count(&|x| x == i),
                })
                .collect(),
        })
        .collect();
    let mut names: Vec<&str> = data.items.iter().map(|i| i.benchmark.as_str()).collect();
    names.sort_by_key(|n| Benchmark::parse(n).map(|b| b.index()).unwrap_or(usize::MAX));
    names.dedup();
    let mut predictions = Vec::with_capacity(names.len() * data.models.len());
    for (m, name) in data.models.iter().enumerate() {
        let model = reg
            .get(name)
            .ok_or_else(|| Error::Invalid(format!("model `{name}` is not in the registry")))?;
        for &b in &names {
            let observed = Benchmark::parse(b)
                .ok()
                .and_then(|k| model.score(k))
                .map(|v| 100.0 * v);
            predictions.push(Prediction {
                model: name.clone(),
                benchmark: b.to_string(),
                predicted: 100.0 * fit.predict(m, b).unwrap_or(f64::NAN),
                observed,
            });
        }
    }
    Ok(CapabilityReport {
        reference: map.clone(),
        params_basis: densing_core::calibration::basis_name(fit.opts.basis).into(),
        protocols: fit.opts.protocols.key().into(),
        min_benchmarks: fit.opts.min_benchmarks,
        n_scores: data.cells.len(),
        objective: fit.solve.objective,
        sweeps: fit.solve.sweeps,
        replicates: fit.theta_reps.len(),
        replicates_unconverged: fit.unconverged,
        replicates_without_ruler: densities.first().map_or(0, |d| {
            d.ln_rho_replicates
                .iter()
                .filter(|r| **r == Bounded::Undetermined)
                .count()
        }),
        eligible_references: eligible_families(reg, data, fit.opts.basis),
        models: densities.iter().map(model_row).collect(),
        benchmarks,
        predictions,
        excluded: data
            .excluded
            .iter()
            .map(|(model, reason)| Excluded {
                model: model.clone(),
                reason: reason.clone(),
            })
            .collect(),
    })
}

fn model_row(d: &CapDensity) -> ModelRow {
    ModelRow {
        model: d.model.clone(),
        family: d.family.clone(),
        release_date: d.release.to_string(),
        base: d.base,
        params_b: d.params_b,
        theta: d.theta,
        theta_ci95: d.theta_ci95,
        n_hat_b: d.n_hat_b,
        n_hat_ci95: d.n_hat_ci95,
        rho: d.rho,
        rho_ci95: d.rho_ci95,
        n_benchmarks: d.n_benchmarks,
        benchmarks: d.benchmarks.clone(),
        extrapolated: d.extrapolated,
        flags: d.flags.clone(),
    }
}

/// Which capability densities enter a trend.
#[derive(Debug, Clone, Copy)]
pub struct TrendFilter {
    pub min_benchmarks: usize,
    pub include_chat: bool,
    pub fig1_only: bool,
}

/// Capability densities in the trend's shape: never censored (θ always has a
/// value), ln ρ per replicate carried for the trend's bootstrap. Each model's
/// own interval comes from `intervals` (the same model read through one fixed
/// ruler): replicates pooled over rulers mix the rulers' levels, which the
/// trend's slope does not see but a single model's ρ does.
pub fn as_model_densities(
    reg: &Registry,
    densities: &[CapDensity],
    intervals: &[CapDensity],
    filter: TrendFilter,
) -> Vec<ModelDensity> {
    densities
        .iter()
        .zip(intervals)
        .map(|(d, fixed)| {
            let source = reg
                .get(&d.model)
                .map(|m| m.source.clone())
                .unwrap_or_default();
            let mut flags = d.flags.clone();
            let enough = d.n_benchmarks >= filter.min_benchmarks;
            if !enough {
                flags.push(format!(
                    "{} benchmarks < {}",
                    d.n_benchmarks, filter.min_benchmarks
                ));
            }
            ModelDensity {
                name: d.model.clone(),
                family: d.family.clone(),
                release: d.release,
                params_b: d.params_b,
                per_benchmark: Vec::new(),
                n_hat: Bounded::Value(d.n_hat_b),
                n_hat_ci95: fixed.n_hat_ci95,
                rho: Bounded::Value(d.rho),
                rho_ci95: fixed.rho_ci95,
                replicates_censored: 0,
                replicates_undetermined: d
                    .ln_rho_replicates
                    .iter()
                    .filter(|r| **r == Bounded::Undetermined)
                    .count(),
                ci_cut_by_range: false,
                rho_mean_score: Bounded::Undetermined,
                flags,
                in_trend: enough
                    && (filter.include_chat || d.base)
                    && (!filter.fig1_only || d.in_densing_fig1),
                in_densing_fig1: d.in_densing_fig1,
                parent: d.parent.clone(),
                source,
                ln_rho_replicates: d.ln_rho_replicates.clone(),
            }
        })
        .collect()
}

/// Densities against `reference` (the point) with the replicates' rulers
/// drawn in turn from every eligible family, so the ruler's spread is inside
/// the intervals; also the rulers used, and the families with enough sizes
/// whose capability does not rise clearly with size
/// ([`RefMembers::is_ruler`]: not a ruler, reported rather than failing the
/// run).
pub fn pooled_densities(
    reg: &Registry,
    fit: &Capability,
    reference: &str,
) -> Result<(RefMap, Vec<CapDensity>, Vec<String>, Vec<String>)> {
    let point = RefMembers::of(reg, &fit.data, reference, fit.opts.basis)?;
    let (draws, flat): (Vec<RefMembers>, Vec<RefMembers>) =
        eligible_families(reg, &fit.data, fit.opts.basis)
            .iter()
            .map(|f| RefMembers::of(reg, &fit.data, f, fit.opts.basis))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .partition(|m| m.is_ruler(&fit.params.theta));
    let (map, dens) = fit.densities(reg, &point, &draws)?;
    let names = |v: Vec<RefMembers>| v.into_iter().map(|m| m.family).collect::<Vec<_>>();
    Ok((map, dens, names(draws), names(flat)))
}

/// Which densities the trend is fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scale {
    FiveBenchmark,
    Capability,
}

impl Scale {
    pub fn from_name(name: &str) -> Result<Scale> {
        match name {
            "five-benchmark" => Ok(Scale::FiveBenchmark),
            "capability" => Ok(Scale::Capability),
            other => Err(Error::Invalid(format!(
                "scale `{other}`: expected capability or five-benchmark"
            ))),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Scale::FiveBenchmark => "five-benchmark",
            Scale::Capability => "capability",
        }
    }
}

/// The capability side of a run.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub scale: Scale,
    /// Fit options (replicates and seed are the run's).
    pub capability: CapabilityOptions,
    /// Fit the capability scale beside the five-benchmark main scale too
    /// (always done when the capability scale is the main one).
    pub compare: bool,
}

/// One row of the side-by-side table.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    pub scale: String,
    pub reference: String,
    pub n_trend: usize,
    pub n_censored: usize,
    pub doubling_days: f64,
    pub doubling_ci95: Option<[Option<f64>; 2]>,
    pub p_value: Option<f64>,
    /// Trend models released from 2025 on.
    pub n_trend_2025_on: usize,
}

/// The capability trend with one reference family as the ruler.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceRow {
    pub reference: String,
    pub alpha: f64,
    pub beta: f64,
    pub residual_sd: f64,
    pub range_b: (f64, f64),
    pub n_trend: usize,
    /// The trend line ln ρ = A·t + B under this ruler.
    #[serde(rename = "A")]
    pub a: f64,
    #[serde(rename = "B")]
    pub b: f64,
    pub doubling_days: f64,
    pub doubling_ci95: Option<[Option<f64>; 2]>,
    pub p_value: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleComparison {
    pub main: Scale,
    pub rows: Vec<ScaleRow>,
    pub references: Vec<ReferenceRow>,
    /// Doubling times under the eligible references: min and max.
    pub reference_spread_days: Option<(f64, f64)>,
}

/// The capability scale as a run computed it.
#[derive(Debug, Clone)]
pub struct CapabilityRun {
    pub fit: Capability,
    pub map: RefMap,
    /// Against the chosen reference, replicates pooled over eligible families
    /// (the trend's bootstrap).
    pub densities: Vec<CapDensity>,
    /// Against the chosen reference alone (each model's own interval).
    pub fixed: Vec<CapDensity>,
    pub families: Vec<String>,
}
