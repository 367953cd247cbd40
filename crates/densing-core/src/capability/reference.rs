//! The reference map: a reference family's base sizes fix a monotone map
//! θ ↔ ln N, so a capability reads as the size a member of that family would
//! need, N̂ (billions), and `ρ = N̂/N`.
//!
//! The map is the *hybrid* of two fits to the sizes' (ln N, θ): inside the
//! family's range of sizes, the least-squares quadratic in ln N constrained to
//! rise ([`MonotoneQuadratic`]: scores follow sigmoids of ln N, so θ bends
//! where a family's small or large sizes saturate); beyond it, the straight
//! line `θ = α + β·ln N`'s slope β, continued from the curve's end. Measured
//! by leaving each size of the 8 eligible families out and predicting its
//! ln N from its θ (`validate::leave_one_size_out`, BENCHMARKS.md), the hybrid
//! errs 0.545 on average against the line's 0.703 (0.271 vs 0.431 inside the
//! range); the quadratic's own end slope beyond the range errs 2.14 (a flat
//! end extrapolates without bound). With fewer than 3 distinct sizes (a
//! bootstrap resample can leave two) the map is the line alone.
//!
//! Beyond the family's largest (or below its smallest) size N̂ is an
//! extrapolation: it is flagged, never clamped, and its bootstrap interval
//! (which resamples the reference's sizes) widens with the distance.

use super::data::CellData;
use crate::error::{Error, Result};
use crate::registry::{ParamsBasis, Registry, Weights};
use serde::Serialize;

/// Fewest distinct base sizes a reference family needs.
pub const MIN_REFERENCE_SIZES: usize = 4;

/// Share of its sizes' θ variance the line θ = α + β·ln N must explain for a
/// family to serve as one of the pooled rulers. A family whose capability
/// does not follow its size (scores unrelated to size, β > 0 by chance) has
/// a nearly flat line whose inverse scatters N̂ over many orders of magnitude;
/// the 8 rulers of the bundled registry have R² ≥ 0.9.
pub const MIN_RULER_R2: f64 = 0.5;

/// The reference family's fitted models: (index in the cell data, N billions).
#[derive(Debug, Clone)]
pub struct RefMembers {
    pub family: String,
    pub members: Vec<(usize, f64)>,
}

/// A fitted map θ ↔ ln N (see the module doc).
#[derive(Debug, Clone, Serialize)]
pub struct RefMap {
    pub family: String,
    /// The straight line θ = α + β·ln N; β is also the map's slope beyond
    /// the sizes.
    pub alpha: f64,
    pub beta: f64,
    /// The monotone quadratic inside the sizes (`None`: fewer than 3 distinct
    /// sizes, the line is the map).
    pub curve: Option<MonotoneQuadratic>,
    /// Smallest and largest reference size, billions.
    pub range: (f64, f64),
    pub n_sizes: usize,
    /// Standard deviation of the reference sizes' θ around the map.
    pub residual_sd: f64,
    /// Share of the sizes' θ variance the line explains.
    pub r_squared: f64,
}

impl RefMap {
    /// ln N̂ (billions) of capability θ.
    pub fn ln_n_hat(&self, theta: f64) -> f64 {
        match &self.curve {
            Some(c) => c.ln_n(theta, Some(self.beta)),
            None => (theta - self.alpha) / self.beta,
        }
    }

    /// The map in words: the monotone curve inside the sizes with the line's
    /// slope beyond them, or the line alone.
    pub fn describe(&self) -> String {
        match self.curve {
            Some(_) => format!(
                "monotone curve in ln N, beyond the sizes the slope of θ = {:.3} + {:.3}·ln N",
                self.alpha, self.beta
            ),
            None => format!("θ = {:.3} + {:.3}·ln N", self.alpha, self.beta),
        }
    }

