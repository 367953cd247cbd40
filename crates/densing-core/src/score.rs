//! The score-map fitting problem: least squares on S of
//! `S = c / (1 + e^{-γ(L − l)}) + d`.
//!
//! The sigmoid has a sign symmetry (γ, c) ↔ (−γ, −c); we remove it by fitting
//! in coordinates where the constraints hold by construction:
//! `γ = e^g > 0`, upper asymptote `d = σ(s₁) ∈ (0, 1)`, lower asymptote
//! `c + d = d·σ(s₂) ∈ (0, d)`, hence `c < 0` (score falls as loss rises).
//! Internal order `[s₂, g, l, s₁]` mirrors the report order `[c, gamma, l, d]`.

use crate::data::AnchorPoint;
use crate::fit::{grid_local_minima, linspace, Problem};
use crate::law::ScoreMap;
use nalgebra::{Matrix2, Vector2};
use rayon::prelude::*;

pub struct ScoreProblem {
    loss: Vec<f64>,
    score: Vec<f64>,
    largest: Vec<bool>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

impl ScoreProblem {
    /// Anchors marked `heldout` are excluded; pass only the fitting set.
    pub fn new(points: &[AnchorPoint]) -> Self {
        let l_min = points.iter().map(|p| p.loss).fold(f64::INFINITY, f64::min);
        ScoreProblem {
            loss: points.iter().map(|p| p.loss).collect(),
            score: points.iter().map(|p| p.score).collect(),
            largest: points.iter().map(|p| p.loss <= l_min).collect(),
        }
    }

    pub fn map(&self, t: &[f64]) -> ScoreMap {
        let d = sigmoid(t[3]);
        ScoreMap {
            c: d * (sigmoid(t[0]) - 1.0),
            gamma: t[1].exp(),
            l: t[2],
            d,
        }
    }

    /// Internal coordinates of a map (asymptotes nudged into the open interval).
    pub fn theta_of(&self, m: &ScoreMap) -> Vec<f64> {
        let eps = 1e-6;
        let d = m.d.clamp(eps, 1.0 - eps);
        let ratio = ((m.c + m.d) / d).clamp(eps, 1.0 - eps);
        vec![logit(ratio), m.gamma.ln(), m.l, logit(d)]
    }

    /// True when every fitted point lies on one side of the sigmoid's midpoint `l`:
    /// then the data pin only one branch and the asymptote on the other side is
    /// an extrapolation.
    pub fn one_branch(&self, m: &ScoreMap) -> bool {
        self.loss.iter().all(|&x| x < m.l) || self.loss.iter().all(|&x| x > m.l)
    }

    /// The objective's terms `½·w·(S(L) − score)²` of the points with weight,
    /// in order: summed by `cost`, partially by `cost_exceeds`.
    fn terms<'a>(&'a self, m: ScoreMap, w: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        (0..self.n_obs())
            .filter(move |&i| w[i] != 0.0)
            .map(move |i| 0.5 * w[i] * (m.score(self.loss[i]) - self.score[i]).powi(2))
    }
}

