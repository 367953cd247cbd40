//! `densing run`: the main job. Densities of every registry model against a
//! calibration, the Densing-Law trend with its CI for all qualifying models and
//! for the paper's 29, the corollaries, and (with `--sweep`) the sensitivity
//! table and a forecasting backtest. Writes densities.csv, trend.json,
//! summary.md, report.json and the HTML report, each atomically. The analysis
//! itself is `densing_analysis::run`; this module turns flags into its options
//! and renders the result as text and files.

use super::capability::CapabilityFitArgs;
use super::common::{positive, CalibrationArgs, RegistryArgs, RenamedBasis, TrendArgs};
use crate::outputs::Outputs;
use crate::progress;
use anyhow::Result;
use clap::{Args, ValueEnum};
use densing_analysis::{densities_csv, read_prices, report_input, Analysis, RunOptions, Summary};
use densing_core::density::{sig, Bounded, ModelDensity};
use densing_core::registry::{parse_date, Benchmark};
use densing_core::study::Study;
use densing_core::trend::inference::{doubling_interval, IntervalMethod};
use densing_core::trend::{TestRow, TrendFit};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum ImageFormat {
    Svg,
    Png,
    Both,
}

/// The density scale `densing simulate` copies unless told: `densing run`'s
/// own default when no two-step `--ladder` is given.
pub const DEFAULT_SCALE: &str = "capability";

#[derive(Clone, Copy, ValueEnum)]
pub enum ScaleArg {
    /// Per-benchmark inversion through the reference family on the paper's five benchmarks.
    FiveBenchmark,
    /// One IRT capability per model over every benchmark, anchored by the reference family.
    Capability,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub cal: CalibrationArgs,
    #[command(flatten)]
    pub trend: TrendArgs,
    #[command(flatten)]
    pub renamed: RenamedBasis,
    /// Output folder (created if absent; its parent must exist).
    #[arg(long, default_value = "densing-out")]
    pub out: PathBuf,
    /// Print one JSON object (the summary) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also fit the interaction model at this date (YYYY-MM-DD): the trend
    /// before and after it, and one bootstrap test of a slope change.
    #[arg(long)]
    pub split_at: Option<String>,
    /// Hardware price-performance doubling time, years (compounded with density).
    #[arg(long, default_value_t = 2.1, value_parser = positive)]
    pub hardware_doubling_years: f64,
    /// CSV of (date, price_per_mtok) for the price-halving corollary (default: the paper's two points).
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Sensitivity sweep (references, benchmark subsets, basis, model set, D0) and backtest.
    #[arg(long)]
    pub sweep: bool,
    /// Benchmark set the sweep also fits the trend on (comma-separated ids from
    /// data/benchmarks.csv; default: the newer benchmarks 2025–2026 base-model
    /// reports use; empty to skip).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "mmlu_pro,mmlu_redux,gpqa,gsm8k,evalplus"
    )]
    pub alt_benchmarks: Vec<String>,
    /// Skip the HTML report and figures.
    #[arg(long)]
    pub no_report: bool,
    /// Figure format.
    #[arg(long, value_enum, default_value = "svg")]
    pub format: ImageFormat,
    /// Density scale the trend is fitted on (the other is fitted beside it).
    /// Default: capability with a reference family, five-benchmark with a
    /// two-step --ladder (the capability scale needs a family as its ruler).
    #[arg(long, value_enum)]
    pub scale: Option<ScaleArg>,
    #[command(flatten)]
    pub cap_fit: CapabilityFitArgs,
    /// On the capability scale: models with fewer distinct benchmarks stay out
    /// of the trend (2 is the least that gives a capability).
    #[arg(long, default_value_t = 2)]
    pub capability_min_benchmarks: usize,
    /// With the five-benchmark scale: fit the capability scale beside it too.
    #[arg(long)]
    pub compare_scales: bool,
}

