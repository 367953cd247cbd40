//! `densing run --scale`: the Densing-Law trend on the five-benchmark scale
//! (per-benchmark inversion through one reference family) and on the
//! capability scale (IRT over every benchmark), side by side, and the
//! capability scale under every eligible reference family.
//!
//! The capability headline's interval folds in the ruler: bootstrap replicate
//! r reads its densities through family `r mod K` of the K eligible families
//! (sizes resampled), so the spread between reference families is part of the
//! interval, not a footnote. The point estimate uses the chosen reference.

use crate::capability::{
    as_model_densities, pooled_densities, CapabilityRun, ReferenceRow, Scale, ScaleComparison,
    ScaleOptions, ScaleRow, TrendFilter,
};
use crate::run::{five_benchmark_study, run_observed, summarize, Analysis, RunOptions};
use crate::spec::Reference;
use densing_core::capability::{
    CapDensity, Capability, CapabilityOptions, RefMembers, MIN_RULER_R2,
};
use densing_core::registry::Registry;
use densing_core::study::{parent_pairs, trend_points, Study};
use densing_core::trend::{fit_trend, TrendFit};
use densing_core::{Error, Result};

fn row(scale: &str, reference: &str, t: &TrendFit, s: &Study) -> ScaleRow {
    let from = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date");
    ScaleRow {
        scale: scale.into(),
        reference: reference.into(),
        n_trend: t.n_points,
        n_censored: t.n_censored,
        doubling_days: t.doubling_days,
        doubling_ci95: t.doubling_ci95,
        p_value: t.p_value,
        n_trend_2025_on: s
            .densities
            .iter()
            .filter(|d| d.in_trend && d.release >= from)
            .count(),
    }
}

/// The whole run on the chosen scale, with the other beside it. On the
/// capability scale the five-benchmark trend is only the comparison row (its
/// main estimator), so its side-by-side estimators are not refitted.
pub fn run_scaled(
    reg: &Registry,
    opts: &RunOptions,
    sc: &ScaleOptions,
    tick: &(dyn Fn() + Sync),
) -> Result<Analysis> {
    let capability_main = sc.scale == Scale::Capability;
    if !capability_main && !sc.compare {
        return run_observed(reg, opts, tick);
    }
    let Reference::Family(family) = &opts.calibration.reference else {
        if capability_main {
            return Err(Error::Invalid(
                "the capability scale needs a reference family (--reference), not a ladder: \
                 add --scale five-benchmark for a two-step calibration"
                    .into(),
            ));
        }
        return run_observed(reg, opts, tick);
    };
    let quiet = || {};
    let five_tick: &(dyn Fn() + Sync) = if capability_main { &quiet } else { tick };
    let (calibration, five, five_warnings) = five_benchmark_study(reg, opts, five_tick)?;
    let unc = opts.calibration.uncertainty;
    let cap_opts = CapabilityOptions {
        replicates: unc.replicates,
        seed: unc.seed,
        basis: opts.density.basis,
        ..sc.capability
    };
    let fit = Capability::from_registry(reg, cap_opts)?;
    let (map, dens, families, not_rising) = pooled_densities(reg, &fit, family)?;
    let filter = TrendFilter {
        min_benchmarks: cap_opts.min_benchmarks,
        include_chat: opts.density.include_chat,
        fig1_only: false,
    };
    let cfg = opts.trend(unc.replicates);
    let point = RefMembers::of(reg, &fit.data, family, cap_opts.basis)?;
    let (_, fixed_dens) = fit.densities(reg, &point, std::slice::from_ref(&point))?;
    let cap_study = |dens: &[CapDensity],
                     ci: &[CapDensity],
                     reference: String,
                     tick: &(dyn Fn() + Sync)|
     -> Result<Study> {
        let densities = as_model_densities(reg, dens, ci, filter);
        let trend = fit_trend(&trend_points(&densities, |_| true), &cfg, tick)?;
        Ok(Study {
            reference,
            parents: parent_pairs(&densities),
            densities,
            trend,
        })
    };
    let n_bench = fit.data.benches.len();
    let label = format!(
        "capability scale (IRT over {n_bench} benchmarks, {} scores), ruler {} ({} over {} sizes); \
         intervals pool the rulers of {} eligible families",
        fit.data.cells.len(),
        map.family,
        map.describe(),
        map.n_sizes,
        families.len()
    );
    let pooled = cap_study(
        &dens,
        &fixed_dens,
        label,
        if capability_main { tick } else { &quiet },
    )?;
    let mut references = Vec::new();
    for f in &families {
        let members = RefMembers::of(reg, &fit.data, f, cap_opts.basis)?;
        let (m, d) = fit.densities(reg, &members, std::slice::from_ref(&members))?;
        let s = cap_study(&d, &d, f.clone(), &quiet)?;
        references.push(ReferenceRow {
            reference: f.clone(),
            alpha: m.alpha,
            beta: m.beta,
            residual_sd: m.residual_sd,
            range_b: m.range,
            n_trend: s.trend.n_points,
            a: s.trend.a,
            b: s.trend.b,
            doubling_days: s.trend.doubling_days,
            doubling_ci95: s.trend.doubling_ci95,
            p_value: s.trend.p_value,
        });
    }
    let fixed = references
        .iter()
        .find(|r| r.reference == map.family)
        .cloned();
    let positive: Vec<f64> = references
        .iter()
        .filter(|r| r.doubling_days.is_finite() && r.doubling_days > 0.0)
        .map(|r| r.doubling_days)
        .collect();
    let spread = (!positive.is_empty()).then(|| {
        (
            positive.iter().copied().fold(f64::INFINITY, f64::min),
            positive.iter().copied().fold(0.0, f64::max),
        )
    });
    let mut rows = vec![
        row("five-benchmark", family, &five.trend, &five),
        row(
            "capability (rulers pooled)",
            &map.family,
            &pooled.trend,
            &pooled,
        ),
    ];
    if let Some(f) = fixed {
        rows.push(ScaleRow {
            scale: "capability (ruler fixed)".into(),
            reference: f.reference,
            n_trend: f.n_trend,
            n_censored: 0,
            doubling_days: f.doubling_days,
            doubling_ci95: f.doubling_ci95,
            p_value: f.p_value,
            n_trend_2025_on: rows[1].n_trend_2025_on,
        });
    }
    let comparison = ScaleComparison {
        main: sc.scale,
        rows,
        references,
        reference_spread_days: spread,
    };
    let (study, mut summary) = if capability_main {
        let warnings = not_rulers_warning(&not_rising).into_iter().collect();
        let summary = summarize(reg, opts, Scale::Capability, &pooled, warnings, tick)?;
        (pooled, summary)
    } else {
        let summary = summarize(reg, opts, Scale::FiveBenchmark, &five, five_warnings, tick)?;
        (five, summary)
    };
    summary.scales = Some(comparison);
    Ok(Analysis {
        study,
        summary,
        calibration,
        capability: Some(CapabilityRun {
            fit,
            map,
            densities: dens,
            fixed: fixed_dens,
            families,
        }),
    })
}

