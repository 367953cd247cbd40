//! Fill the report crate's plain-data input from an analysis. Curves are sampled
//! here so the report never needs the fitting code.

use crate::run::{Analysis, Summary};
use densing_core::calibration::{Calibration, Curve};
use densing_core::density::Bounded;
use densing_core::trend::{days_since_origin, origin, EstimatorKind, TrendFit};
use densing_report as rep;

fn trend(t: &TrendFit) -> rep::Trend {
    rep::Trend {
        a: t.a,
        b: t.b,
        r2: t.r2,
        estimator: t.estimator.label(),
        p_value: t.p_value,
        n_censored: t.n_censored,
        doubling_days: t.doubling_days,
        doubling_ci95: t.doubling_ci95,
        origin_date: origin().to_string(),
        band: t
            .band
            .iter()
            .map(|b| rep::BandPoint {
                t_days: b.t_days,
                lo: b.lo,
                hi: b.hi,
            })
            .collect(),
        n_points: t.n_points,
    }
}

/// The report's input: every model row, the trend and its band, the split, the
/// sweep, residuals of every fit, the two-step figures, methods and caveats.
pub fn report_input(analysis: &Analysis) -> rep::ReportInput {
    let (s, summary, cal) = (&analysis.study, &analysis.summary, &analysis.calibration);
    let models = s
        .densities
        .iter()
        .map(|d| rep::ModelRow {
            name: d.name.clone(),
            family: d.family.clone(),
            release_date: d.release.to_string(),
            params: d.params_b,
            n_hat: d.n_hat.value(),
            n_hat_ci95: d.n_hat_ci95,
            rho: d.rho.value(),
            rho_ci95: d.rho_ci95,
            censor: match d.rho {
                Bounded::AtLeast(b) => Some(rep::Censor {
                    kind: rep::CensorKind::Lower,
                    bound: b,
                }),
                Bounded::AtMost(b) => Some(rep::Censor {
                    kind: rep::CensorKind::Upper,
                    bound: b,
                }),
                _ => None,
            },
            on_envelope: s.trend.envelope.contains(&d.name),
            in_trend: d.in_trend,
            flags: d.flags.clone(),
            parent: d.parent.clone(),
            source: d.source.clone(),
            scores: d
                .per_benchmark
                .iter()
                .map(|e| (e.benchmark.key().to_string(), e.score * 100.0))
                .collect(),
        })
        .collect();
    let mut residuals: Vec<rep::ResidualSet> = cal
        .curves
        .values()
        .flat_map(|c| {
            c.fits.iter().map(move |(name, f)| rep::ResidualSet {
                fit_name: format!("{name} (fitted − observed)"),
                x_label: if matches!(c.curve, Curve::Family(_)) {
                    "reference parameters N (billions)".into()
                } else {
                    "observation".into()
                },
                points: f
                    .residuals
                    .iter()
                    .enumerate()
                    .map(|(i, r)| [c.points.get(i).and_then(|p| p.n).unwrap_or(i as f64), *r])
                    .collect(),
            })
        })
        .collect();
    // The envelope estimator fits the envelope's points; the others every trend model.
    let fitted = |d: &densing_core::density::ModelDensity| match s.trend.estimator {
        EstimatorKind::Envelope => s.trend.envelope.contains(&d.name),
        _ => d.in_trend,
    };
    residuals.push(rep::ResidualSet {
        fit_name: format!(
            "trend, {} (observed − fitted ln ρ)",
            s.trend.estimator.label()
        ),
        x_label: format!("days since {}", origin()),
        points: s
            .densities
            .iter()
            .filter(|d| fitted(d))
            .filter_map(|d| {
                let t = days_since_origin(d.release);
                d.rho
                    .value()
                    .map(|r| [t, r.ln() - (s.trend.a * t + s.trend.b)])
            })
            .collect(),
    });
    let split = summary.split.as_ref().and_then(|sp| {
        Some(rep::SplitTrend {
            date: sp.date.to_string(),
            before: trend(sp.before.as_ref()?),
            after: trend(sp.after.as_ref()?),
        })
    });
    let sweep = summary.sweep.as_ref().map(|rows| {
        rows.iter()
            .filter_map(|r| {
                Some(rep::SweepRow {
                    label: format!("{}: {}", r.dimension, r.choice),
                    doubling_days: r.doubling_days?,
                    ci95: r.doubling_ci95.and_then(|[lo, hi]| Some([lo?, hi?])),
                    n: r.n_models,
                })
            })
            .collect()
    });
    // The figures' footnote has one line for it: the run's label is longer on
    // the capability scale (the methods say how the intervals pool the rulers).
    let reference = match &analysis.capability {
        Some(c) if on_capability_scale(summary) => format!(
            "the capability scale (IRT over {} benchmarks), ruler {}",
            c.fit.data.benches.len(),
            c.map.family
        ),
        _ => s.reference.clone(),
    };
    rep::ReportInput {
        reference,
        generated_by: format!("densing {}", env!("CARGO_PKG_VERSION")),
        params_basis: summary.params_basis.clone(),
        models,
        trend: Some(trend(&s.trend)),
        split,
        ladder: ladder_figure(cal),
        score_map: score_map_figure(cal),
        residuals,
        sweep,
        backtest: summary
            .backtest
            .iter()
            .flatten()
            .map(|r| rep::BacktestPoint {
                estimator: r.estimator.label(),
                cutoff: r.cutoff.to_string(),
                horizon_days: r.horizon_days,
                law_log_error: r.law_log_error,
                baseline_log_error: r.baseline_log_error,
            })
            .collect(),
        methods: methods(cal, summary, on_capability_scale(summary)),
        caveats: caveats(summary),
        capability: crate::scale::capability_figures(analysis),
    }
}