impl Problem for ScoreProblem {
    fn names(&self) -> &'static [&'static str] {
        &["c", "gamma", "l", "d"]
    }

    fn n_obs(&self) -> usize {
        self.loss.len()
    }

    fn cost(&self, theta: &[f64], w: &[f64]) -> f64 {
        self.terms(self.map(theta), w).sum()
    }

    /// [`Problem::cost`]'s sum in its order, stopped once it passes `bound`
    /// (a sum of non-negative terms only grows). On the OLMo-2 ladder the
    /// score map's second and third optima cost 30–450× a replicate's best,
    /// so the rival check reads a few of ~2,000 points instead of all of them
    /// twice per replicate. With a non-finite map parameter the full sum is
    /// taken: only then could a later term be NaN (and the cost not exceed).
    fn cost_exceeds(&self, theta: &[f64], w: &[f64], bound: f64) -> bool {
        let m = self.map(theta);
        if ![m.c, m.gamma, m.l, m.d].iter().all(|v| v.is_finite()) {
            return self.cost(theta, w) > bound;
        }
        self.terms(m, w)
            .scan(0.0, |sum, t| {
                *sum += t;
                Some(*sum)
            })
            .any(|sum| sum > bound)
    }

    /// `S = d·h` with `h = 1 + (σ(s₂) − 1)·τ`, `τ = σ(z)`, `z = γ(L − l)`,
    /// `d = σ(s₁)`, `γ = e^g`; the Hessian of `½Σ w r²` is
    /// `Σ w (∇S∇Sᵀ + r·∇²S)`, with `∂z/∂g = z` and `∂z/∂l = −γ`.
    ///
    /// `∇S = K ⊙ v` with per-point `v = (τ, τ′z, τ′, h)` (`τ′ = τ(1 − τ)`)
    /// and constants `K = (d·σ′(s₂), d·c₁, −d·c₁·γ, σ′(s₁))`, `c₁ = σ(s₂) − 1`,
    /// and every entry of `∇²S` is a constant times one of `τ, τ′z, τ′, τ″z²,
    /// τ″z, τ″, h` (`τ″ = τ′(1 − 2τ)`): so one pass sums the 10 products
    /// `w·vₐv_b` and the 7 `w·r·(…)`, and the constants are applied once at
    /// the end (half the arithmetic per point of forming `∇S` and `∇²S`
    /// there).
    fn hessian(&self, theta: &[f64], w: &[f64], grad: &mut [f64], hess: &mut [f64]) -> Option<f64> {
        let (s2, gamma, l, d) = (
            sigmoid(theta[0]),
            theta[1].exp(),
            theta[2],
            sigmoid(theta[3]),
        );
        let (s2p, dp) = (s2 * (1.0 - s2), d * (1.0 - d));
        let (s2pp, dpp) = (s2p * (1.0 - 2.0 * s2), dp * (1.0 - 2.0 * d));
        let c1 = s2 - 1.0;
        let c = d * c1;
        // Σ w·vₐv_b (upper triangle, row-major), and Σ w·r·(τ, τ′z, τ′, h,
        // τ″z², τ″z, τ″).
        let (mut vv, mut rv) = ([0.0; 10], [0.0; 7]);
        let mut cost = 0.0;
        for i in (0..self.n_obs()).filter(|&i| w[i] != 0.0) {
            let z = gamma * (self.loss[i] - l);
            let denom = 1.0 + (-z).exp();
            let tau = 1.0 / denom;
            let t1 = tau * (1.0 - tau);
            let t2 = t1 * (1.0 - 2.0 * tau);
            let h = 1.0 + c1 * tau;
            let r = d * h - self.score[i];
            // The cost as `cost` computes it (`c/(1 + e^{−z}) + d`), to the
            // bit, which the Newton polish relies on.
            cost += 0.5 * w[i] * (c / denom + d - self.score[i]).powi(2);
            let v = [tau, t1 * z, t1, h];
            let wv = v.map(|x| w[i] * x);
            let pairs = wv
                .iter()
                .enumerate()
                .flat_map(|(a, wa)| v[a..].iter().map(move |vb| wa * vb));
            for (acc, p) in vv.iter_mut().zip(pairs) {
                *acc += p;
            }
            let wr = w[i] * r;
            let t2z = t2 * z;
            for (acc, x) in rv.iter_mut().zip([tau, v[1], t1, h, t2z * z, t2z, t2]) {
                *acc += wr * x;
            }
        }
        let k = [d * s2p, d * c1, -d * c1 * gamma, dp];
        let [r_tau, r_t1z, r_t1, r_h, r_t2zz, r_t2z, r_t2] = rv;
        // Σ w·r·∇²S, upper triangle in `vv`'s order.
        let rs = [
            d * s2pp * r_tau,
            d * s2p * r_t1z,
            -d * s2p * gamma * r_t1,
            dp * s2p * r_tau,
            d * c1 * (r_t2zz + r_t1z),
            -d * c1 * gamma * (r_t2z + r_t1),
            dp * c1 * r_t1z,
            d * c1 * gamma * gamma * r_t2,
            -dp * c1 * gamma * r_t1,
            dpp * r_h,
        ];
        for (a, (g, rva)) in grad.iter_mut().zip([r_tau, r_t1z, r_t1, r_h]).enumerate() {
            *g = k[a] * rva;
        }
        let mut u = 0;
        for a in 0..4 {
            for b in a..4 {
                let e = k[a] * k[b] * vv[u] + rs[u];
                hess[a * 4 + b] = e;
                hess[b * 4 + a] = e;
                u += 1;
            }
        }
        Some(cost)
    }

    /// `s₂` and `s₁`: the lower asymptote may sit on 0 and the upper on 1.
    fn saturating_coordinates(&self) -> &'static [usize] {
        &[0, 3]
    }

    /// `S` is linear in `d = σ(s₁)` and in `σ(s₂)`.
    fn logistic_steps(&self) -> bool {
        true
    }

    /// The asymptotes nudged 1e-6 inside (0, 1) ([`ScoreProblem::theta_of`]):
    /// an optimum at d = 1 has `σ(s₁) = 1` exactly and no gradient in `s₁`.
    fn warm_start(&self, theta: &[f64]) -> Vec<f64> {
        self.theta_of(&self.map(theta))
    }

    /// The grid spans ln γ on `[ln(0.5/span), ln(500/span)]` and l on
    /// `[lo − span, hi + span]` (see [`Problem::starts`]).
    fn grid_distance(&self, a: &[f64], b: &[f64], resolution: usize) -> f64 {
        let span = self.span();
        let cells = (resolution.max(2) - 1) as f64;
        let (cell_g, cell_l) = (1000f64.ln() / cells, 3.0 * span / cells);
        ((a[1] - b[1]).abs() / cell_g).max((a[2] - b[2]).abs() / cell_l)
    }

    fn gradient(&self, theta: &[f64], w: &[f64]) -> Vec<f64> {
        let m = self.map(theta);
        let (s2, s1) = (sigmoid(theta[0]), sigmoid(theta[3]));
        let mut g = vec![0.0; 4];
        for (i, wi) in w.iter().enumerate() {
            let x = self.loss[i] - m.l;
            let sg = sigmoid(m.gamma * x);
            let r = wi * (m.score(self.loss[i]) - self.score[i]);
            let ds_dc = sg;
            let dsig = m.c * sg * (1.0 - sg);
            // c = d(σ(s₂) − 1), d = σ(s₁)
            g[0] += r * ds_dc * m.d * s2 * (1.0 - s2);
            g[1] += r * dsig * x * m.gamma;
            g[2] -= r * dsig * m.gamma;
            g[3] += r * (1.0 + ds_dc * (s2 - 1.0)) * s1 * (1.0 - s1);
        }
        g
    }

    fn residuals(&self, theta: &[f64]) -> Vec<f64> {
        let m = self.map(theta);
        (0..self.n_obs())
            .map(|i| m.score(self.loss[i]) - self.score[i])
            .collect()
    }

    /// For fixed (γ, l) the map is linear in (c, d): closed-form 2×2 least
    /// squares, with the constrained boundary solutions (d = 1, c + d = 0) tried
    /// when the free solution breaks a constraint. One pass over the points per
    /// cell gathers the weighted moments every candidate's SSE needs; the rows
    /// (γ) are scanned in parallel.
    fn starts(&self, w: &[f64], resolution: usize, keep: usize) -> Vec<Vec<f64>> {
        let (lo, hi) = self.range();
        let span = self.span();
        let gammas: Vec<f64> = linspace((0.5 / span).ln(), (500.0 / span).ln(), resolution)
            .into_iter()
            .map(f64::exp)
            .collect();
        let mids = linspace(lo - span, hi + span, resolution);
        let cells: Vec<Option<(f64, ScoreMap)>> = gammas
            .par_iter()
            .flat_map_iter(|&gamma| {
                mids.iter().map(move |&l| {
                    let mut m = Moments::default();
                    for i in (0..self.n_obs()).filter(|&i| w[i] != 0.0) {
                        m.add(w[i], sigmoid(gamma * (self.loss[i] - l)), self.score[i]);
                    }
                    m.best_cd()
                        .map(|(c, d, sse)| (sse, ScoreMap { c, gamma, l, d }))
                })
            })
            .collect();
        let values: Vec<f64> = cells
            .iter()
            .map(|c| c.map_or(f64::INFINITY, |(sse, _)| sse))
            .collect();
        grid_local_minima(&values, resolution, resolution, keep)
            .into_iter()
            .filter_map(|idx| cells[idx].map(|(_, m)| self.theta_of(&m)))
            .collect()
    }

    fn natural(&self, theta: &[f64]) -> Vec<f64> {
        let m = self.map(theta);
        vec![m.c, m.gamma, m.l, m.d]
    }

    fn response(&self) -> Vec<f64> {
        self.score.clone()
    }

    fn groups(&self) -> Vec<usize> {
        (0..self.n_obs()).collect()
    }

    fn largest(&self) -> Vec<bool> {
        self.largest.clone()
    }
}

