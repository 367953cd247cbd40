//! Damped Newton polish for problems with an analytic Hessian.
//!
//! Each step solves `(H + μ·diag(|H|)) p = −g` (Levenberg–Marquardt damping of
//! the exact Hessian, Cholesky on the stack) and accepts it when the objective
//! falls; μ shrinks after a step the quadratic model predicted well and grows
//! after a poor or rejected one, so the method is a gradient-like descent far
//! from an optimum and Newton (quadratic convergence) near it. Converged means
//! the Hessian is positive definite and either the undamped Newton step is below
//! 1e-10 (relative) in every coordinate or the Newton decrement `gᵀH⁻¹g` (twice
//! the gain the quadratic model still promises) is below 1e-15 of the
//! objective, i.e. below what the objective's own rounding resolves (a
//! coordinate drifting along a saturated plateau, such as an asymptote
//! approaching its bound, gains ever less and stops there).
//!
//! Why hand-written rather than argmin's L-BFGS: bootstrap replicates start next
//! to their optimum, where Newton with the exact 4×4 or 5×5 Hessian converges in
//! a few steps to full precision (L-BFGS stops at a tolerance), which is what
//! lets a warm-started replicate be compared with the full-grid path to 1e-6;
//! argmin's trust-region solvers would allocate per iteration, this loop does
//! not (fixed-size nalgebra matrices on the stack). Far from an optimum L-BFGS
//! stays the better tool ([`crate::fit::GridPolish::polish_from`]).

use crate::problem::Problem;
use nalgebra::{SMatrix, SVector};

/// Largest parameter count the stack-allocated Newton handles.
pub const MAX_PARAMS: usize = 5;

type Mat = SMatrix<f64, MAX_PARAMS, MAX_PARAMS>;
type Vector = SVector<f64, MAX_PARAMS>;

/// The outcome of one Newton polish.
#[derive(Debug, Clone)]
pub struct Polished {
    pub theta: Vec<f64>,
    pub cost: f64,
    /// The undamped Newton step from `theta` is negligible (a local minimum).
    pub converged: bool,
    /// Objective evaluations with Hessian (one per accepted step, plus the first).
    pub hessians: usize,
}

/// Evaluate cost, gradient and Hessian at `x` into `g` and `h` (unused
/// dimensions padded so that they stay fixed: zero gradient, unit Hessian).
fn evaluate<P: Problem + ?Sized>(
    problem: &P,
    w: &[f64],
    x: &Vector,
    k: usize,
    g: &mut Vector,
    h: &mut Mat,
) -> Option<f64> {
    let mut gb = [0.0; MAX_PARAMS];
    let mut hb = [0.0; MAX_PARAMS * MAX_PARAMS];
    let cost = problem.hessian(&x.as_slice()[..k], w, &mut gb[..k], &mut hb[..k * k])?;
    *g = Vector::zeros();
    *h = Mat::identity();
    // A coordinate the objective does not depend on at all (gradient and
    // curvature exactly 0, e.g. a saturated sigmoid asymptote at d = 1) stays
    // fixed like a padding dimension, instead of making H singular.
    let live = |r: usize| gb[r] != 0.0 || hb[r * k + r] != 0.0;
    for r in (0..k).filter(|&r| live(r)) {
        g[r] = gb[r];
        for c in (0..k).filter(|&c| live(c)) {
            h[(r, c)] = hb[r * k + c];
        }
    }
    Some(cost)
}

/// Polish `start` by damped Newton; `None` when the problem has no analytic
/// Hessian or more than [`MAX_PARAMS`] parameters (then L-BFGS polishes).
pub fn newton<P: Problem + ?Sized>(
    problem: &P,
    w: &[f64],
    start: &[f64],
    max_iters: u64,
) -> Option<Polished> {
    let k = start.len();
    if k > MAX_PARAMS {
        return None;
    }
    let mut x = Vector::zeros();
    x.as_mut_slice()[..k].copy_from_slice(start);
    let (mut g, mut h) = (Vector::zeros(), Mat::identity());
    let mut f = evaluate(problem, w, &x, k, &mut g, &mut h)?;
    let mut hessians = 1;
    let mut converged = false;
    let mut mu = 0.0;
    for _ in 0..max_iters {
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            break;
        }
        if let Some(chol) = h.cholesky() {
            let step = chol.solve(&-g);
            // Newton decrement gᵀH⁻¹g: twice what the quadratic model can still gain.
            let decrement = -g.dot(&step);
            if decrement <= 1e-15 * f.abs()
                || (0..k).all(|i| step[i].abs() <= 1e-10 * (1.0 + x[i].abs()))
            {
                converged = true;
                break;
            }
        }
        let mut damped = h;
        for i in 0..k {
            damped[(i, i)] += mu * h[(i, i)].abs().max(1e-12);
        }
        let Some(chol) = damped.cholesky() else {
            mu = (mu * 10.0).max(1e-6);
            if mu > 1e20 {
                break;
            }
            continue;
        };
        let step = chol.solve(&-g);
        let trial = x + step;
        let ft = problem.cost(&trial.as_slice()[..k], w);
        let predicted = -(g.dot(&step) + 0.5 * step.dot(&(h * step)));
        if ft.is_finite() && ft <= f {
            let ratio = if predicted > 0.0 {
                (f - ft) / predicted
            } else {
                1.0
            };
            x = trial;
            f = evaluate(problem, w, &x, k, &mut g, &mut h)?;
            hessians += 1;
            if ratio > 0.75 {
                mu = if mu < 1e-9 { 0.0 } else { mu / 4.0 };
            } else if ratio < 0.25 {
                mu = (mu * 2.0).max(1e-6);
            }
        } else {
            mu = (mu * 4.0).max(1e-6);
            if mu > 1e20 {
                break;
            }
        }
    }
    Some(Polished {
        theta: x.as_slice()[..k].to_vec(),
        cost: f,
        converged,
        hessians,
    })
}
