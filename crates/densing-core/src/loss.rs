//! The loss-law fitting problem: Huber (δ = 1e-3 by default) on `ln L`
//! residuals, **summed** over points, as Hoffmann et al. and Epoch AI do.
//!
//! Internal coordinates are logs of the linear coefficients plus the exponents,
//! with N and D in normalised units (N/1e9, D/1e12), so every coordinate is O(1):
//! `ln L̂ = logsumexp(e, a − α·ln n, b − β·ln d)` (the `e` term only in the
//! Chinchilla form).

use crate::data::LadderPoint;
use crate::fit::{grid_local_minima, huber, linspace, Problem};
use crate::law::{LossForm, LossLaw, D_UNIT, N_UNIT};
use nalgebra::{Matrix3, Vector3};
use std::collections::HashMap;

/// Exponent range scanned by the grid (both α and β).
const EXPONENT_RANGE: (f64, f64) = (0.02, 2.0);

pub struct LossProblem {
    form: LossForm,
    delta: f64,
    ln_n: Vec<f64>,
    ln_d: Vec<f64>,
    loss: Vec<f64>,
    ln_loss: Vec<f64>,
    groups: Vec<usize>,
    largest: Vec<bool>,
}

impl LossProblem {
    pub fn new(form: LossForm, points: &[LadderPoint], delta: f64) -> Self {
        let mut run_ids: HashMap<&str, usize> = HashMap::new();
        let groups = points
            .iter()
            .map(|p| {
                let next = run_ids.len();
                *run_ids.entry(p.run.as_str()).or_insert(next)
            })
            .collect();
        let n_max = points.iter().map(|p| p.params).fold(0.0, f64::max);
        LossProblem {
            form,
            delta,
            ln_n: points.iter().map(|p| (p.params / N_UNIT).ln()).collect(),
            ln_d: points.iter().map(|p| (p.tokens / D_UNIT).ln()).collect(),
            loss: points.iter().map(|p| p.loss).collect(),
            ln_loss: points.iter().map(|p| p.loss.ln()).collect(),
            groups,
            largest: points.iter().map(|p| p.params >= n_max).collect(),
        }
    }

    fn has_e(&self) -> bool {
        self.form == LossForm::Chinchilla
    }

    /// Split θ into (e, a, α, b, β); `e = −∞` for the paper form.
    /// Internal order: Chinchilla `[e, a, b, α, β]`, paper `[a, α, b, β]`.
    fn unpack(&self, t: &[f64]) -> (f64, f64, f64, f64, f64) {
        match self.form {
            LossForm::Chinchilla => (t[0], t[1], t[3], t[2], t[4]),
            LossForm::Paper => (f64::NEG_INFINITY, t[0], t[1], t[2], t[3]),
        }
    }

    fn pack(&self, e: f64, a: f64, alpha: f64, b: f64, beta: f64) -> Vec<f64> {
        match self.form {
            LossForm::Chinchilla => vec![e, a, b, alpha, beta],
            LossForm::Paper => vec![a, alpha, b, beta],
        }
    }

    /// The fitted law in raw units from internal coordinates.
    pub fn law(&self, theta: &[f64]) -> LossLaw {
        let (e, a, alpha, b, beta) = self.unpack(theta);
        LossLaw {
            form: self.form,
            e: if self.has_e() { e.exp() } else { 0.0 },
            a: a.exp() * N_UNIT.powf(alpha),
            alpha,
            b: b.exp() * D_UNIT.powf(beta),
            beta,
        }
    }

    /// Internal coordinates of a law given in raw units (to score published fits).
    pub fn theta_of(&self, law: &LossLaw) -> Vec<f64> {
        self.pack(
            law.e.ln(),
            (law.a / N_UNIT.powf(law.alpha)).ln(),
            law.alpha,
            (law.b / D_UNIT.powf(law.beta)).ln(),
            law.beta,
        )
    }

