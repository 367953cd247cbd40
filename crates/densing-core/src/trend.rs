//! The Densing-Law trend: `ln ρ_max = A·t + B`, t in days since 2023-02-24
//! (Llama-1's release), fitted by least squares on the *envelope* — the models
//! whose density exceeds every model released before them. Doubling time is
//! ln 2 / A. Uncertainty: each bootstrap replicate pairs a calibration replicate
//! (carried in every model's ln ρ) with a resample of models, and recomputes the
//! envelope and the line.

use crate::bootstrap::{percentile_interval, replicate_rng};
use crate::error::{Error, Result};
use chrono::NaiveDate;
use rand::Rng;
use serde::Serialize;

/// Day zero of the trend's time axis: LLaMA-1's release.
pub fn origin() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 2, 24).expect("valid date")
}

pub fn days_since_origin(d: NaiveDate) -> f64 {
    (d - origin()).num_days() as f64
}

/// A model on the trend's axes, with its ln ρ under every calibration replicate.
#[derive(Debug, Clone)]
pub struct TrendPoint {
    pub name: String,
    pub t: f64,
    pub ln_rho: f64,
    pub ln_rho_replicates: Vec<f64>,
}

/// Indices of the envelope: in release order (ties: densest first), each model
/// whose ln ρ exceeds the running maximum of everything released before it.
pub fn envelope(t: &[f64], ln_rho: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..t.len()).collect();
    order.sort_by(|&a, &b| t[a].total_cmp(&t[b]).then(ln_rho[b].total_cmp(&ln_rho[a])));
    let mut best = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for i in order {
        if ln_rho[i] > best {
            best = ln_rho[i];
            out.push(i);
        }
    }
    out
}

/// Ordinary least squares `y = A·x + B`; `None` with fewer than two distinct x.
pub fn fit_line(x: &[f64], y: &[f64]) -> Option<(f64, f64, f64)> {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    if x.len() < 2 || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let a = sxy / sxx;
    let r2 = if syy > 0.0 { a * sxy / syy } else { 1.0 };
    Some((a, my - a * mx, r2))
}

/// A 95% band point of the fitted line, in ln ρ.
#[derive(Debug, Clone, Serialize)]
pub struct BandPoint {
    pub t_days: f64,
    pub lo: f64,
    pub hi: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendFit {
    /// Slope of ln ρ_max per day.
    #[serde(rename = "A")]
    pub a: f64,
    #[serde(rename = "B")]
    pub b: f64,
    pub r2: f64,
    pub doubling_days: f64,
    pub a_ci95: Option<[f64; 2]>,
    /// 95% CI of the doubling time; the upper end is `None` (unbounded) when
    /// the slope's CI reaches zero.
    pub doubling_ci95: Option<[Option<f64>; 2]>,
    pub n_points: usize,
    pub envelope: Vec<String>,
    pub band: Vec<BandPoint>,
    pub replicates_used: usize,
}

/// Fit the trend with a bootstrap of `replicates` (0 = point fit only).
pub fn fit_trend(points: &[TrendPoint], replicates: usize, seed: u64) -> Result<TrendFit> {
    let t: Vec<f64> = points.iter().map(|p| p.t).collect();
    let y: Vec<f64> = points.iter().map(|p| p.ln_rho).collect();
    let env = envelope(&t, &y);
    let ex: Vec<f64> = env.iter().map(|&i| t[i]).collect();
    let ey: Vec<f64> = env.iter().map(|&i| y[i]).collect();
    let (a, b, r2) = fit_line(&ex, &ey).ok_or_else(|| {
        Error::Fit(format!(
            "the density envelope has {} model(s) at fewer than two release dates; no trend can be fitted",
            env.len()
        ))
    })?;
    let mut lines = Vec::new();
    for r in 0..replicates {
        let mut rng = replicate_rng(seed ^ 0x7472656e64, r);
        let idx: Vec<usize> = (0..points.len())
            .map(|_| rng.random_range(0..points.len()))
            .collect();
        let rt: Vec<f64> = idx.iter().map(|&i| t[i]).collect();
        let ry: Vec<f64> = idx
            .iter()
            .map(|&i| points[i].ln_rho_replicates.get(r).copied().unwrap_or(y[i]))
            .collect();
        let env = envelope(&rt, &ry);
        let x: Vec<f64> = env.iter().map(|&i| rt[i]).collect();
        let yy: Vec<f64> = env.iter().map(|&i| ry[i]).collect();
        if let Some((ra, rb, _)) = fit_line(&x, &yy) {
            lines.push((ra, rb));
        }
    }
    let (a_ci95, doubling_ci95, band) = if lines.len() >= 20 {
        let ci = percentile_interval(&lines.iter().map(|l| l.0).collect::<Vec<_>>(), 0.95);
        let dci = [
            (ci[1] > 0.0).then(|| std::f64::consts::LN_2 / ci[1]),
            (ci[0] > 0.0).then(|| std::f64::consts::LN_2 / ci[0]),
        ];
        let (t0, t1) = (
            t.iter().copied().fold(f64::INFINITY, f64::min),
            t.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let band = crate::fit::linspace(t0, t1, 60)
            .into_iter()
            .map(|tt| {
                let vals: Vec<f64> = lines.iter().map(|(la, lb)| la * tt + lb).collect();
                let [lo, hi] = percentile_interval(&vals, 0.95);
                BandPoint { t_days: tt, lo, hi }
            })
            .collect();
        (Some(ci), Some(dci), band)
    } else {
        (None, None, Vec::new())
    };
    Ok(TrendFit {
        a,
        b,
        r2,
        doubling_days: std::f64::consts::LN_2 / a,
        a_ci95,
        doubling_ci95,
        n_points: points.len(),
        envelope: env.iter().map(|&i| points[i].name.clone()).collect(),
        band,
        replicates_used: lines.len(),
    })
}

/// Halving time (days) of a price from (date, price) points: least squares on
/// ln price, halving = −ln 2 / slope.
pub fn price_halving_days(points: &[(NaiveDate, f64)]) -> Result<f64> {
    let x: Vec<f64> = points.iter().map(|p| days_since_origin(p.0)).collect();
    let y: Vec<f64> = points.iter().map(|p| p.1.ln()).collect();
    let (a, _, _) = fit_line(&x, &y)
        .ok_or_else(|| Error::Invalid("price data need at least two dates".into()))?;
    if a >= 0.0 {
        return Err(Error::Invalid(
            "prices do not fall over time; no halving time".into(),
        ));
    }
    Ok(-std::f64::consts::LN_2 / a)
}

/// Density and hardware price-performance growth compound:
/// `1/T = 1/T_density + 1/T_hardware`.
pub fn combined_doubling_days(density_days: f64, hardware_years: f64) -> f64 {
    1.0 / (1.0 / density_days + 1.0 / (hardware_years * 365.25))
}