    /// θ of a model of size `ln_n` (ln billions) on the map.
    pub fn theta_at(&self, ln_n: f64) -> f64 {
        match &self.curve {
            Some(c) => c.theta_at(ln_n, self.beta),
            None => self.alpha + self.beta * ln_n,
        }
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

    /// The map over the members picked by `pick` (indices into `members`,
    /// repeats allowed) under capabilities `theta`; `None` when fewer than 2
    /// distinct sizes or the line's β ≤ 0 (capability does not rise with size).
    pub fn fit(&self, theta: &[f64], pick: &[usize]) -> Option<RefMap> {
        let x: Vec<f64> = pick.iter().map(|&j| self.members[j].1.ln()).collect();
        let y: Vec<f64> = pick.iter().map(|&j| theta[self.members[j].0]).collect();
        let (beta, alpha, r_squared) = crate::trend::fit_line(&x, &y)?;
        if beta <= 0.0 || !beta.is_finite() {
            return None;
        }
        let n_sizes = distinct_sizes(&pick.iter().map(|&j| self.members[j]).collect::<Vec<_>>());
        let curve = if n_sizes >= 3 {
            MonotoneQuadratic::fit(&x, &y)
        } else {
            None
        };
        let sizes: Vec<f64> = pick.iter().map(|&j| self.members[j].1).collect();
        let mut map = RefMap {
            family: self.family.clone(),
            alpha,
            beta,
            curve,
            range: (
                sizes.iter().copied().fold(f64::INFINITY, f64::min),
                sizes.iter().copied().fold(0.0, f64::max),
            ),
            n_sizes,
            residual_sd: 0.0,
            r_squared,
        };
        let k = if map.curve.is_some() { 3.0 } else { 2.0 };
        let ss: f64 = x
            .iter()
            .zip(&y)
            .map(|(&x, y)| (y - map.theta_at(x)).powi(2))
            .sum();
        map.residual_sd = (ss / (x.len() as f64 - k).max(1.0)).sqrt();
        Some(map)
    }

    /// The map over every member.
    pub fn fit_all(&self, theta: &[f64]) -> Option<RefMap> {
        self.fit(theta, &(0..self.members.len()).collect::<Vec<_>>())
    }

    /// Whether the family can be one of the pooled rulers: its capability
    /// rises with size, and clearly (line R² ≥ [`MIN_RULER_R2`]).
    pub fn is_ruler(&self, theta: &[f64]) -> bool {
        self.fit_all(theta)
            .is_some_and(|m| m.r_squared >= MIN_RULER_R2)
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

/// θ = a + b·x + c·x² (x = ln N) by least squares subject to dθ/dx ≥ 0 over
/// the fitted sizes' range [x_lo, x_hi], continued as a straight line with the
/// end slope beyond it. The derivative is linear in x, so monotone on the
/// range means monotone at its two ends; the constrained optimum is the
/// unconstrained fit when that is monotone, else the best fit with a vertex
/// at one end (one constraint active; θ = a + c·(x − x_e)²).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MonotoneQuadratic {
    a: f64,
    b: f64,
    c: f64,
    lo: f64,
    hi: f64,
}

impl MonotoneQuadratic {
    /// `None` with fewer than 3 distinct x or no increasing fit.
    pub fn fit(x: &[f64], y: &[f64]) -> Option<MonotoneQuadratic> {
        let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sse = |q: &MonotoneQuadratic| -> f64 {
            x.iter().zip(y).map(|(x, y)| (y - q.at(*x)).powi(2)).sum()
        };
        let make = |a, b, c| MonotoneQuadratic { a, b, c, lo, hi };
        let full = {
            let m = nalgebra::DMatrix::from_fn(x.len(), 3, |i, j| x[i].powi(j as i32));
            let v = nalgebra::DVector::from_column_slice(y);
            let s = m.svd(true, true).solve(&v, 1e-12).ok()?;
            make(s[0], s[1], s[2])
        };
        if full.slope(lo) >= 0.0 && full.slope(hi) >= 0.0 && full.slope(hi) + full.slope(lo) > 0.0 {
            return Some(full);
        }
        [lo, hi]
            .into_iter()
            .filter_map(|e| {
                let z: Vec<f64> = x.iter().map(|x| (x - e).powi(2)).collect();
                let (c, a, _) = crate::trend::fit_line(&z, y)?;
                // a + c(x − e)²: increasing on the range when the vertex is at
                // the low end with c > 0, or at the high end with c < 0.
                ((e == lo && c > 0.0) || (e == hi && c < 0.0))
                    .then(|| make(a + c * e * e, -2.0 * c * e, c))
            })
            .min_by(|p, q| sse(p).total_cmp(&sse(q)))
    }

    /// θ at `x` inside the range; beyond it the curve's end slope.
    fn at(&self, x: f64) -> f64 {
        let xc = x.clamp(self.lo, self.hi);
        self.a + self.b * xc + self.c * xc * xc + self.slope(xc) * (x - xc)
    }

    /// θ at `x`, continued beyond the range with slope `beyond` (the
    /// inverse of [`MonotoneQuadratic::ln_n`] with `Some(beyond)`).
    pub fn theta_at(&self, x: f64, beyond: f64) -> f64 {
        let xc = x.clamp(self.lo, self.hi);
        self.a + self.b * xc + self.c * xc * xc + beyond * (x - xc)
    }

    fn slope(&self, x: f64) -> f64 {
        self.b + 2.0 * self.c * x
    }

    /// ln N at capability `theta`: bisection inside the range; beyond it a
    /// line of slope `beyond` (`None`: the curve's end slope, infinite where
    /// that is 0: the curve is flat there and cannot tell sizes apart).
    pub fn ln_n(&self, theta: f64, beyond: Option<f64>) -> f64 {
        let (t_lo, t_hi) = (self.at(self.lo), self.at(self.hi));
        if theta > t_hi {
            return self.hi + (theta - t_hi) / beyond.unwrap_or(self.slope(self.hi));
        }
        if theta < t_lo {
            return self.lo + (theta - t_lo) / beyond.unwrap_or(self.slope(self.lo));
        }
        let (mut a, mut b) = (self.lo, self.hi);
        for _ in 0..100 {
            let m = 0.5 * (a + b);
            if self.at(m) < theta {
                a = m;
            } else {
                b = m;
            }
        }
        0.5 * (a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(theta: &[f64], sizes: &[f64]) -> RefMap {
        let members = RefMembers {
            family: "F".into(),
            members: sizes.iter().enumerate().map(|(i, &n)| (i, n)).collect(),
        };
        members.fit_all(theta).expect("rising")
    }

    #[test]
    fn the_hybrid_map_inverts_its_own_curve_inside_and_its_lines_slope_beyond() {
        // Saturating capabilities: the curve bends, so it differs from the line.
        let sizes = [0.5, 1.5, 3.0, 7.0, 14.0, 32.0, 72.0];
        let theta: Vec<f64> = sizes
            .iter()
            .map(|n: &f64| 1.0 - (-0.6 * n.ln()).exp())
            .collect();
        let m = map(&theta, &sizes);
        assert!(m.curve.is_some());
        for ln_n in [
            0.5f64.ln(),
            2.0f64.ln(),
            50.0f64.ln(),
            200.0f64.ln(),
            0.1f64.ln(),
        ] {
            let back = m.ln_n_hat(m.theta_at(ln_n));
            assert!((back - ln_n).abs() < 1e-9, "{ln_n} -> {back}");
        }
        // Beyond the largest size, θ grows with the line's slope β.
        let hi = 72.0f64.ln();
        let step = m.theta_at(hi + 1.0) - m.theta_at(hi);
        assert!((step - m.beta).abs() < 1e-12, "{step} vs β {}", m.beta);
        // Inside, the curve follows the saturating sizes better than the line.
        let line_ss: f64 = sizes
            .iter()
            .zip(&theta)
            .map(|(n, t)| (t - m.alpha - m.beta * n.ln()).powi(2))
            .sum();
        let curve_ss: f64 = sizes
            .iter()
            .zip(&theta)
            .map(|(n, t)| (t - m.theta_at(n.ln())).powi(2))
            .sum();
        assert!(curve_ss < line_ss, "curve {curve_ss} vs line {line_ss}");
    }

    #[test]
    fn two_distinct_sizes_give_the_line_alone() {
        let m = map(&[0.1, 0.1, 0.5], &[1.0, 1.0, 8.0]);
        assert!(m.curve.is_none());
        let t = 0.3;
        assert!((m.ln_n_hat(t) - (t - m.alpha) / m.beta).abs() < 1e-12);
    }
}