    /// The objective and its gradient in one pass over the points (the cost
    /// summed in the same order as [`Problem::cost`], so equal to it).
    fn cost_and_gradient(&self, theta: &[f64], w: &[f64]) -> (f64, Vec<f64>) {
        let (e, a, alpha, b, beta) = self.unpack(theta);
        // d/d(e, a, α, b, β)
        let mut g = [0.0; 5];
        let mut cost = 0.0;
        for i in (0..self.n_obs()).filter(|&i| w[i] != 0.0) {
            let (lp, p) = self.predict(i, e, a, alpha, b, beta);
            let (rho, psi) = huber(lp - self.ln_loss[i], self.delta);
            cost += w[i] * rho;
            let psi = w[i] * psi;
            g[0] += psi * p[0];
            g[1] += psi * p[1];
            g[2] -= psi * p[1] * self.ln_n[i];
            g[3] += psi * p[2];
            g[4] -= psi * p[2] * self.ln_d[i];
        }
        (cost, self.pack(g[0], g[1], g[2], g[3], g[4]))
    }

    /// ln L̂ and the softmax weights of its three terms at point `i`.
    #[inline]
    fn predict(&self, i: usize, e: f64, a: f64, alpha: f64, b: f64, beta: f64) -> (f64, [f64; 3]) {
        let u = [e, a - alpha * self.ln_n[i], b - beta * self.ln_d[i]];
        let m = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // The largest term's is e⁰ = 1 exactly: one exp in three saved.
        let ex = u.map(|v| if v == m { 1.0 } else { (v - m).exp() });
        let s = ex[0] + ex[1] + ex[2];
        (m + s.ln(), [ex[0] / s, ex[1] / s, ex[2] / s])
    }
}

