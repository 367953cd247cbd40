//! The Densing-Law trend: `ln ρ_max = A·t + B`, t in days since 2023-02-24
//! (Llama-1's release). Doubling time is ln 2 / A.
//!
//! The line comes from one of several [`estimator`]s (the paper's envelope
//! least squares, quantile regression without censored models, and Powell's
//! censored quantile regression); every estimator gets the same inference
//! ([`inference`]): a permutation test of "no trend" ([`permutation`]) that
//! refits on registries with the release dates shuffled among the families,
//! each shuffle carrying a calibration draw's ruler shift; the reported
//! interval, which inverts that test ([`inversion`]); and, beside it,
//! bootstrap intervals (percentile, BCa) that pair each calibration replicate
//! with a resample of model families. [`change`] tests a change of slope at a date
//! as one model, [`multiple`] adjusts the p-values a run reports (Holm), and
//! [`simulate`] measures how well all of it works on the real design.

pub mod change;
pub mod estimator;
pub mod inference;
pub mod interval;
pub mod inversion;
pub mod multiple;
pub mod permutation;
pub mod point;
pub mod quantile;
pub mod simulate;
pub mod size;

pub use change::{slope_change, SlopeChange};
pub use estimator::{Estimator, EstimatorKind, Line, Obs};
pub use inference::{fit_trend, BandPoint, TrendConfig, TrendFit, TrendPoint};
pub use multiple::{holm, TestRow};

use crate::error::{Error, Result};
use chrono::NaiveDate;

/// Day zero of the trend's time axis: LLaMA-1's release.
pub fn origin() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 2, 24).expect("valid date")
}

pub fn days_since_origin(d: NaiveDate) -> f64 {
    (d - origin()).num_days() as f64
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