/// Whether the run's densities are on the capability scale.
fn on_capability_scale(s: &Summary) -> bool {
    s.scales
        .as_ref()
        .is_some_and(|c| c.main == crate::capability::Scale::Capability)
}

/// The first two paragraphs: how a density is measured on the run's scale.
fn scale_methods(cal: &Calibration, capability: bool) -> [String; 2] {
    if capability {
        return [
            "Capability scale: one latent capability θ per model, fitted jointly with each benchmark's slope and difficulty over every score in the registry (score = c + (1 − c)·σ(a·(θ − d)), c the benchmark's chance level; least squares with a weak ridge). A reference family's base sizes fix a monotone map from θ to ln N (a rising quadratic inside their range, the slope β of the line θ = α + β·ln N beyond it), so a model's effective size N̂ is the size at which the reference family reaches its θ, and its density ρ = N̂ / N; N̂ beyond the reference's sizes is flagged as extrapolated, never clamped.".into(),
            format!("The trend's interval pools the rulers: bootstrap replicate r reads its densities through eligible reference family r mod K (sizes resampled), so the choice of reference is inside the interval. The five-benchmark scale ({}) is fitted beside it; both are in the run's `scales` table.", cal.description),
        ];
    }
    [
        format!(
            "Calibration: {}. For each benchmark a curve S(N) maps parameters to score; a model's effective size N̂ is the N at which the reference curve reaches the model's score, and its density is ρ = N̂ / N.",
            cal.description
        ),
        "Benchmarks are combined by the geometric mean of their N̂. Scores beyond a curve's ceiling or at/below its floor give only a bound (ρ > x or ρ < x), never a number.".into(),
    ]
}