impl ScoreProblem {
    /// Smallest and largest loss of the fitted points.
    fn range(&self) -> (f64, f64) {
        let lo = self.loss.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.loss.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }

    /// The loss span the start grid is scaled by (at least 1e-3).
    fn span(&self) -> f64 {
        let (lo, hi) = self.range();
        (hi - lo).max(1e-3)
    }
}

/// Weighted moments of (σ, S) over the points, for fixed (γ, l): enough for the
/// SSE `Σ w (d + c·σ − S)²` of any (c, d).
#[derive(Default)]
struct Moments {
    w: f64,
    s: f64,
    ss: f64,
    y: f64,
    sy: f64,
    yy: f64,
}

impl Moments {
    fn add(&mut self, w: f64, sig: f64, y: f64) {
        self.w += w;
        self.s += w * sig;
        self.ss += w * sig * sig;
        self.y += w * y;
        self.sy += w * sig * y;
        self.yy += w * y * y;
    }

    /// `Σ w (d + c·σ − S)²` expanded in the moments (clamped at 0 against rounding).
    fn sse(&self, c: f64, d: f64) -> f64 {
        (d * d * self.w + c * c * self.ss + self.yy + 2.0 * c * d * self.s
            - 2.0 * d * self.y
            - 2.0 * c * self.sy)
            .max(0.0)
    }

