//! `densing run`: the main job. Densities of every registry model against a
//! calibration, the Densing-Law trend with its CI for all qualifying models and
//! for the paper's 29, the corollaries, and (with `--sweep`) the sensitivity
//! table and a forecasting backtest. Writes densities.csv, trend.json,
//! summary.md, report.json and the HTML report, each atomically.

use super::common::{write_atomic, CalibrationArgs, RegistryArgs, TrendArgs};
use super::report_input::report_input;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use densing_core::calibration::Calibration;
use densing_core::density::{sig, Bounded, DensityOptions, ModelDensity};
use densing_core::registry::{parse_date, Benchmark, ParamsBasis, Registry};
use densing_core::study::{backtest, split_trend, study, BacktestRow, SplitTrend, Study};
use densing_core::table::Table;
use densing_core::trend::{combined_doubling_days, price_halving_days, TrendFit};
use serde::Serialize;
use std::path::PathBuf;

/// The paper's price example, bundled so `run` shows the corollary with no files.
const BUNDLED_PRICES: &str = include_str!("../../../../data/prices.csv");

#[derive(Clone, Copy, ValueEnum)]
pub enum ImageFormat {
    Svg,
    Png,
    Both,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub cal: CalibrationArgs,
    #[command(flatten)]
    pub trend: TrendArgs,
    /// Output folder.
    #[arg(long, default_value = "densing-out")]
    pub out: PathBuf,
    /// Print one JSON object (the summary) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also fit separate trends before and after this date (YYYY-MM-DD).
    #[arg(long)]
    pub split_at: Option<String>,
    /// Hardware price-performance doubling time, years (compounded with density).
    #[arg(long, default_value_t = 2.1)]
    pub hardware_doubling_years: f64,
    /// CSV of (date, price_per_mtok) for the price-halving corollary (default: the paper's two points).
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Sensitivity sweep (references, benchmark subsets, basis, model set, D0) and backtest.
    #[arg(long)]
    pub sweep: bool,
    /// Skip the HTML report and figures.
    #[arg(long)]
    pub no_report: bool,
    /// Figure format.
    #[arg(long, value_enum, default_value = "svg")]
    pub format: ImageFormat,
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
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub reference: String,
    pub params_basis: String,
    pub n_models: usize,
    pub n_trend: usize,
    #[serde(rename = "A")]
    pub a: f64,
    pub r2: Option<f64>,
    pub doubling_days: f64,
    pub doubling_ci95: Option<[Option<f64>; 2]>,
    pub trend: TrendFit,
    /// The same trend on the paper's 29 models (`in_densing_fig1`).
    pub trend_fig1: Option<TrendFit>,
    pub split: Option<SplitTrend>,
    pub combined_with_hardware_days: f64,
    pub hardware_doubling_years: f64,
    pub price_halving_days: Option<f64>,
    pub parents: Vec<densing_core::study::ParentPair>,
    pub sweep: Option<Vec<SweepRow>>,
    pub backtest: Option<Vec<BacktestRow>>,
    pub warnings: Vec<String>,
}

pub fn run(args: RunArgs) -> Result<()> {
    let reg = args.registry.load()?;
    let opts = args.cal.options()?;
    let cal = args.cal.build(&reg, opts.basis, args.cal.d0)?;
    let unc = args.cal.uncertainty();
    let cfg = args.trend.config(unc.replicates, unc.seed)?;
    let main = study(&reg, &cal, &opts, &cfg, &|| {})?;
    let fig1_opts = DensityOptions {
        fig1_only: true,
        ..opts.clone()
    };
    let fig1 = study(&reg, &cal, &fig1_opts, &cfg, &|| {})
        .ok()
        .map(|s| s.trend);
    let split = args
        .split_at
        .as_deref()
        .map(|d| {
            parse_date(d)
                .map_err(|m| anyhow::anyhow!("--split-at: {m}"))
                .map(|date| split_trend(&main.densities, date, &cfg))
        })
        .transpose()?;
    let prices = read_prices(args.prices.as_ref())?;
    let mut warnings: Vec<String> = cal
        .curves
        .values()
        .flat_map(|c| c.warnings.clone())
        .collect();
    if main.trend.doubling_ci95.is_some_and(|c| c[1].is_none()) {
        warnings.push(
            "the slope's 95% CI reaches zero: the doubling time's upper bound is unbounded".into(),
        );
    }
    let (sweep, backtest_rows) = if args.sweep {
        (
            Some(sweep(&args, &reg, &opts)?),
            Some(backtest(&main.densities, &cfg, 180, 90)),
        )
    } else {
        (None, None)
    };
    let summary = Summary {
        reference: cal.description.clone(),
        params_basis: densing_core::calibration::basis_name(opts.basis).into(),
        n_models: main.densities.len(),
        n_trend: main.trend.n_points,
        a: main.trend.a,
        r2: main.trend.r2,
        doubling_days: main.trend.doubling_days,
        doubling_ci95: main.trend.doubling_ci95,
        trend: main.trend.clone(),
        trend_fig1: fig1,
        split,
        combined_with_hardware_days: combined_doubling_days(
            main.trend.doubling_days,
            args.hardware_doubling_years,
        ),
        hardware_doubling_years: args.hardware_doubling_years,
        price_halving_days: Some(price_halving_days(&prices)?),
        parents: main.parents.clone(),
        sweep,
        backtest: backtest_rows,
        warnings,
    };
    write_outputs(&args, &main, &summary, &cal)?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", render_table(&main));
        print!("{}", render_summary(&summary));
        println!("\nwrote {}", args.out.display());
    }
    Ok(())
}