impl Problem for LossProblem {
    fn names(&self) -> &'static [&'static str] {
        match self.form {
            LossForm::Chinchilla => &["E", "A", "B", "alpha", "beta"],
            LossForm::Paper => &["a", "alpha", "b", "beta"],
        }
    }

    fn n_obs(&self) -> usize {
        self.loss.len()
    }

    fn cost(&self, theta: &[f64], w: &[f64]) -> f64 {
        let (e, a, alpha, b, beta) = self.unpack(theta);
        (0..self.n_obs())
            .filter(|&i| w[i] != 0.0)
            .map(|i| {
                let (lp, _) = self.predict(i, e, a, alpha, b, beta);
                w[i] * huber(lp - self.ln_loss[i], self.delta).0
            })
            .sum()
    }

    fn gradient(&self, theta: &[f64], w: &[f64]) -> Vec<f64> {
        self.cost_and_gradient(theta, w).1
    }

    /// One pass: the terms' softmax weights the gradient needs come with
    /// `ln L̂`, so the gradient costs a few multiplications more than the cost.
    fn cost_with_gradient(&self, theta: &[f64], w: &[f64]) -> (f64, Option<Vec<f64>>) {
        let (cost, g) = self.cost_and_gradient(theta, w);
        (cost, Some(g))
    }

    /// With `p` the softmax weights of the three terms and `u_j` the terms,
    /// `∇ln L̂ = Σ p_j ∇u_j` and `∇²ln L̂ = Σ p_j ∇u_j∇u_jᵀ − ∇ln L̂ ∇ln L̂ᵀ`
    /// (each `u_j` is linear in θ), so the objective's Hessian is
    /// `Σ w [ψ(r)·Σ p_j ∇u_j∇u_jᵀ + (ψ'(r) − ψ(r))·∇ln L̂ ∇ln L̂ᵀ]`.
    fn hessian(&self, theta: &[f64], w: &[f64], grad: &mut [f64], hess: &mut [f64]) -> Option<f64> {
        let (e, a, alpha, b, beta) = self.unpack(theta);
        let k = theta.len();
        // Positions of (e, a, α, b, β) in θ.
        let (ie, ia, ial, ib, ibe) = match self.form {
            LossForm::Chinchilla => (Some(0), 1, 3, 2, 4),
            LossForm::Paper => (None, 0, 1, 2, 3),
        };
        grad.fill(0.0);
        hess.fill(0.0);
        let mut cost = 0.0;
        for i in (0..self.n_obs()).filter(|&i| w[i] != 0.0) {
            let (lp, p) = self.predict(i, e, a, alpha, b, beta);
            let r = lp - self.ln_loss[i];
            let (rho, psi) = huber(r, self.delta);
            let curvature = if r.abs() <= self.delta { 1.0 } else { 0.0 };
            cost += w[i] * rho;
            let (ln_n, ln_d) = (self.ln_n[i], self.ln_d[i]);
            let mut gp = [0.0; 5];
            gp[ia] = p[1];
            gp[ial] = -p[1] * ln_n;
            gp[ib] = p[2];
            gp[ibe] = -p[2] * ln_d;
            let wpsi = w[i] * psi;
            // ψ·Σ p_j ∇u_j∇u_jᵀ: u₁ = a − α·ln n, u₂ = b − β·ln d, u₀ = e.
            for (u, v, pj, l) in [(ia, ial, p[1], ln_n), (ib, ibe, p[2], ln_d)] {
                hess[u * k + u] += wpsi * pj;
                hess[u * k + v] -= wpsi * pj * l;
                hess[v * k + u] -= wpsi * pj * l;
                hess[v * k + v] += wpsi * pj * l * l;
            }
            if let Some(ie) = ie {
                gp[ie] = p[0];
                hess[ie * k + ie] += wpsi * p[0];
            }
            let c = w[i] * (curvature - psi);
            for row in 0..k {
                grad[row] += wpsi * gp[row];
                for col in 0..k {
                    hess[row * k + col] += c * gp[row] * gp[col];
                }
            }
        }
        Some(cost)
    }

    fn residuals(&self, theta: &[f64]) -> Vec<f64> {
        let (e, a, alpha, b, beta) = self.unpack(theta);
        (0..self.n_obs())
            .map(|i| self.predict(i, e, a, alpha, b, beta).0 - self.ln_loss[i])
            .collect()
    }

    /// For each (α, β) on the grid the law is linear in (E, a, b): solve the
    /// relative least-squares problem `Σ w (E + a·x + b·y − L)² / L²` with
    /// non-negative coefficients (active-set enumeration over the 3 terms), and
    /// rank cells by that residual.
    fn starts(&self, w: &[f64], resolution: usize, keep: usize) -> Vec<Vec<f64>> {
        let grid = linspace(EXPONENT_RANGE.0, EXPONENT_RANGE.1, resolution);
        let m = self.n_obs();
        let xs: Vec<Vec<f64>> = grid
            .iter()
            .map(|&al| self.ln_n.iter().map(|&l| (-al * l).exp()).collect())
            .collect();
        let ys: Vec<Vec<f64>> = grid
            .iter()
            .map(|&be| self.ln_d.iter().map(|&l| (-be * l).exp()).collect())
            .collect();
        let omega: Vec<f64> = (0..m)
            .map(|i| w[i] / (self.loss[i] * self.loss[i]))
            .collect();
        let mut values = vec![f64::INFINITY; resolution * resolution];
        let mut coefs = vec![[0.0; 3]; resolution * resolution];
        for (ia, x) in xs.iter().enumerate() {
            for (ib, y) in ys.iter().enumerate() {
                let mut gram = Matrix3::zeros();
                let mut rhs = Vector3::zeros();
                let mut yy = 0.0;
                for i in 0..m {
                    let v = Vector3::new(1.0, x[i], y[i]);
                    let o = omega[i];
                    gram += o * v * v.transpose();
                    rhs += o * self.loss[i] * v;
                    yy += o * self.loss[i] * self.loss[i];
                }
                if let Some((c, sse)) = nonneg_lsq(&gram, &rhs, yy, self.has_e()) {
                    values[ia * resolution + ib] = sse;
                    coefs[ia * resolution + ib] = c;
                }
            }
        }
        let floor = 1e-6 * self.loss.iter().sum::<f64>() / m as f64;
        grid_local_minima(&values, resolution, resolution, keep)
            .into_iter()
            .map(|idx| {
                let c = coefs[idx];
                let (alpha, beta) = (grid[idx / resolution], grid[idx % resolution]);
                self.pack(
                    c[0].max(floor).ln(),
                    c[1].max(floor).ln(),
                    alpha,
                    c[2].max(floor).ln(),
                    beta,
                )
            })
            .collect()
    }

    /// The logs of the coefficients (E, A, B ≥ 0; E = 0 does occur).
    fn saturating_coordinates(&self) -> &'static [usize] {
        match self.form {
            LossForm::Chinchilla => &[0, 1, 2],
            LossForm::Paper => &[0, 2],
        }
    }

    /// The grid spans α and β on [`EXPONENT_RANGE`].
    fn grid_distance(&self, a: &[f64], b: &[f64], resolution: usize) -> f64 {
        let cell = (EXPONENT_RANGE.1 - EXPONENT_RANGE.0) / (resolution.max(2) - 1) as f64;
        let (ua, ub) = (self.unpack(a), self.unpack(b));
        (ua.2 - ub.2).abs().max((ua.4 - ub.4).abs()) / cell
    }

    fn natural(&self, theta: &[f64]) -> Vec<f64> {
        let l = self.law(theta);
        match self.form {
            LossForm::Chinchilla => vec![l.e, l.a, l.b, l.alpha, l.beta],
            LossForm::Paper => vec![l.a, l.alpha, l.b, l.beta],
        }
    }

    fn response(&self) -> Vec<f64> {
        self.ln_loss.clone()
    }

    fn groups(&self) -> Vec<usize> {
        self.groups.clone()
    }

    fn largest(&self) -> Vec<bool> {
        self.largest.clone()
    }
}

