//! `densing simulate`: how well do the trend estimators and their inference
//! work on registries like ours? Draws synthetic registries from a known law
//! with the registry's release dates, families, noise and censoring (see
//! `densing_core::trend::simulate`) and reports, per estimator and true slope,
//! bias, RMSE, the coverage of the 95% interval for A and the share of
//! registries where the permutation test rejects "no trend" at p < 0.05.

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
    /// True slopes A (per day); default: 0 and the registry's own estimate.
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
    let point_only = Uncertainty {
        replicates: 0,
        seed: args.seed,
    };
    let cal = Calibration::family(&reg, &args.reference, opts.basis, point_only)?;
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
        vec![0.0, a]
    } else {
        args.slope.clone()
    };
    eprintln!(
        "design: {} models in {} families, σ_family = {:.3}, σ_model = {:.3} (ln ρ), \
         {} censored (censoring margin {:.2} in ln ρ)",
        design.models.len(),
        {
            let mut f: Vec<&str> = design.models.iter().map(|m| m.family.as_str()).collect();
            f.sort_unstable();
            f.dedup();
            f.len()
        },
        design.family_sd,
        design.model_sd,
        design.real_censored,
        design.censor_margin
    );
    let mut rows = Vec::new();
    for slope in slopes {
        let bar = progress::bar(args.registries as u64, &format!("A = {slope:.5}"));
        let cfg = SimConfig {
            slope,
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

fn render(rows: &[SimRow]) -> String {
    let mut out = format!(
        "{:<26} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>10} {:>8}\n",
        "estimator",
        "true A",
        "censored",
        "fitted",
        "bias",
        "RMSE",
        "coverage",
        "p < 0.05",
        "CI > 0"
    );
    for r in rows {
        out += &format!(
            "{:<26} {:>9.5} {:>9.1} {:>9} {:>10.5} {:>9.5} {:>8.1}% {:>9.1}% {:>7.1}%\n",
            r.estimator.label(),
            r.true_slope,
            r.mean_censored,
            format!("{}/{}", r.fitted, r.registries),
            r.bias,
            r.rmse,
            100.0 * r.coverage,
            100.0 * r.rejection_rate,
            100.0 * r.ci_above_zero
        );
    }
    out
}