    /// Best feasible (c, d) with its SSE: the free solution if it obeys
    /// `c < 0, c + d ≥ 0, d ≤ 1`, else the best of the boundary solutions
    /// (d = 1: `S − 1 = c·σ`; c + d = 0: `S = d·(1 − σ)`) and (−1, 1).
    fn best_cd(&self) -> Option<(f64, f64, f64)> {
        let feasible =
            |c: f64, d: f64| c.is_finite() && d.is_finite() && c < 0.0 && c + d >= 0.0 && d <= 1.0;
        let mut cands: Vec<(f64, f64)> = Vec::with_capacity(4);
        let gram = Matrix2::new(self.ss, self.s, self.s, self.w);
        if let Some(sol) = gram.lu().solve(&Vector2::new(self.sy, self.y)) {
            cands.push((sol[0], sol[1]));
        }
        if self.ss > 0.0 {
            cands.push(((self.sy - self.s) / self.ss, 1.0));
        }
        let qq = self.w - 2.0 * self.s + self.ss;
        if qq > 0.0 {
            let d = (self.y - self.sy) / qq;
            cands.push((-d, d));
        }
        cands.push((-1.0, 1.0));
        cands
            .into_iter()
            .filter(|&(c, d)| feasible(c, d))
            .map(|(c, d)| (c, d, self.sse(c, d)))
            .min_by(|a, b| a.2.total_cmp(&b.2))
    }
}