pub fn run(args: RunArgs) -> Result<()> {
    args.renamed.check()?;
    let reg = args.registry.load()?;
    let density = args.cal.options()?;
    let calibration = args.cal.spec()?;
    let split_at = args
        .split_at
        .as_deref()
        .map(|d| parse_date(d).map_err(|m| anyhow::anyhow!("--split-at: {m}")))
        .transpose()?;
    let prices = args.prices.as_deref().map(read_prices).transpose()?;
    let opts = RunOptions {
        calibration,
        density,
        split_at,
        hardware_doubling_years: args.hardware_doubling_years,
        prices,
        sweep: args.sweep,
        alt_benchmarks: args
            .alt_benchmarks
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| Benchmark::parse(b))
            .collect::<densing_core::Result<Vec<_>>>()?,
        estimator: args.trend.estimator()?,
        permutations: args.trend.permutations,
    };
    let bar = progress::bar(opts.trend_work(), "trend: bootstrap + permutations");
    let scale = densing_analysis::ScaleOptions {
        scale: match args.scale {
            Some(ScaleArg::FiveBenchmark) => densing_analysis::Scale::FiveBenchmark,
            Some(ScaleArg::Capability) => densing_analysis::Scale::Capability,
            None if args.cal.ladder.is_some() => densing_analysis::Scale::FiveBenchmark,
            None => densing_analysis::Scale::Capability,
        },
        capability: densing_core::capability::CapabilityOptions {
            protocols: args.cap_fit.protocols.into(),
            min_benchmarks: args.capability_min_benchmarks,
            ..Default::default()
        },
        compare: args.compare_scales,
    };
    let analysis = densing_analysis::run_scaled(&reg, &opts, &scale, &|| bar.inc(1))?;
    bar.finish_and_clear();
    write_outputs(&args, &analysis)?;
    let (main, summary) = (&analysis.study, &analysis.summary);
    if args.json {
        println!("{}", serde_json::to_string(summary)?);
    } else {
        print!("{}", render_table(main));
        print!("{}", render_summary(summary));
        println!("\nwrote {}", args.out.display());
    }
    Ok(())
}

/// How the reported interval was made, in words.
fn interval_text(t: &TrendFit) -> String {
    match t.interval {
        IntervalMethod::InvertedTest => format!(
            "the ruler-aware permutation test inverted: {} refits, {} failed",
            t.interval_refits, t.interval_refits_failed
        ),
        IntervalMethod::Percentile => {
            "bootstrap percentile: no permutations, no test to invert".into()
        }
    }
}

fn ci_text(ci: Option<[Option<f64>; 2]>) -> String {
    match ci {
        Some([Some(lo), Some(hi)]) => format!("[{lo:.0}, {hi:.0}]"),
        Some([Some(lo), None]) => format!("[{lo:.0}, unbounded)"),
        _ => "n/a".into(),
    }
}

pub fn rho_text(d: &ModelDensity) -> String {
    match (d.rho, d.rho_ci95) {
        (Bounded::Value(v), Some([lo, hi])) => format!("{} [{}, {}]", sig(v), sig(lo), sig(hi)),
        (r, _) => format!("ρ {}", r.short()),
    }
}

fn render_table(s: &Study) -> String {
    let mut out = format!("densities relative to {}\n\n", s.reference);
    out += &format!(
        "{:<28} {:>10} {:>9} {:>10} {:<28} {:<5} flags\n",
        "model", "released", "N (B)", "N̂ (B)", "ρ [95% CI]", "trend"
    );
    let mut rows: Vec<&ModelDensity> = s.densities.iter().collect();
    rows.sort_by_key(|d| d.release);
    for d in rows {
        let n_hat = d.n_hat.short();
        let env = if s.trend.envelope.contains(&d.name) {
            "env"
        } else if d.in_trend {
            "yes"
        } else {
            ""
        };
        out += &format!(
            "{:<28} {:>10} {:>9} {:>10} {:<28} {:<5} {}\n",
            d.name,
            d.release,
            sig(d.params_b),
            n_hat,
            rho_text(d),
            env,
            d.flags.join("; ")
        );
    }
    out
}

/// `doubling 137 days`, or the plain fact when the slope is not positive.
fn doubling_text(a: f64, days: f64) -> String {
    if a > 0.0 {
        format!("doubling {days:.0} days")
    } else {
        "no doubling (slope ≤ 0)".into()
    }
}

