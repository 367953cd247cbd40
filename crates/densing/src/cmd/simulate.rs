//! `densing simulate`: how well do the trend estimators and their inference
//! work on registries like ours? Draws synthetic registries from a known law
//! on the registry's real design — its trend models' release dates, families
//! and benchmark availability, their calibration draws, its censoring, and
//! heteroscedastic noise estimated from it (see
//! `densing_core::trend::simulate`) — and reports, per estimator and true
//! frontier slope, bias, RMSE, the coverage of the 95% interval (percentile,
//! and BCa beside it) and the share of registries where the permutation test rejects
//! "no trend" at p < 0.05: the test's size at slope 0, its power at the
//! slopes fixed in advance.

use super::common::{
    bootstrap_count, count_at_most, permutation_count, write_atomic, RegistryArgs,
};
use crate::progress;
use anyhow::{Context, Result};
use clap::Args;
use densing_core::calibration::{Calibration, Uncertainty};
use densing_core::density::DensityOptions;
use densing_core::study::{densities, sim_design, trend_points};
use densing_core::trend::simulate::{simulate, SimConfig, SimRow};
use densing_core::trend::{fit_trend, EstimatorKind, TrendConfig};
use std::path::PathBuf;

#[derive(Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Reference family whose range censors the synthetic densities.
    #[arg(long, default_value = "Qwen2.5")]
    pub reference: String,
    /// Synthetic registries per true slope (at most 100000).
    #[arg(long, default_value_t = 500, value_parser = registries_count)]
    pub registries: usize,
    /// True slopes of the frontier (per day); default: 0, the registry's own
    /// estimate (coverage at the real slope), and the doubling times 365, 180
    /// and 95 days (power at slopes fixed in advance).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub slope: Vec<f64>,
    /// Quantile of the quantile estimators.
    #[arg(long, default_value_t = 0.9)]
    pub quantile: f64,
    /// Bootstrap replicates per synthetic registry and estimator (at most 100000).
    #[arg(long, default_value_t = 200, value_parser = bootstrap_count)]
    pub bootstrap: usize,
    /// Permutations per synthetic registry and estimator (at most 100000).
    #[arg(long, default_value_t = 199, value_parser = permutation_count)]
    pub permutations: usize,
    /// Censor synthetic densities this far (ln ρ) beyond the reference's range
    /// instead of the margin that matches the registry's censored count (0:
    /// censor at the range itself, a stress test of the censored estimator).
    #[arg(long)]
    pub censor_margin: Option<f64>,
    #[arg(long, default_value_t = 20241205)]
    pub seed: u64,
    /// Also write the table as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn registries_count(s: &str) -> std::result::Result<usize, String> {
    count_at_most(s, densing_analysis::limits::MAX_REGISTRIES)
}

pub fn run(args: SimulateArgs) -> Result<()> {
    let tau = args.quantile;
    anyhow::ensure!(
        tau > 0.0 && tau < 1.0,
        "--quantile must lie strictly between 0 and 1, got {tau}"
    );
    anyhow::ensure!(args.registries > 0, "--registries must be at least 1");
    let reg = args.registry.load()?;
    let opts = DensityOptions::default();
    // The calibration's own draws, carried into every synthetic registry.
    let draws = Uncertainty {
        replicates: args.bootstrap,
        seed: args.seed,
    };
    let cal = Calibration::family(&reg, &args.reference, opts.basis, draws)?;
    let dens = densities(&reg, &cal, &opts);
    let mut design = sim_design(&dens, &cal)
        .context("the registry has too few models with numeric densities to estimate its noise")?;
    if let Some(m) = args.censor_margin {
        design.censor_margin = m;
    }
    let estimators = EstimatorKind::all(tau);
    let slopes = if args.slope.is_empty() {
        let own = TrendConfig {
            estimator: estimators[0],
            replicates: 0,
            permutations: 0,
            seed: args.seed,
        };
        let a = fit_trend(&trend_points(&dens, |_| true), &own, &|| {})?.a;
        let ln2 = std::f64::consts::LN_2;
        vec![0.0, a, ln2 / 365.0, ln2 / 180.0, ln2 / 95.0]
    } else {
        args.slope.clone()
    };
    eprintln!(
        "design: {} models in {} families, σ_family = {:.3}, σ_model = {:.3} (ln ρ), \
         noise scale ×{:.2} per year, {} censored (censoring margin {:.2} in ln ρ)",
        design.models.len(),
        {
            let mut f: Vec<&str> = design.models.iter().map(|m| m.family.as_str()).collect();
            f.sort_unstable();
            f.dedup();
            f.len()
        },
        design.family_sd,
        design.model_sd,
        1.0 + 365.0 * design.noise_trend,
        design.real_censored,
        design.censor_margin
    );
    let mut rows = Vec::new();
    for slope in slopes {
        let bar = progress::bar(args.registries as u64, &format!("A = {slope:.5}"));
        let cfg = SimConfig {
            slope,
            tau,
            registries: args.registries,
            replicates: args.bootstrap,
            permutations: args.permutations,
            seed: args.seed,
        };
        rows.extend(simulate(&design, &estimators, &cfg, &|| bar.inc(1)));
        bar.finish_and_clear();
    }
    print!("{}", render(&rows));
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "registry_models": design.models.len(),
            "family_sd": design.family_sd,
            "model_sd": design.model_sd,
            "noise_trend_per_day": design.noise_trend,
            "real_censored": design.real_censored,
            "censor_margin": design.censor_margin,
            "registries": args.registries,
            "bootstrap": args.bootstrap,
            "permutations": args.permutations,
            "seed": args.seed,
            "rows": rows,
        });
        write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}

/// The table; rates carry their binomial standard error over the registries.
fn render(rows: &[SimRow]) -> String {
    let se = |p: f64, n: usize| 100.0 * (p * (1.0 - p) / n as f64).sqrt();
    let mut out = format!(
        "{:<26} {:>9} {:>9} {:>8} {:>9} {:>10} {:>9} {:>13} {:>9} {:>13} {:>8} {:>11}\n",
        "estimator",
        "frontier",
        "target",
        "censored",
        "fitted",
        "bias",
        "RMSE",
        "coverage",
        "BCa",
        "p < 0.05",
        "CI > 0",
        "failed p/b"
    );
    for r in rows {
        out += &format!(
            "{:<26} {:>9.5} {:>9.5} {:>8.1} {:>9} {:>10.5} {:>9.5} {:>6.1}% ±{:>4.1} {:>8.1}% {:>6.1}% ±{:>4.1} {:>7.1}% {:>5.1}/{:<5.1}\n",
            r.estimator.label(),
            r.true_slope,
            r.target_slope,
            r.mean_censored,
            format!("{}/{}", r.fitted, r.registries),
            r.bias,
            r.rmse,
            100.0 * r.coverage,
            se(r.coverage, r.registries),
            100.0 * r.coverage_bca,
            100.0 * r.rejection_rate,
            se(r.rejection_rate, r.registries),
            100.0 * r.ci_above_zero,
            r.mean_failed_permutations,
            r.mean_failed_replicates
        );
    }
    out
}