/// Least squares `min ‖·‖` over coefficients `(E, a, b) ≥ 0` given the Gram
/// matrix, by trying every subset of free terms (8 at most) and keeping the best
/// feasible one. `with_e = false` pins E to 0. Returns the coefficients and SSE.
/// A subset is solved as the 3×3 system with the other terms' rows and columns
/// replaced by the identity (and their right-hand side by 0), on the stack: the
/// grid scan calls this 7 times per cell, and a heap matrix per subset was
/// most of the scan's time.
fn nonneg_lsq(
    gram: &Matrix3<f64>,
    rhs: &Vector3<f64>,
    yy: f64,
    with_e: bool,
) -> Option<([f64; 3], f64)> {
    // Every allowed term free first: when that solution is feasible no subset
    // (a constrained version of it) can have a smaller SSE.
    let all: u8 = if with_e { 7 } else { 6 };
    let mut best: Option<([f64; 3], f64)> = None;
    for mask in std::iter::once(all).chain((1u8..8).filter(|&m| m != all)) {
        if !with_e && mask & 1 != 0 {
            continue;
        }
        let free = |k: usize| mask & (1 << k) != 0;
        let g = Matrix3::from_fn(|r, c| {
            if free(r) && free(c) {
                gram[(r, c)]
            } else if r == c {
                1.0
            } else {
                0.0
            }
        });
        let b = Vector3::from_fn(|r, _| if free(r) { rhs[r] } else { 0.0 });
        let Some(cv) = g.lu().solve(&b) else {
            continue;
        };
        if cv.iter().any(|&v| v < 0.0 || !v.is_finite()) {
            continue;
        }
        let c = [cv[0], cv[1], cv[2]];
        let sse = yy - 2.0 * cv.dot(rhs) + (cv.transpose() * gram * cv)[0];
        if mask == all {
            return Some((c, sse));
        }
        if best.as_ref().is_none_or(|(_, s)| sse < *s) {
            best = Some((c, sse));
        }
    }
    best
}