/// `p = 0.012`, or `p n/a` when no test was run.
fn p_text(p: Option<f64>) -> String {
    p.map_or("p n/a".into(), |p| format!("p = {p:.3}"))
}

fn render_summary(s: &Summary) -> String {
    let t = &s.trend;
    let mut out = format!(
        "\nDensing-Law trend ({}) on {} models, {} censored: ln ρ = {:.5}·t {} {:.3}{}\n",
        s.estimator,
        s.n_trend,
        s.n_censored,
        s.a,
        if t.b < 0.0 { "−" } else { "+" },
        t.b.abs(),
        s.r2.map_or(String::new(), |r| format!(", R² = {r:.3}"))
    );
    out += &format!(
        "{}, 95% CI {} ({})\n",
        doubling_text(s.a, s.doubling_days),
        ci_text(s.doubling_ci95),
        interval_text(t)
    );
    out += &format!(
        "bootstrap over families ({} replicates, {} failed): percentile {}, BCa {}\n",
        t.replicates_used,
        t.replicates_failed,
        ci_text(t.a_ci95_percentile.map(doubling_interval)),
        ci_text(t.a_ci95_bca.map(doubling_interval))
    );
    out += &format!("{}\n", s.verdict);
    if let Some(size) = &s.test_size {
        out += &format!("{}\n", densing_analysis::size_text(size));
    }
    if let Some(a) = t.a_without_censored {
        out += &format!(
            "without the {} censored models: A = {a:.5}/day, {}\n",
            s.n_censored,
            doubling_text(a, std::f64::consts::LN_2 / a)
        );
    }
    if t.undetermined_draws > 0 {
        out += &format!(
            "{} (model, calibration draw) pairs were undetermined and left out of their bootstrap replicate\n",
            t.undetermined_draws
        );
    }
    out += &estimator_table(&s.estimators);
    if let Some(f) = &s.trend_fig1 {
        out += &format!(
            "\npaper's 29-model set ({} with enough benchmarks): {}, 95% CI {}, {}{}\n",
            f.n_points,
            doubling_text(f.a, f.doubling_days),
            ci_text(f.doubling_ci95),
            p_text(f.p_value),
            if f.distinguishable() == Some(false) {
                " (not distinguishable from no trend)"
            } else {
                ""
            }
        );
    }
    out += "paper (arXiv 2412.04315): doubling ≈ 95 days, R² ≈ 0.912\n";
    out += &format!(
        "with hardware price-performance doubling every {} years: {:.0} days\n",
        s.hardware_doubling_years, s.combined_with_hardware_days
    );
    if let Some(p) = s.price_halving_days {
        out += &format!("price of equal capability halves every {p:.0} days\n");
    }
    if let Some(sp) = &s.split {
        let side = |t: &Option<TrendFit>| {
            t.as_ref().map_or("not fitted".to_string(), |t| {
                format!(
                    "A = {:.5}/day, {}, 95% CI {}, n = {}, {} ± {:.3} ({} permutations, {} failed refits counted){}",
                    t.a,
                    doubling_text(t.a, t.doubling_days),
                    ci_text(t.doubling_ci95),
                    t.n_points,
                    p_text(t.p_value),
                    t.p_mc_se.unwrap_or(0.0),
                    t.permutations,
                    t.permutations_failed,
                    if t.distinguishable() == Some(false) {
                        " (not distinguishable from no trend)"
                    } else {
                        ""
                    }
                )
            })
        };
        out += &format!(
            "before {}: {}\nafter  {}: {}\n",
            sp.date,
            side(&sp.before),
            sp.date,
            side(&sp.after)
        );
        if let Some(c) = &sp.change {
            out += &format!(
                "slope change at {} (one interaction model, bootstrap over families): ΔA = {:.5}/day, 95% CI {}, two-sided p = {} ({} replicates, {} failed and counted against the change)\n",
                sp.date,
                c.delta,
                c.delta_ci95
                    .map_or("n/a".into(), |[lo, hi]| format!("[{lo:.5}, {hi:.5}]")),
                c.p_value.map_or("n/a".into(), |p| format!(
                    "{p:.3} ± {:.3}",
                    c.p_mc_se.unwrap_or(0.0)
                )),
                c.replicates_used + c.replicates_failed,
                c.replicates_failed
            );
        }
        for n in &sp.notes {
            out += &format!("  note: {n}\n");
        }
    }
    for p in &s.parents {
        out += &format!(
            "compressed {} vs parent {}: {}\n",
            p.child,
            p.parent,
            p.ratio
                .map_or("ratio undefined (censored)".to_string(), |r| format!(
                    "ρ ratio {r:.2}"
                ))
        );
    }
    if let Some(rows) = &s.sweep {
        out += &format!(
            "\n{:<12} {:<40} {:>4} {:>9} {:<20} {:>7} {:>6}\n",
            "sweep", "choice", "n", "doubling", "95% CI", "p", "R²"
        );
        for r in rows {
            out += &format!(
                "{:<12} {:<40} {:>4} {:>9} {:<20} {:>7} {:>6}{}\n",
                r.dimension,
                r.choice,
                r.n_models,
                r.doubling_days.map_or("-".into(), |d| format!("{d:.0}")),
                ci_text(r.doubling_ci95),
                r.p_value.map_or("-".into(), |p| format!("{p:.3}")),
                r.r2.map_or("-".into(), |v| format!("{v:.3}")),
                r.note
                    .as_ref()
                    .map_or(String::new(), |n| format!("  ({n})"))
            );
        }
    }
    if let Some(rows) = &s.backtest {
        out += "\nbacktest: fit on models before the cutoff, forecast ρ_max 180 days later\n";
        out += &format!(
            "{:<26} {:<11} {:>4} {:>7} {:>10} {:>10} {:>10} {:>9} {:>9}\n",
            "estimator",
            "cutoff",
            "n",
            "p",
            "forecast",
            "reached",
            "no-growth",
            "law err",
            "base err"
        );
        for r in rows {
            out += &format!(
                "{:<26} {:<11} {:>4} {:>7} {:>10} {:>10} {:>10} {:>8.2}× {:>8.2}×\n",
                r.estimator.label(),
                r.cutoff,
                r.n_fit,
                r.p_value.map_or("-".into(), |p| format!("{p:.3}")),
                sig(r.predicted_rho_max),
                sig(r.observed_rho_max),
                sig(r.baseline_rho_max),
                r.law_log_error.exp(),
                r.baseline_log_error.exp()
            );
        }
    }
    out += &test_table(&s.tests);
    if let Some(c) = &s.scales {
        out += &render_scales(c);
    }
    for n in &s.registry_notes {
        out += &format!("note: {n}\n");
    }
    for w in &s.warnings {
        out += &format!("warning: {w}\n");
    }
    out
}