fn methods(cal: &Calibration, s: &Summary, capability: bool) -> Vec<String> {
    let [scale, combine] = scale_methods(cal, capability);
    vec![
        scale,
        combine,
        format!(
            "Trend: ln ρ = A·t + B fitted by the {} estimator, t in days since {}; doubling time = ln 2 / A. {} Models known only as ρ > x ({} here) {}. The 95% intervals come from {} bootstrap replicates that resample model families and carry the calibration's own bootstrap through; their coverage was measured on simulated registries (`densing simulate`).",
            s.trend.estimator.label(),
            origin(),
            match s.trend.estimator {
                EstimatorKind::Envelope => "The paper's estimator: least squares on the envelope (models denser than everything released before them).",
                EstimatorKind::Quantile { .. } => "Quantile regression of ln ρ on t at a high quantile: a frontier that every model with a numeric density informs.",
                EstimatorKind::CensoredQuantile { .. } => "Quantile regression of ln ρ on t at a high quantile: a frontier that every model informs, censored ones included.",
            },
            s.n_censored,
            if s.trend.estimator.uses_censored() { "constrain the fit as bounds" } else { "are left out of the fit" },
            s.trend.replicates_used
        ),
        format!(
            "Null: a one-sided permutation test refits the same estimator on {} registries whose release dates are shuffled among the model families; p = (1 + #slopes ≥ observed)/(1 + permutations). Here p = {}.",
            s.trend.permutations,
            s.p_value.map_or("not computed".into(), |p| format!("{p:.3}"))
        ),
    ]
}

fn caveats(s: &Summary) -> Vec<String> {
    let mut c = vec![
        "Densities are relative to the reference: a different reference family moves every ρ, and mostly leaves the doubling time alone (see the sweep).".into(),
        "Scores come from each model's report or card with differing prompts and shot counts; the registry records the source of every number.".into(),
    ];
    if s.trend.distinguishable() == Some(false) {
        c.push(format!("The {}.", s.verdict));
    }
    if s.doubling_ci95.is_some_and(|ci| ci[1].is_none()) {
        c.push("The slope's 95% interval reaches zero, so the doubling time has no finite upper bound.".into());
    }
    c.extend(s.warnings.iter().cloned());
    c
}

/// Fig. 2a: the ladder's runs and the fitted law along each N (two-step only).
fn ladder_figure(cal: &Calibration) -> Option<rep::LadderFigure> {
    let law = cal.curves.values().find_map(|c| match c.curve {
        Curve::TwoStep { law, .. } => Some(law),
        Curve::Family(_) => None,
    })?;
    let mut sizes: Vec<f64> = cal.ladder.iter().map(|p| p.params).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let curves = sizes
        .iter()
        .map(|&n| {
            let ds: Vec<f64> = cal
                .ladder
                .iter()
                .filter(|p| p.params == n)
                .map(|p| p.tokens)
                .collect();
            let (lo, hi) = ds
                .iter()
                .fold((f64::INFINITY, 0.0f64), |(a, b), &d| (a.min(d), b.max(d)));
            let points = (0..=40)
                .map(|i| {
                    let d = lo * (hi / lo).powf(i as f64 / 40.0);
                    [6.0 * n * d, law.loss(n, d)]
                })
                .collect();
            rep::LadderCurve { params: n, points }
        })
        .collect();
    Some(rep::LadderFigure {
        points: cal
            .ladder
            .iter()
            .map(|p| rep::LadderPoint {
                params: p.params,
                tokens: p.tokens,
                loss: p.loss,
            })
            .collect(),
        curves,
    })
}

/// Fig. 2b: anchors and the fitted sigmoid of the first two-step benchmark.
fn score_map_figure(cal: &Calibration) -> Option<rep::ScoreMapFigure> {
    let (bench, bc, map) = cal.curves.iter().find_map(|(b, c)| match c.curve {
        Curve::TwoStep { map, .. } => Some((b, c, map)),
        Curve::Family(_) => None,
    })?;
    let losses: Vec<f64> = bc.points.iter().filter_map(|p| p.loss).collect();
    let (lo, hi) = losses
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &l| (a.min(l), b.max(l)));
    let pad = 0.1 * (hi - lo);
    Some(rep::ScoreMapFigure {
        benchmark: bench.key().to_string(),
        points: bc
            .points
            .iter()
            .filter_map(|p| {
                Some(rep::ScorePoint {
                    loss: p.loss?,
                    score: p.score,
                    name: p.name.clone(),
                    heldout: false,
                })
            })
            .collect(),
        curve: (0..=60)
            .map(|i| {
                let l = lo - pad + (hi - lo + 2.0 * pad) * i as f64 / 60.0;
                [l, map.score(l)]
            })
            .collect(),
    })
}
