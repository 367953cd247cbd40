//! The reference-family curve: a sigmoid of a power law in N,
//! `S(N) = f + (1 − f)·σ(u − v·n^−α)`, n = N/1e9, f = the benchmark's chance floor.
//!
//! It is the score map composed with a loss law at a fixed token budget
//! (`L = E' + a·n^−α` inside the sigmoid), with the redundant constants merged so
//! the three remaining parameters are identifiable from a family of ~7 sizes.
//! As n → ∞ the score tends to `f + (1 − f)·σ(u)`, the family's ceiling.

use crate::fit::{grid_local_minima, linspace, Problem};
use crate::law::Inverse;
use nalgebra::{Matrix2, Vector2};
use serde::Serialize;

/// A fitted family curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FamilyCurve {
    pub floor: f64,
    pub u: f64,
    pub v: f64,
    pub alpha: f64,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl FamilyCurve {
    /// Score at `n` billion parameters.
    pub fn score(&self, n: f64) -> f64 {
        self.floor + (1.0 - self.floor) * sigmoid(self.u - self.v * n.powf(-self.alpha))
    }

    /// `n̂ = ((u − logit((S − f)/(1 − f)))/v)^(−1/α)`; censored at or below the
    /// floor and at or above the ceiling.
    pub fn invert(&self, score: f64) -> Inverse {
        let q = (score - self.floor) / (1.0 - self.floor);
        if q <= 0.0 {
            return Inverse::BelowRange;
        }
        if q >= 1.0 {
            return Inverse::AboveRange;
        }
        let z = (self.u - (q / (1.0 - q)).ln()) / self.v;
        if z <= 0.0 {
            Inverse::AboveRange
        } else {
            Inverse::Value(z.powf(-1.0 / self.alpha))
        }
    }
}

/// Least squares on S; internal coordinates `[u, ln v, ln α]`.
pub struct FamilyProblem {
    floor: f64,
    ln_n: Vec<f64>,
    score: Vec<f64>,
}

impl FamilyProblem {
    /// `n` in billions, scores as fractions.
    pub fn new(n: &[f64], score: &[f64], floor: f64) -> Self {
        FamilyProblem {
            floor,
            ln_n: n.iter().map(|x| x.ln()).collect(),
            score: score.to_vec(),
        }
    }

    pub fn curve(&self, t: &[f64]) -> FamilyCurve {
        FamilyCurve {
            floor: self.floor,
            u: t[0],
            v: t[1].exp(),
            alpha: t[2].exp(),
        }
    }

    pub fn fitted(&self, t: &[f64]) -> Vec<f64> {
        let c = self.curve(t);
        self.ln_n.iter().map(|l| c.score(l.exp())).collect()
    }
}

impl Problem for FamilyProblem {
    fn names(&self) -> &'static [&'static str] {
        &["u", "v", "alpha"]
    }

    fn n_obs(&self) -> usize {
        self.score.len()
    }

    fn cost(&self, t: &[f64], w: &[f64]) -> f64 {
        self.residuals(t)
            .iter()
            .zip(w)
            .map(|(r, w)| 0.5 * w * r * r)
            .sum()
    }

    fn gradient(&self, t: &[f64], w: &[f64]) -> Vec<f64> {
        let c = self.curve(t);
        let mut g = vec![0.0; 3];
        for (i, wi) in w.iter().enumerate() {
            let z = (-c.alpha * self.ln_n[i]).exp();
            let s = sigmoid(c.u - c.v * z);
            let r = wi * (self.floor + (1.0 - self.floor) * s - self.score[i]);
            let ds_dx = (1.0 - self.floor) * s * (1.0 - s);
            if ds_dx == 0.0 {
                // Saturated sigmoid: no gradient, and v·z may be infinite (0·∞).
                continue;
            }
            g[0] += r * ds_dx;
            g[1] -= r * ds_dx * c.v * z;
            g[2] += r * ds_dx * c.v * z * self.ln_n[i] * c.alpha;
        }
        g
    }

    fn residuals(&self, t: &[f64]) -> Vec<f64> {
        self.fitted(t)
            .iter()
            .zip(&self.score)
            .map(|(p, s)| p - s)
            .collect()
    }

    /// For fixed α the curve is linear in (u, v) in logit space: solve that
    /// 2×2 least squares (v > 0 required) and rank α by the S-space residual.
    fn starts(&self, w: &[f64], resolution: usize, keep: usize) -> Vec<Vec<f64>> {
        let alphas: Vec<f64> = linspace(0.01f64.ln(), 3.0f64.ln(), resolution)
            .into_iter()
            .map(f64::exp)
            .collect();
        let y: Vec<f64> = self
            .score
            .iter()
            .map(|s| {
                let q = ((s - self.floor) / (1.0 - self.floor)).clamp(1e-4, 1.0 - 1e-4);
                (q / (1.0 - q)).ln()
            })
            .collect();
        let mut values = vec![f64::INFINITY; resolution];
        let mut thetas = vec![Vec::new(); resolution];
        for (k, &alpha) in alphas.iter().enumerate() {
            let mut gram = Matrix2::zeros();
            let mut rhs = Vector2::zeros();
            for i in 0..self.n_obs() {
                let v = Vector2::new(1.0, -(-alpha * self.ln_n[i]).exp());
                gram += w[i] * v * v.transpose();
                rhs += w[i] * y[i] * v;
            }
            let Some(sol) = gram.lu().solve(&rhs) else {
                continue;
            };
            if sol[1] <= 0.0 || !sol[0].is_finite() {
                continue;
            }
            let t = vec![sol[0], sol[1].ln(), alpha.ln()];
            values[k] = self.cost(&t, w);
            thetas[k] = t;
        }
        grid_local_minima(&values, 1, resolution, keep)
            .into_iter()
            .map(|k| thetas[k].clone())
            .collect()
    }

    fn natural(&self, t: &[f64]) -> Vec<f64> {
        vec![t[0], t[1].exp(), t[2].exp()]
    }

    fn response(&self) -> Vec<f64> {
        self.score.clone()
    }

    fn groups(&self) -> Vec<usize> {
        (0..self.n_obs()).collect()
    }

    fn largest(&self) -> Vec<bool> {
        let max = self.ln_n.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        self.ln_n.iter().map(|&l| l >= max).collect()
    }
}
