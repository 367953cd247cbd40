//! What every trend inference works on: a model's release time and ln ρ with
//! its calibration draws ([`TrendPoint`]), and the level at which a test calls
//! a trend. A module of its own so that the bootstrap ([`super::inference`])
//! and the permutation test ([`super::permutation`]) share it without
//! depending on each other.

use super::estimator::Obs;
use crate::density::Bounded;
use rand::Rng;

/// Significance level at which the CLI and the report call a trend distinguishable from none.
pub const ALPHA: f64 = 0.05;

/// A model on the trend's axes: its ln ρ (a number or a bound) and its ln ρ
/// under every calibration draw, indexed by draw (empty: no calibration
/// uncertainty, the point value is used in every replicate).
#[derive(Debug, Clone)]
pub struct TrendPoint {
    pub name: String,
    pub family: String,
    pub t: f64,
    pub ln_rho: Bounded,
    pub ln_rho_replicates: Vec<Bounded>,
}

impl TrendPoint {
    pub fn obs(&self) -> Obs {
        Obs {
            t: self.t,
            y: self.ln_rho,
        }
    }

    /// ln ρ under calibration draw `r`.
    pub fn replicate(&self, r: usize) -> Bounded {
        if self.ln_rho_replicates.is_empty() {
            self.ln_rho
        } else {
            self.ln_rho_replicates[r % self.ln_rho_replicates.len()]
        }
    }
}

/// Bootstrap replicate `r`'s sample: as many families as there are, drawn
/// with replacement (a family's members travel together), each model at its
/// calibration draw `r`; undetermined draws are left out of the replicate.
pub fn resample_families(
    points: &[TrendPoint],
    members: &[Vec<usize>],
    r: usize,
    rng: &mut impl Rng,
) -> Vec<Obs> {
    (0..members.len())
        .flat_map(|_| &members[rng.random_range(0..members.len())])
        .map(|&i| Obs {
            t: points[i].t,
            y: points[i].replicate(r),
        })
        .filter(|o| o.y != Bounded::Undetermined)
        .collect()
}
