//! The reference map: a reference family's base sizes fix `θ = α + β·ln N`,
//! so a capability reads as the size a member of that family would need,
//! `N̂ = exp((θ − α)/β)` (billions), and `ρ = N̂/N`.
//!
//! A straight line in ln N because θ is a logit-scale quantity and the
//! reference family's scores follow sigmoids of ln N closely; the residuals of
//! the reference sizes around it are reported ([`RefMap::residual_sd`]). Beyond the
//! family's largest (or below its smallest) size N̂ is an extrapolation: it is
//! flagged, never clamped, and its bootstrap interval (which resamples the
//! reference's sizes) widens with the distance.

use super::data::CellData;
use crate::error::{Error, Result};
use crate::registry::{ParamsBasis, Registry, Weights};
use serde::Serialize;

/// Fewest distinct base sizes a reference family needs.
pub const MIN_REFERENCE_SIZES: usize = 4;

/// The reference family's fitted models: (index in the cell data, N billions).
#[derive(Debug, Clone)]
pub struct RefMembers {
    pub family: String,
    pub members: Vec<(usize, f64)>,
}

/// A fitted map θ ↔ ln N.
#[derive(Debug, Clone, Serialize)]
pub struct RefMap {
    pub family: String,
    pub alpha: f64,
    pub beta: f64,
    /// Smallest and largest reference size, billions.
    pub range: (f64, f64),
    pub n_sizes: usize,
    /// Standard deviation of the reference sizes' θ around the line.
    pub residual_sd: f64,
}

impl RefMap {
    /// ln N̂ (billions) of capability θ.
    pub fn ln_n_hat(&self, theta: f64) -> f64 {
        (theta - self.alpha) / self.beta
    }
}

impl RefMembers {
    /// The base models of `family` that have a capability, on `basis`; an
    /// error when there are fewer than [`MIN_REFERENCE_SIZES`] distinct sizes.
    pub fn of(
        reg: &Registry,
        data: &CellData,
        family: &str,
        basis: ParamsBasis,
    ) -> Result<RefMembers> {
        let rows: Vec<_> = reg
            .models
            .iter()
            .filter(|m| m.family.eq_ignore_ascii_case(family))
            .collect();
        if rows.is_empty() {
            return Err(Error::Invalid(format!(
                "reference family `{family}` is not in the registry; families with ≥ {MIN_REFERENCE_SIZES} base sizes: {}",
                eligible_families(reg, data, basis).join(", ")
            )));
        }
        let members: Vec<(usize, f64)> = rows
            .iter()
            .filter(|m| m.weights == Weights::Base)
            .filter_map(|m| data.model_index(&m.name).map(|i| (i, m.params(basis))))
            .collect();
        let n = distinct_sizes(&members);
        if n < MIN_REFERENCE_SIZES {
            let listed: Vec<String> = rows
                .iter()
                .map(|m| {
                    let why = if m.weights != Weights::Base {
                        " (chat: not a reference size)"
                    } else if data.model_index(&m.name).is_none() {
                        " (too few benchmarks: no capability)"
                    } else {
                        ""
                    };
                    format!("{} {}:{}{why}", m.name, m.file, m.line)
                })
                .collect();
            return Err(Error::Invalid(format!(
                "reference family `{family}` has {n} distinct base sizes with a capability \
                 (need ≥ {MIN_REFERENCE_SIZES}): {}",
                listed.join("; ")
            )));
        }
        Ok(RefMembers {
            family: rows[0].family.clone(),
            members,
        })
    }

    /// The least-squares line θ = α + β ln N over the members picked by
    /// `pick` (indices into `members`, repeats allowed) under capabilities
    /// `theta`; `None` when fewer than 2 distinct sizes or β ≤ 0.
    pub fn fit(&self, theta: &[f64], pick: &[usize]) -> Option<RefMap> {
        let x: Vec<f64> = pick.iter().map(|&j| self.members[j].1.ln()).collect();
        let y: Vec<f64> = pick.iter().map(|&j| theta[self.members[j].0]).collect();
        let (beta, alpha, _) = crate::trend::fit_line(&x, &y)?;
        if beta <= 0.0 || !beta.is_finite() {
            return None;
        }
        let n = x.len() as f64;
        let ss: f64 = x
            .iter()
            .zip(&y)
            .map(|(x, y)| (y - alpha - beta * x).powi(2))
            .sum();
        let sizes: Vec<f64> = pick.iter().map(|&j| self.members[j].1).collect();
        Some(RefMap {
            family: self.family.clone(),
            alpha,
            beta,
            range: (
                sizes.iter().copied().fold(f64::INFINITY, f64::min),
                sizes.iter().copied().fold(0.0, f64::max),
            ),
            n_sizes: distinct_sizes(&pick.iter().map(|&j| self.members[j]).collect::<Vec<_>>()),
            residual_sd: (ss / (n - 2.0).max(1.0)).sqrt(),
        })
    }

    /// The map over every member.
    pub fn fit_all(&self, theta: &[f64]) -> Option<RefMap> {
        self.fit(theta, &(0..self.members.len()).collect::<Vec<_>>())
    }
}

fn distinct_sizes(members: &[(usize, f64)]) -> usize {
    let mut s: Vec<f64> = members.iter().map(|m| m.1).collect();
    s.sort_by(f64::total_cmp);
    s.dedup();
    s.len()
}

/// Families with at least [`MIN_REFERENCE_SIZES`] distinct base sizes that
/// have a capability: the eligible references.
pub fn eligible_families(reg: &Registry, data: &CellData, basis: ParamsBasis) -> Vec<String> {
    reg.families()
        .into_iter()
        .filter(|f| {
            let members: Vec<(usize, f64)> = reg
                .models
                .iter()
                .filter(|m| m.family == *f && m.weights == Weights::Base)
                .filter_map(|m| data.model_index(&m.name).map(|i| (i, m.params(basis))))
                .collect();
            distinct_sizes(&members) >= MIN_REFERENCE_SIZES
        })
        .map(str::to_string)
        .collect()
}