/// Every estimator side by side: slope, doubling time with its interval,
/// p-value with its MC standard error, and the refits that failed.
pub fn estimator_table(fits: &[TrendFit]) -> String {
    let mut out = format!(
        "\n{:<26} {:>9} {:>9} {:<20} {:<20} {:>14} {:>11} {:>6}\n",
        "estimator", "A/day", "doubling", "95% CI", "percentile", "p ± MC SE", "failed p/b", "R²"
    );
    for e in fits {
        out += &format!(
            "{:<26} {:>9.5} {:>9} {:<20} {:<20} {:>14} {:>11} {:>6}\n",
            e.estimator.label(),
            e.a,
            if e.a > 0.0 {
                format!("{:.0}", e.doubling_days)
            } else {
                "-".into()
            },
            ci_text(e.doubling_ci95),
            ci_text(e.a_ci95_percentile.map(doubling_interval)),
            e.p_value.map_or("-".into(), |p| format!(
                "{p:.3} ± {:.3}",
                e.p_mc_se.unwrap_or(0.0)
            )),
            format!(
                "{}/{} {}/{}",
                e.permutations_failed,
                e.permutations,
                e.replicates_failed,
                e.replicates_used + e.replicates_failed
            ),
            e.r2.map_or("-".into(), |r| format!("{r:.3}"))
        );
        if e.permutations_added > 0 {
            out += &format!(
                "  ({} permutations added: p was within 3 MC SE of 0.05{})\n",
                e.permutations_added,
                if e.permutations_at_cap {
                    ", and still is at the cap"
                } else {
                    ""
                }
            );
        }
    }
    out
}