fn read_prices(path: Option<&PathBuf>) -> Result<Vec<(chrono::NaiveDate, f64)>> {
    let table = match path {
        Some(p) => Table::read(p)?,
        None => Table::parse("data/prices.csv (bundled)", BUNDLED_PRICES)?,
    };
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

fn render_summary(s: &Summary) -> String {
    let mut out = format!(
        "\nDensing-Law trend on {} models ({} on the envelope): ln ρ_max = {:.5}·t {} {:.3}, R² = {:?}\n",
        s.n_trend,
        s.trend.envelope.len(),
        s.a,
        if s.trend.b < 0.0 { "−" } else { "+" },
        s.trend.b.abs(),
        s.r2
    );
    out += &format!(
        "doubling time {:.0} days, 95% CI {} ({} bootstrap replicates)\n",
        s.doubling_days,
        ci_text(s.doubling_ci95),
        s.trend.replicates_used
    );
    if let Some(f) = &s.trend_fig1 {
        out += &format!(
            "paper's 29-model set ({} with enough benchmarks): doubling {:.0} days, 95% CI {}, R² = {:?}\n",
            f.n_points,
            f.doubling_days,
            ci_text(f.doubling_ci95),
            f.r2
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
                    "A = {:.5}/day, doubling {:.0} days, n = {}",
                    t.a, t.doubling_days, t.n_points
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
            "\n{:<12} {:<40} {:>4} {:>9} {:<20} {:>6}\n",
            "sweep", "choice", "n", "doubling", "95% CI", "R²"
        );
        for r in rows {
            out += &format!(
                "{:<12} {:<40} {:>4} {:>9} {:<20} {:>6}{}\n",
                r.dimension,
                r.choice,
                r.n_models,
                r.doubling_days.map_or("-".into(), |d| format!("{d:.0}")),
                ci_text(r.doubling_ci95),
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
            "{:<11} {:>4} {:>10} {:>10} {:>10} {:>9} {:>9}\n",
            "cutoff", "n", "forecast", "reached", "no-growth", "law err", "base err"
        );
        for r in rows {
            out += &format!(
                "{:<11} {:>4} {:>10} {:>10} {:>10} {:>8.2}× {:>8.2}×\n",
                r.cutoff,
                r.n_fit,
                sig(r.predicted_rho_max),
                sig(r.observed_rho_max),
                sig(r.baseline_rho_max),
                r.law_log_error.exp(),
                r.baseline_log_error.exp()
            );
        }
    }
    for w in &s.warnings {
        out += &format!("warning: {w}\n");
    }
    out
}

/// Doubling time under each alternative choice, one change at a time.
fn sweep(args: &RunArgs, reg: &Registry, opts: &DensityOptions) -> Result<Vec<SweepRow>> {
    let replicates = args.cal.bootstrap.min(200);
    let cfg = args.trend.config(replicates, args.cal.seed)?;
    let unc_args = CalibrationArgs {
        bootstrap: replicates,
        ..args.cal.clone()
    };
    let mut rows = Vec::new();
    let mut push =
        |dimension: &str, choice: String, cal: Result<Calibration>, o: &DensityOptions| {
            let row = match cal.and_then(|c| Ok(study(reg, &c, o, &cfg, &|| {})?)) {
                Ok(s) => SweepRow {
                    dimension: dimension.into(),
                    choice,
                    n_models: s.trend.n_points,
                    doubling_days: Some(s.trend.doubling_days),
                    doubling_ci95: s.trend.doubling_ci95,
                    r2: s.trend.r2,
                    note: None,
                },
                Err(e) => SweepRow {
                    dimension: dimension.into(),
                    choice,
                    n_models: 0,
                    doubling_days: None,
                    doubling_ci95: None,
                    r2: None,
                    note: Some(format!("{e:#}")),
                },
            };
            rows.push(row);
        };
    let base = || unc_args.build(reg, opts.basis, args.cal.d0);
    if !args.cal.is_two_step() {
        for fam in reg.families() {
            let sizes = reg
                .models
                .iter()
                .filter(|m| m.family == fam && m.weights == densing_core::registry::Weights::Base)
                .count();
            if sizes >= 4 {
                let cal = CalibrationArgs {
                    reference: fam.to_string(),
                    ..unc_args.clone()
                };
                push(
                    "reference",
                    fam.to_string(),
                    cal.build(reg, opts.basis, args.cal.d0),
                    opts,
                );
            }
        }
    } else {
        for d0 in [1e11, 1e12, 1e13] {
            push(
                "D0",
                format!("{d0:.0e} tokens"),
                unc_args.build(reg, opts.basis, d0),
                opts,
            );
        }
    }
    push("benchmarks", "all five".into(), base(), opts);
    for b in Benchmark::ALL {
        let o = DensityOptions {
            benchmarks: opts
                .benchmarks
                .iter()
                .copied()
                .filter(|x| *x != b)
                .collect(),
            min_benchmarks: opts.min_benchmarks.min(opts.benchmarks.len() - 1),
            ..opts.clone()
        };
        push("benchmarks", format!("without {}", b.key()), base(), &o);
    }
    for (name, basis) in [
        ("total", ParamsBasis::Total),
        ("nonemb", ParamsBasis::Nonemb),
        ("active", ParamsBasis::Active),
    ] {
        let o = DensityOptions {
            basis,
            ..opts.clone()
        };
        push(
            "params",
            name.into(),
            unc_args.build(reg, basis, args.cal.d0),
            &o,
        );
    }
    push("models", "all base models".into(), base(), opts);
    let o = DensityOptions {
        fig1_only: true,
        ..opts.clone()
    };
    push("models", "paper's 29 (in_densing_fig1)".into(), base(), &o);
    Ok(rows)
}

fn densities_csv(s: &Study) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "model",
        "family",
        "release_date",
        "params_b",
        "n_hat_b",
        "n_hat_censor",
        "n_hat_lo",
        "n_hat_hi",
        "rho",
        "rho_censor",
        "rho_lo",
        "rho_hi",
        "rho_mean_score",
        "rho_mean_score_censor",
        "in_trend",
        "on_envelope",
        "in_densing_fig1",
        "parent",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    header.extend(Benchmark::ALL.iter().map(|b| format!("n_hat_{}", b.key())));
    header.push("flags".into());
    header.push("reference".into());
    w.write_record(&header)?;
    let cell = |b: Bounded| -> (String, String) {
        match b {
            Bounded::Value(v) => (v.to_string(), String::new()),
            Bounded::AtLeast(v) => (v.to_string(), "lower_bound".into()),
            Bounded::AtMost(v) => (v.to_string(), "upper_bound".into()),
            Bounded::Undetermined => (String::new(), "undetermined".into()),
        }
    };
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for d in &s.densities {
        let (n, nc) = cell(d.n_hat);
        let (r, rc) = cell(d.rho);
        let (rm, rmc) = cell(d.rho_mean_score);
        let mut rec = vec![
            d.name.clone(),
            d.family.clone(),
            d.release.to_string(),
            d.params_b.to_string(),
            n,
            nc,
            opt(d.n_hat_ci95.map(|c| c[0])),
            opt(d.n_hat_ci95.map(|c| c[1])),
            r,
            rc,
            opt(d.rho_ci95.map(|c| c[0])),
            opt(d.rho_ci95.map(|c| c[1])),
            rm,
            rmc,
            d.in_trend.to_string(),
            s.trend.envelope.contains(&d.name).to_string(),
            d.in_densing_fig1.to_string(),
            d.parent.clone().unwrap_or_default(),
        ];
        for b in Benchmark::ALL {
            rec.push(d.per_benchmark.iter().find(|e| e.benchmark == b).map_or(
                String::new(),
                |e| {
                    let (v, c) = cell(e.n_hat);
                    if c.is_empty() {
                        v
                    } else {
                        format!("{c}:{v}")
                    }
                },
            ));
        }
        rec.push(d.flags.join("; "));
        rec.push(s.reference.clone());
        w.write_record(&rec)?;
    }
    Ok(w.into_inner()?)
}

fn write_outputs(args: &RunArgs, s: &Study, summary: &Summary, cal: &Calibration) -> Result<()> {
    let out = &args.out;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output folder {}", out.display()))?;
    write_atomic(&out.join("densities.csv"), &densities_csv(s)?)?;
    write_atomic(
        &out.join("trend.json"),
        serde_json::to_string_pretty(summary)?.as_bytes(),
    )?;
    let md = format!(
        "# densing run\n\n```\n{}{}```\n",
        render_table(s),
        render_summary(summary)
    );
    write_atomic(&out.join("summary.md"), md.as_bytes())?;
    let input = report_input(s, summary, cal);
    write_atomic(
        &out.join("report.json"),
        serde_json::to_string_pretty(&input)?.as_bytes(),
    )?;
    if !args.no_report {
        let format = match args.format {
            ImageFormat::Svg => densing_report::Format::Svg,
            ImageFormat::Png => densing_report::Format::Png,
            ImageFormat::Both => densing_report::Format::Both,
        };
        densing_report::write_report(&input, out, format)?;
    }
    Ok(())
}
