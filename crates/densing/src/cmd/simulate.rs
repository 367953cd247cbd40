//! `densing simulate`: how well do the trend estimators and their inference
//! work on registries like ours? Draws synthetic registries from a known law
//! on the registry's real design on a density scale (`--scale`, as in
//! `densing run`) — its trend models' release dates, families and benchmark
//! availability, their calibration draws, its censoring, and heteroscedastic
//! noise estimated from it (see `densing_core::trend::simulate`) — and
//! reports, per estimator and true frontier slope, bias, RMSE, the coverage of
//! the reported 95% interval (the inverted permutation test; the bootstrap's
//! percentile and BCa intervals beside it) and the share of registries where
//! the permutation test rejects "no trend" at p < 0.05: the test's size at
//! slope 0, its power at the slopes fixed in advance. With `--break-at` it
//! also runs the slope-change test at that date, whose rejection rate is its
//! size (the simulated law has no change).

use super::common::{
    bootstrap_count, count_at_most, permutation_count, write_atomic, RegistryArgs,
};
use super::run::{ScaleArg, DEFAULT_SCALE};
use crate::progress;
use anyhow::Result;
use clap::Args;
use densing_analysis::{scale_design, Scale};
use densing_core::calibration::Uncertainty;
use densing_core::capability::CapabilityOptions;
use densing_core::registry::parse_date;
use densing_core::trend::simulate::{simulate, PointReading, SimConfig, SimRow};
use densing_core::trend::size::{sizes_from, write_sizes};
use densing_core::trend::{days_since_origin, fit_trend, EstimatorKind, TrendConfig};
use std::path::PathBuf;

#[derive(Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Density scale whose trend models, draws and censoring the synthetic
    /// registries copy (as `densing run --scale`).
    #[arg(long, value_enum, default_value = DEFAULT_SCALE)]
    pub scale: ScaleArg,
    /// Reference family (the five-benchmark scale's curves, whose range
    /// censors; the capability scale's ruler).
    #[arg(long, default_value = "Qwen2.5")]
    pub reference: String,
    /// Estimators to run (comma-separated; default: all three).
    #[arg(long, value_delimiter = ',')]
    pub estimator: Vec<String>,
    /// Also run the slope-change test at this date (YYYY-MM-DD) on every
    /// synthetic registry: the law has no change, so its rejection rate is
    /// the test's size.
    #[arg(long)]
    pub break_at: Option<String>,
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
    /// instead of re-inverting their scores (five-benchmark scale; 0: censor
    /// at the range itself, a stress test of the censored estimator).
    #[arg(long)]
    pub censor_margin: Option<f64>,
    /// How a synthetic registry reads the calibration draws: `one-draw` (the
    /// point reading is one draw among exchangeable ones, the draws centred on
    /// the truth) or `centre` (the truth at the point reading, the draws leaning
    /// off it as the real ones lean off the real point).
    #[arg(long, value_enum, default_value_t = ReadingArg::OneDraw)]
    pub point_reading: ReadingArg,
    #[arg(long, default_value_t = 20241205)]
    pub seed: u64,
    /// Also write the table as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write the permutation test's size (the slope-0 rows) here, in the
    /// format of densing-core's bundled `src/trend/test_size.csv`.
    #[arg(long)]
    pub size_out: Option<PathBuf>,
}