fn render_scales(c: &densing_analysis::ScaleComparison) -> String {
    let mut out = format!(
        "\nboth density scales (main: {}), same estimator, bootstrap and permutations\n{:<28} {:<12} {:>4} {:>6} {:>9} {:<20} {:>7}\n",
        match c.main {
            densing_analysis::Scale::Capability => "capability",
            densing_analysis::Scale::FiveBenchmark => "five-benchmark",
        },
        "scale",
        "ruler",
        "n",
        "2025+",
        "doubling",
        "95% CI",
        "p"
    );
    for r in &c.rows {
        let ruler: String = r.reference.chars().take(12).collect();
        out += &format!(
            "{:<28} {:<12} {:>4} {:>6} {:>9.0} {:<20} {:>7}\n",
            r.scale,
            ruler,
            r.n_trend,
            r.n_trend_2025_on,
            r.doubling_days,
            ci_text(r.doubling_ci95),
            p_text(r.p_value)
        );
    }
    out += &format!(
        "\ncapability scale under each eligible reference family (ruler fixed)\n{:<12} {:>8} {:>7} {:>7} {:>4} {:>9} {:<20} {:>7}\n",
        "reference", "α", "β", "resid", "n", "doubling", "95% CI", "p"
    );
    for r in &c.references {
        out += &format!(
            "{:<12} {:>8.3} {:>7.3} {:>7.3} {:>4} {:>9.0} {:<20} {:>7}\n",
            r.reference,
            r.alpha,
            r.beta,
            r.residual_sd,
            r.n_trend,
            r.doubling_days,
            ci_text(r.doubling_ci95),
            p_text(r.p_value)
        );
    }
    if let Some((lo, hi)) = c.reference_spread_days {
        out += &format!("doubling time across reference families: {lo:.0}–{hi:.0} days\n");
    }
    out
}

/// The run's tests, raw and Holm-adjusted.
pub fn test_table(tests: &[TestRow]) -> String {
    if tests.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{} tests, Holm-adjusted together (family-wise error 5%)\n{:<52} {:>14} {:>8}\n",
        tests.len(),
        "test",
        "raw p ± MC SE",
        "Holm p"
    );
    for t in tests {
        out += &format!(
            "{:<52} {:>14} {:>8.3}\n",
            t.test,
            match t.p_mc_se {
                Some(se) => format!("{:.3} ± {se:.3}", t.p_raw),
                None => format!("{:.3}", t.p_raw),
            },
            t.p_holm
        );
    }
    out
}

/// Every output file, moved into `--out` together only when all were written.
fn write_outputs(args: &RunArgs, analysis: &Analysis) -> Result<()> {
    let (s, summary) = (&analysis.study, &analysis.summary);
    let out = &args.out;
    let mut files = Outputs::new();
    files.folder(out)?;
    files.write(&out.join("densities.csv"), &densities_csv(s)?)?;
    files.write(
        &out.join("trend.json"),
        serde_json::to_string_pretty(summary)?.as_bytes(),
    )?;
    let md = format!(
        "# densing run\n\n```\n{}{}```\n",
        render_table(s),
        render_summary(summary)
    );
    files.write(&out.join("summary.md"), md.as_bytes())?;
    let input = report_input(analysis);
    files.write(
        &out.join("report.json"),
        serde_json::to_string_pretty(&input)?.as_bytes(),
    )?;
    if !args.no_report {
        let format = match args.format {
            ImageFormat::Svg => densing_report::Format::Svg,
            ImageFormat::Png => densing_report::Format::Png,
            ImageFormat::Both => densing_report::Format::Both,
        };
        densing_report::write_report(&input, &files.staging(out)?, format)?;
    }
    files.commit()
}
