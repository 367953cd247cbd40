//! The capability scale's figures as plain data: densities against release
//! date with the trend line under each eligible reference family, and the
//! benchmark map (difficulty against slope). Drawn by `figures::capability`;
//! the report inlines them after the density figure
//! ([`ReportInput::capability`](crate::ReportInput::capability)).

use serde::{Deserialize, Serialize};

/// One model on the capability scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapPoint {
    pub name: String,
    /// YYYY-MM-DD.
    pub release_date: String,
    pub rho: f64,
    pub rho_lo: f64,
    pub rho_hi: f64,
    pub in_trend: bool,
}

/// The trend `ln ρ = a·t + b` (t in days since `origin_date`) read through one
/// reference family; `main` for the family the points are read through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulerLine {
    pub family: String,
    pub a: f64,
    pub b: f64,
    pub origin_date: String,
    pub doubling_days: f64,
    pub main: bool,
}

/// One benchmark's fitted slope and difficulty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchPoint {
    pub name: String,
    pub slope: f64,
    pub difficulty: f64,
    pub n_scores: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilityFigures {
    /// The ruler the points are read through, in words.
    pub reference: String,
    pub models: Vec<CapPoint>,
    pub lines: Vec<RulerLine>,
    pub benchmarks: Vec<BenchPoint>,
}