/// `--point-reading` (see [`PointReading`]).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReadingArg {
    OneDraw,
    Centre,
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
    let t_break = args
        .break_at
        .as_deref()
        .map(|d| parse_date(d).map_err(|m| anyhow::anyhow!("--break-at: {m}")))
        .transpose()?
        .map(days_since_origin);
    let scale = match args.scale {
        ScaleArg::FiveBenchmark => Scale::FiveBenchmark,
        ScaleArg::Capability => Scale::Capability,
    };
    // The calibration's own draws, carried into every synthetic registry.
    let draws = Uncertainty {
        replicates: args.bootstrap,
        seed: args.seed,
    };
    let real = scale_design(
        &reg,
        scale,
        &args.reference,
        CapabilityOptions::default(),
        draws,
    )?;
    let mut design = real.design;
    design.point_reading = match args.point_reading {
        ReadingArg::OneDraw => PointReading::OneDraw,
        ReadingArg::Centre => PointReading::Centre,
    };
    if let Some(m) = args.censor_margin {
        design.censor_margin = m;
        design.calibration = None;
    }
    let estimators = if args.estimator.is_empty() {
        EstimatorKind::all(tau).to_vec()
    } else {
        args.estimator
            .iter()
            .map(|e| {
                EstimatorKind::from_name(e, tau).map_err(|e| anyhow::anyhow!("--estimator: {e}"))
            })
            .collect::<Result<Vec<_>>>()?
    };
    let slopes = if args.slope.is_empty() {
        let own = TrendConfig {
            estimator: EstimatorKind::CensoredQuantile { tau },
            replicates: 0,
            permutations: 0,
            seed: args.seed,
        };
        let a = fit_trend(&real.points, &own, &|| {})?.a;
        let ln2 = std::f64::consts::LN_2;
        vec![0.0, a, ln2 / 365.0, ln2 / 180.0, ln2 / 95.0]
    } else {
        args.slope.clone()
    };
    eprintln!(
        "design ({} scale): {} models in {} families, σ_family = {:.3}, σ_model = {:.3} (ln ρ), \
         noise scale ×{:.2} per year, {} censored; censoring: {}; draws: {}",
        scale.key(),
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
        match (&design.calibration, scale) {
            (Some(_), _) => "scores re-inverted through the reference's curves".to_string(),
            (None, Scale::Capability) if args.censor_margin.is_none() =>
                "none (N̂ beyond the ruler's sizes is extrapolated, as on the real data)".into(),
            (None, _) => format!(
                "margin {:.2} in ln ρ beyond the reference's range",
                design.censor_margin
            ),
        },
        match design.point_reading {
            PointReading::OneDraw => "the point read as one of them",
            PointReading::Centre => "leaning off the point, the truth at its centre",
        }
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
            t_break,
        };
        rows.extend(simulate(&design, &estimators, &cfg, &|| bar.inc(1)));
        bar.finish_and_clear();
    }
    print!("{}", render(&rows));
    if let Some(path) = &args.size_out {
        let sizes = sizes_from(&rows, scale.key(), args.permutations);
        anyhow::ensure!(
            !sizes.is_empty(),
            "--size-out needs slope 0 among the simulated slopes"
        );
        let provenance = vec![
            "The permutation test's size: the share of trend-free registries (frontier slope 0)"
                .to_string(),
            "simulated on the bundled registry's design in which it rejected at p < 0.05.".into(),
            format!(
                "Written by: densing {}",
                std::env::args().skip(1).collect::<Vec<_>>().join(" ")
            ),
        ];
        write_atomic(path, write_sizes(&sizes, &provenance)?.as_bytes())?;
    }
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "scale": scale.key(),
            "reference": args.reference,
            "break_at": args.break_at,
            "registry_models": design.models.len(),
            "family_sd": design.family_sd,
            "model_sd": design.model_sd,
            "noise_trend_per_day": design.noise_trend,
            "real_censored": design.real_censored,
            "censor_margin": design.censor_margin,
            "point_reading": design.point_reading,
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
    let se = |p: f64, n: usize| 100.0 * (p * (1.0 - p) / n.max(1) as f64).sqrt();
    let mut out = format!(
        "{:<26} {:>9} {:>9} {:>8} {:>9} {:>10} {:>9} {:>13} {:>9} {:>9} {:>6} {:>10} {:>13} {:>8} {:>11} {:>13}\n",
        "estimator",
        "frontier",
        "target",
        "censored",
        "fitted",
        "bias",
        "RMSE",
        "coverage",
        "width",
        "unbounded",
        "BCa",
        "percentile",
        "p < 0.05",
        "CI > 0",
        "failed p/b",
        "change p<0.05"
    );
    for r in rows {
        let change = r.change_rejection_rate.map_or("-".into(), |c| {
            format!("{:.1}% ±{:.1}", 100.0 * c, se(c, r.change_tested))
        });
        out += &format!(
            "{:<26} {:>9.5} {:>9.5} {:>8.1} {:>9} {:>10.5} {:>9.5} {:>6.1}% ±{:>4.1} {:>9.5} {:>8.1}% {:>5.1}% {:>9.1}% {:>6.1}% ±{:>4.1} {:>7.1}% {:>5.1}/{:<5.1} {:>13}\n",
            r.estimator.label(),
            r.true_slope,
            r.target_slope,
            r.mean_censored,
            format!("{}/{}", r.fitted, r.registries),
            r.bias,
            r.rmse,
            100.0 * r.coverage,
            se(r.coverage, r.registries),
            r.mean_width,
            100.0 * r.unbounded,
            100.0 * r.coverage_bca,
            100.0 * r.coverage_percentile,
            100.0 * r.rejection_rate,
            se(r.rejection_rate, r.registries),
            100.0 * r.ci_above_zero,
            r.mean_failed_permutations,
            r.mean_failed_replicates,
            change
        );
    }
    out
}