/// One warning naming the families with enough sizes that are not rulers
/// (the first 10 of them, and how many more: a registry of synthetic families
/// can hold hundreds).
fn not_rulers_warning(families: &[String]) -> Option<String> {
    let named: Vec<String> = families.iter().take(10).map(|f| format!("`{f}`")).collect();
    let more = match families.len().saturating_sub(10) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let (noun, verb) = if families.len() == 1 {
        ("family", "has")
    } else {
        ("families", "have")
    };
    (!families.is_empty()).then(|| {
        format!(
            "{noun} {}{more} {verb} enough base sizes but capability that does not rise clearly \
             with size (line R² < {MIN_RULER_R2}): not used as rulers",
            named.join(", ")
        )
    })
}

/// The capability figures' data (density vs date with every ruler's trend
/// line, the benchmark map), when the run fitted the capability scale.
pub fn capability_figures(a: &Analysis) -> Option<densing_report::CapabilityFigures> {
    let cap = a.capability.as_ref()?;
    let scales = a.summary.scales.as_ref()?;
    // In the capability trend: the run's own flags where it is the main scale.
    let in_trend: std::collections::HashSet<&str> = a
        .study
        .densities
        .iter()
        .filter(|d| d.in_trend && scales.main == Scale::Capability)
        .map(|d| d.name.as_str())
        .collect();
    let origin = densing_core::trend::origin().to_string();
    let data = &cap.fit.data;
    Some(densing_report::CapabilityFigures {
        reference: format!("the {} ruler", cap.map.family),
        models: cap
            .fixed
            .iter()
            .map(|d| densing_report::CapPoint {
                name: d.model.clone(),
                release_date: d.release.to_string(),
                rho: d.rho,
                rho_lo: d.rho_ci95.map_or(f64::NAN, |c| c[0]),
                rho_hi: d.rho_ci95.map_or(f64::NAN, |c| c[1]),
                in_trend: in_trend.contains(d.model.as_str()),
            })
            .collect(),
        lines: scales
            .references
            .iter()
            .map(|r| densing_report::RulerLine {
                family: r.reference.clone(),
                a: r.a,
                b: r.b,
                origin_date: origin.clone(),
                doubling_days: r.doubling_days,
                main: r.reference == cap.map.family,
            })
            .collect(),
        benchmarks: data
            .benches
            .iter()
            .enumerate()
            .map(|(b, bench)| densing_report::BenchPoint {
                name: bench.name.clone(),
                slope: cap.fit.params.ln_a[b].exp(),
                difficulty: cap.fit.params.d[b],
                n_scores: data
                    .cells
                    .iter()
                    .filter(|c| data.items[c.item].bench == b)
                    .count(),
            })
            .collect(),
    })
}
