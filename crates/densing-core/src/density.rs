//! Capability density ρ = N̂/N of each model against a calibration.
//!
//! Per benchmark, N̂ is read off the calibration curve; benchmarks are combined
//! by the geometric mean of N̂ (and, as a variant, by inverting the mean score
//! against the mean reference curve). Out-of-range scores give *bounds*: a score
//! beyond the reference's ceiling means the model beats the reference at every
//! size, so N̂ ≥ the largest reference size; at or below the floor, N̂ ≤ the
//! smallest. Bounds propagate; they are never turned into numbers.

use crate::bootstrap::percentile_interval;
use crate::calibration::{Calibration, Curve};
use crate::law::Inverse;
use crate::registry::{Benchmark, Model, ParamsBasis, Weights};
use chrono::NaiveDate;
use serde::Serialize;

/// A quantity that may be censored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Bounded {
    Value(f64),
    /// The true value is at least this.
    AtLeast(f64),
    /// The true value is at most this.
    AtMost(f64),
    /// Benchmarks disagree in direction (one above the reference's range, one below).
    Undetermined,
}

impl Bounded {
    pub fn value(self) -> Option<f64> {
        match self {
            Bounded::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The number itself or its bound (for plotting and replicate statistics).
    pub fn bound_or_value(self) -> Option<f64> {
        match self {
            Bounded::Value(v) | Bounded::AtLeast(v) | Bounded::AtMost(v) => Some(v),
            Bounded::Undetermined => None,
        }
    }

    pub fn scale(self, k: f64) -> Bounded {
        match self {
            Bounded::Value(v) => Bounded::Value(v * k),
            Bounded::AtLeast(v) => Bounded::AtLeast(v * k),
            Bounded::AtMost(v) => Bounded::AtMost(v * k),
            Bounded::Undetermined => Bounded::Undetermined,
        }
    }

    /// The quantity plus `d`, bounds kept as bounds (detrending a ln ρ).
    pub fn shift(self, d: f64) -> Bounded {
        match self {
            Bounded::Value(v) => Bounded::Value(v + d),
            Bounded::AtLeast(v) => Bounded::AtLeast(v + d),
            Bounded::AtMost(v) => Bounded::AtMost(v + d),
            Bounded::Undetermined => Bounded::Undetermined,
        }
    }

    /// The natural log, bounds kept as bounds (ln is increasing).
    pub fn ln(self) -> Bounded {
        match self {
            Bounded::Value(v) => Bounded::Value(v.ln()),
            Bounded::AtLeast(v) => Bounded::AtLeast(v.ln()),
            Bounded::AtMost(v) => Bounded::AtMost(v.ln()),
            Bounded::Undetermined => Bounded::Undetermined,
        }
    }

    /// Whether only a bound is known.
    pub fn is_censored(self) -> bool {
        matches!(self, Bounded::AtLeast(_) | Bounded::AtMost(_))
    }

    /// `1.23`, `> 4.5`, `< 0.1`, `undetermined`.
    pub fn short(self) -> String {
        match self {
            Bounded::Value(v) => sig(v),
            Bounded::AtLeast(v) => format!("> {}", sig(v)),
            Bounded::AtMost(v) => format!("< {}", sig(v)),
            Bounded::Undetermined => "undetermined".into(),
        }
    }
}

/// Three significant figures, without scientific notation for ordinary sizes.
pub fn sig(v: f64) -> String {
    if v == 0.0 || !(1e-3..1e5).contains(&v.abs()) {
        format!("{v:.2e}")
    } else {
        let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
        format!("{v:.digits$}")
    }
}

/// Geometric mean of per-benchmark estimates, keeping censoring honest.
pub fn combine(estimates: &[Bounded]) -> Bounded {
    let (mut above, mut below) = (false, false);
    let mut log_sum = 0.0;
    for e in estimates {
        match e {
            Bounded::Value(v) => log_sum += v.ln(),
            Bounded::AtLeast(v) => {
                above = true;
                log_sum += v.ln()
            }
            Bounded::AtMost(v) => {
                below = true;
                log_sum += v.ln()
            }
            Bounded::Undetermined => return Bounded::Undetermined,
        }
    }
    let g = (log_sum / estimates.len() as f64).exp();
    match (above, below) {
        (false, false) => Bounded::Value(g),
        (true, false) => Bounded::AtLeast(g),
        (false, true) => Bounded::AtMost(g),
        (true, true) => Bounded::Undetermined,
    }
}

/// Which models and benchmarks enter, and on what parameter basis.
#[derive(Debug, Clone)]
pub struct DensityOptions {
    pub basis: ParamsBasis,
    pub benchmarks: Vec<Benchmark>,
    /// Models with fewer benchmarks are reported but kept out of the trend.
    pub min_benchmarks: usize,
    /// Let chat-tuned releases into the trend.
    pub include_chat: bool,
    /// Only the paper's 29 models (`in_densing_fig1`) enter the trend.
    pub fig1_only: bool,
}

impl Default for DensityOptions {
    fn default() -> Self {
        DensityOptions {
            basis: ParamsBasis::Nonemb,
            benchmarks: Benchmark::paper(),
            min_benchmarks: 4,
            include_chat: false,
            fig1_only: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchEstimate {
    pub benchmark: Benchmark,
    pub score: f64,
    /// N̂ in billions.
    pub n_hat: Bounded,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelDensity {
    pub name: String,
    pub family: String,
    pub release: NaiveDate,
    /// N on the chosen basis, billions.
    pub params_b: f64,
    pub per_benchmark: Vec<BenchEstimate>,
    /// Geometric-mean N̂, billions.
    pub n_hat: Bounded,
    pub n_hat_ci95: Option<[f64; 2]>,
    pub rho: Bounded,
    pub rho_ci95: Option<[f64; 2]>,
    /// Calibration draws under which ρ is only a bound (`ρ > x` or `ρ < x`).
    pub replicates_censored: usize,
    /// Calibration draws under which ρ is undetermined (benchmarks disagree in direction).
    pub replicates_undetermined: usize,
    /// The 95% interval reaches a censored draw: an end of `rho_ci95` is then
    /// only a bound set by the reference's range, and the interval is wider than shown.
    pub ci_cut_by_range: bool,
    /// ρ from the mean score against the mean reference curve.
    pub rho_mean_score: Bounded,
    pub flags: Vec<String>,
    pub in_trend: bool,
    pub in_densing_fig1: bool,
    pub parent: Option<String>,
    pub source: String,
    /// ln ρ under each calibration draw, indexed by draw: censored draws stay
    /// bounds, undetermined draws stay undetermined.
    #[serde(skip)]
    pub ln_rho_replicates: Vec<Bounded>,
}

/// Largest N̂/N_max_ref beyond which a finite N̂ is flagged as extrapolated.
const EXTRAPOLATION_FACTOR: f64 = 2.0;

fn n_hat_of(curve: &Curve, score: f64, support: (f64, f64)) -> Bounded {
    match curve.invert(score) {
        Inverse::Value(n) => Bounded::Value(n),
        Inverse::AboveRange => Bounded::AtLeast(support.1),
        Inverse::BelowRange => Bounded::AtMost(support.0),
    }
}

/// Geometric-mean N̂ over `used` benchmarks under replicate `r` (`None`: the
/// point curves). Also how `densing simulate` re-inverts synthetic scores.
pub fn combined_n_hat(cal: &Calibration, used: &[(Benchmark, f64)], r: Option<usize>) -> Bounded {
    let est: Vec<Bounded> = used
        .iter()
        .filter_map(|(b, s)| cal.curve(*b, r).map(|c| n_hat_of(c, *s, cal.support)))
        .collect();
    if est.is_empty() {
        Bounded::Undetermined
    } else {
        combine(&est)
    }
}

/// Invert the mean score against the mean of the reference curves, by bisection
/// in ln N (every curve is increasing in N).
fn mean_score_n_hat(cal: &Calibration, used: &[(Benchmark, f64)]) -> Bounded {
    let curves: Vec<&Curve> = used
        .iter()
        .filter_map(|(b, _)| cal.curve(*b, None))
        .collect();
    if curves.is_empty() {
        return Bounded::Undetermined;
    }
    let target = used.iter().map(|(_, s)| s).sum::<f64>() / used.len() as f64;
    let mean =
        |ln_n: f64| curves.iter().map(|c| c.score(ln_n.exp())).sum::<f64>() / curves.len() as f64;
    let (mut lo, mut hi) = ((1e-6f64).ln(), (1e6f64).ln());
    if target <= mean(lo) {
        return Bounded::AtMost(cal.support.0);
    }
    if target >= mean(hi) {
        return Bounded::AtLeast(cal.support.1);
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mean(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Bounded::Value((0.5 * (lo + hi)).exp())
}

/// Density of one model.
pub fn model_density(m: &Model, cal: &Calibration, opts: &DensityOptions) -> ModelDensity {
    let params_b = m.params(opts.basis);
    let used: Vec<(Benchmark, f64)> = opts
        .benchmarks
        .iter()
        .filter(|b| cal.curves.contains_key(b))
        .filter_map(|b| m.score(*b).map(|s| (*b, s)))
        .collect();
    let per_benchmark: Vec<BenchEstimate> = used
        .iter()
        .map(|(b, s)| BenchEstimate {
            benchmark: *b,
            score: *s,
            n_hat: n_hat_of(
                cal.curve(*b, None).expect("filtered to calibrated"),
                *s,
                cal.support,
            ),
        })
        .collect();
    let n_hat = combined_n_hat(cal, &used, None);
    let reps: Vec<Bounded> = (0..cal.replicates)
        .map(|r| combined_n_hat(cal, &used, Some(r)))
        .collect();
    let replicates_undetermined = reps.iter().filter(|r| **r == Bounded::Undetermined).count();
    let replicates_censored = reps.iter().filter(|r| r.is_censored()).count();
    // Percentiles over the determined draws, censored ones at their bound: a
    // tail holding more than 2.5% of censored draws makes that end a bound.
    let determined: Vec<f64> = reps.iter().filter_map(|r| r.bound_or_value()).collect();
    let tail_share = |pred: fn(&Bounded) -> bool| {
        reps.iter().filter(|r| pred(r)).count() as f64 / determined.len().max(1) as f64
    };
    let ci_cut_by_range = tail_share(|r| matches!(r, Bounded::AtLeast(_))) > 0.025
        || tail_share(|r| matches!(r, Bounded::AtMost(_))) > 0.025;
    let (n_hat_ci95, rho_ci95) = if n_hat.value().is_some() && !determined.is_empty() {
        let ci = percentile_interval(&determined, 0.95);
        (Some(ci), Some([ci[0] / params_b, ci[1] / params_b]))
    } else {
        (None, None)
    };
    let mut flags = Vec::new();
    let calibrated: Vec<Benchmark> = opts
        .benchmarks
        .iter()
        .copied()
        .filter(|b| cal.curves.contains_key(b))
        .collect();
    let missing: Vec<&str> = calibrated
        .iter()
        .filter(|b| !m.scores.contains_key(b))
        .map(|b| b.key())
        .collect();
    if !missing.is_empty() {
        flags.push(format!("missing {}", missing.join(",")));
    }
    for e in &per_benchmark {
        match e.n_hat {
            Bounded::AtLeast(_) => {
                flags.push(format!("{} above reference range", e.benchmark.key()))
            }
            Bounded::AtMost(_) => {
                flags.push(format!("{} at/below reference floor", e.benchmark.key()))
            }
            Bounded::Value(v)
                if v > EXTRAPOLATION_FACTOR * cal.support.1
                    || v < cal.support.0 / EXTRAPOLATION_FACTOR =>
            {
                flags.push(format!("{} extrapolated", e.benchmark.key()))
            }
            _ => {}
        }
    }
    for (b, _) in &used {
        let shots = m.scores.get(b).map(|s| s.shots);
        match (shots, b.def().shots) {
            (Some(Some(n)), Some(standard)) if n != standard => {
                flags.push(format!("{b} {n}-shot (standard {standard}-shot)"));
            }
            // A source that states no shots cannot be taken as the standard protocol.
            (Some(None), Some(standard)) => {
                flags.push(format!("{b} shots not stated (standard {standard}-shot)"));
            }
            _ => {}
        }
    }
    if m.weights == Weights::Chat {
        flags.push("chat release".into());
    }
    if replicates_undetermined > 0 {
        flags.push(format!(
            "undetermined in {replicates_undetermined} of {} calibration draws",
            cal.replicates
        ));
    }
    if ci_cut_by_range && n_hat.value().is_some() {
        flags.push("CI cut by reference range".into());
    }
    let enough = used.len() >= opts.min_benchmarks;
    if !enough {
        flags.push(format!(
            "{} benchmarks < {}",
            used.len(),
            opts.min_benchmarks
        ));
    }
    // Censored models enter the trend as bounds; only undetermined ones cannot.
    let in_trend = enough
        && n_hat != Bounded::Undetermined
        && (opts.include_chat || m.weights == Weights::Base)
        && (!opts.fig1_only || m.in_densing_fig1);
    ModelDensity {
        name: m.name.clone(),
        family: m.family.clone(),
        release: m.release,
        params_b,
        per_benchmark,
        n_hat,
        n_hat_ci95,
        rho: n_hat.scale(1.0 / params_b),
        rho_ci95,
        replicates_censored,
        replicates_undetermined,
        ci_cut_by_range,
        rho_mean_score: mean_score_n_hat(cal, &used).scale(1.0 / params_b),
        flags,
        in_trend,
        in_densing_fig1: m.in_densing_fig1,
        parent: m.parent.clone(),
        source: m.source.clone(),
        ln_rho_replicates: reps.iter().map(|n| n.scale(1.0 / params_b).ln()).collect(),
    }
}
