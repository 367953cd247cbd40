//! Damped Newton polish for problems with an analytic Hessian.
//!
//! Each step solves `(H + μ·diag(|H|)) p = −g` (Levenberg–Marquardt damping of
//! the exact Hessian, Cholesky on the stack) and accepts it when the objective
//! falls (the trial is evaluated with its gradient and Hessian at once: most
//! steps are accepted, 88% of the score map's and 66% of the loss law's on the
//! OLMo-2 ladder, and a separate cost pass before each made the two-target
//! `densing predict` 4.8–5.0 CPU s instead of 4.6); μ shrinks after a step the
//! quadratic model predicted well and grows after a poor or rejected one, so
//! the method is a gradient-like descent far from an optimum and Newton
//! (quadratic convergence) near it. Converged means
//! the Hessian is positive definite and either the undamped Newton step is below
//! 1e-10 (relative) in every coordinate or the Newton decrement `gᵀH⁻¹g` (twice
//! the gain the quadratic model still promises) is below 1e-15 of the
//! objective, i.e. below what the objective's own rounding resolves (a
//! coordinate drifting along a saturated plateau gains ever less and stops
//! there), or below 1e-12 of it once a step has been rejected: a sum over
//! ~2,000 points is only exact to ~n·ε ≈ 4e-13 relative, so a step that
//! promises less can fail by rounding alone, and the damping would then grow
//! until the iteration cap without moving.
//!
//! Bounds reached only at ±∞ ([`Problem::saturating_coordinates`]: the score
//! map's asymptotes `σ(s)`, the loss law's coefficients `e^s`): from
//! `σ = 1 − 1e-6` (where [`Problem::warm_start`] nudges such an optimum)
//! plain Newton gains one unit of `s` per step (the objective there is
//! `≈ f* + C·e^{−s}`, whose Newton step is exactly 1), ~25 steps until the
//! decrement test stops it; at `e^s ≈ 1e-14` the Hessian is singular to
//! rounding and the damping grows without bound. So the polish is projected
//! (active-set) Newton: such a coordinate beyond [`TRY`] whose gradient
//! pushes outward is set to [`PIN`], where the natural parameter equals its
//! bound to rounding, once the other coordinates have settled, and held fixed
//! while they converge (one the gradient pulls inward is not, while it does); the
//! result counts as converged only if the gradient re-evaluated at [`EDGE`]
//! still pushes outward (the sign condition of a minimum on a bound), else the
//! coordinate is released at the edge and Newton goes on with it free.
//!
//! Where the problem allows it ([`Problem::logistic_steps`]), a step is
//! first solved with each free saturating coordinate in its natural
//! parameter `u = σ(s)`: with `D = diag(σ′(s))` the gradient and Hessian in
//! `u` are `D⁻¹g` and `D⁻¹(H − diag(g·σ″/σ′))D⁻¹`, and the point is mapped
//! back by `s = logit(u + Δu)`. In `s` the objective near a bound is
//! `≈ f* + C·e^{−s}`: when a replicate's optimum lies just inside it
//! (d ≈ 0.99985 from the warm start's d = 1 − 1e-6) Newton in `s` crawls
//! (31 Hessians on one OLMo-2 replicate), in `u`, where the score map is
//! linear in each asymptote, it does not (7). A step that would pass a bound
//! (`u + Δu ∉ (0, 1)`) moves that coordinate [`CLIP`] of the way to it (its
//! distance to the bound shrinks 100×) and the others by the Newton step
//! given that move (the reduced system), so that a bound is still reached
//! only by the pin and its sign check. (Taking the step in `s` instead, as
//! before, walked `s` out one unit per step, with rejected steps between:
//! the `s` system is nearly singular there. On the OLMo-2 ladder's score
//! maps, 300 replicates of each of the eight tasks from the full-data
//! optimum, that took 10.4 Hessians per replicate, the clipped step 6.2;
//! every replicate still reaches the full-grid path's optimum:
//! `examples/warm_vs_grid.rs`, 500 per task at seed 1, 1,000 at 20241205.)
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

/// A saturating coordinate this far out has its natural parameter within
/// 1e-3 of its bound (`e^{−6.9} = 1.0e-3`): a candidate for pinning (a pin
/// that raises the objective is not made, and tried again next step).
const TRY: f64 = 6.9;

/// Within 1e-6 of the bound (`logit(1 − 1e-6) = 13.8155`, `e^{−13.8} =
/// 1.0e-6`): where a pinned coordinate's gradient is re-checked, so that an
/// optimum inside the bound is never more than 1e-6 away from the pin.
pub const EDGE: f64 = 13.8;

/// Where a pinned coordinate sits: `σ(40)` is 1 to the last bit (`e^{−40} =
/// 4e-18` is below half an ulp of 1), `σ(−40)` and `e^{−40}` are 4e-18.
const PIN: f64 = 40.0;

/// The fraction of its distance to a bound that a coordinate stepping in
/// `u = σ(s)` moves when the Newton step would pass the bound.
const CLIP: f64 = 0.99;

/// The outcome of one Newton polish.
#[derive(Debug, Clone)]
pub struct Polished {
    pub theta: Vec<f64>,
    pub cost: f64,
    /// The undamped Newton step from `theta` is negligible (a local minimum;
    /// on a pinned bound, with the gradient pushing outward).
    pub converged: bool,
    /// Objective evaluations with Hessian (one per trial step, plus the first
    /// and one per pin or release).
    pub hessians: usize,
}

/// A flag per coordinate: pinned at its bound, or declined (never pinned
/// again: released by the sign check).
type Mask = [bool; MAX_PARAMS];

/// Evaluate cost, gradient and Hessian at `x` into `g` and `h`. Unused
/// dimensions and `fixed` ones are padded so that they stay put: zero
/// gradient, unit Hessian row and column.
fn evaluate<P: Problem + ?Sized>(
    problem: &P,
    w: &[f64],
    x: &Vector,
    k: usize,
    fixed: &Mask,
    g: &mut Vector,
    h: &mut Mat,
) -> Option<f64> {
    let mut gb = [0.0; MAX_PARAMS];
    let mut hb = [0.0; MAX_PARAMS * MAX_PARAMS];
    let cost = problem.hessian(&x.as_slice()[..k], w, &mut gb[..k], &mut hb[..k * k])?;
    *g = Vector::zeros();
    *h = Mat::identity();
    // A coordinate the objective does not depend on at all (gradient and
    // curvature exactly 0, e.g. a saturated exponential term) stays fixed
    // like a padding dimension, instead of making H singular.
    let live = |r: usize| !fixed[r] && (gb[r] != 0.0 || hb[r * k + r] != 0.0);
    for r in (0..k).filter(|&r| live(r)) {
        g[r] = gb[r];
        for c in (0..k).filter(|&c| live(c)) {
            h[(r, c)] = hb[r * k + c];
        }
    }
    Some(cost)
}

/// The sign check of the pinned coordinates: the gradient with every pinned
/// coordinate back at the edge must still push it outward. Returns `x` with
/// the coordinates that fail it released at the edge (and marked so that they
/// are not pinned again), or `None` when every pin holds.
fn release<P: Problem + ?Sized>(
    problem: &P,
    w: &[f64],
    x: &Vector,
    k: usize,
    pinned: &mut Mask,
    declined: &mut Mask,
) -> Option<Vector> {
    if !pinned.iter().any(|&p| p) {
        return None;
    }
    let mut edge = *x;
    for i in (0..k).filter(|&i| pinned[i]) {
        edge[i] = EDGE.copysign(x[i]);
    }
    let grad = problem.gradient(&edge.as_slice()[..k], w);
    let mut out = *x;
    let mut any = false;
    for i in 0..k {
        if !pinned[i] || grad[i] * x[i].signum() <= 0.0 {
            continue;
        }
        pinned[i] = false;
        declined[i] = true;
        out[i] = edge[i];
        any = true;
    }
    any.then_some(out)
}

/// `x` with the saturating coordinates that are ready to pin moved to
/// [`PIN`], and which those are; `None` if there are none. Ready: beyond [`TRY`], pushed outward
/// by the gradient, not `declined` (released by [`release`]), and every
/// other coordinate settled (its Newton `step` below 1e-6 relative), so that
/// only the walk towards the bound is left — pinning earlier, while the
/// others still move, can land in a different minimum on the bound than the
/// walk would reach. A coordinate the gradient pulls inward is only not ready
/// at this step: the pull can turn as the others move (declining it for
/// good, as this did before, left `s₁` of OLMo-2 score maps walking out one
/// unit per step to ~20 before the pin, 1.5 more Hessians per replicate).
fn pin_candidates(
    saturating: &[usize],
    x: &Vector,
    g: &Vector,
    step: &Vector,
    k: usize,
    pinned: &Mask,
    declined: &Mask,
) -> Option<(Vector, Mask)> {
    let mut ready = [false; MAX_PARAMS];
    for &i in saturating {
        ready[i] = !pinned[i] && !declined[i] && x[i].abs() >= TRY && g[i] * x[i].signum() <= 0.0;
    }
    let settled =
        (0..k).all(|j| ready[j] || pinned[j] || step[j].abs() <= 1e-6 * (1.0 + x[j].abs()));
    if !ready.iter().any(|&r| r) || !settled {
        return None;
    }
    let mut trial = *x;
    for i in (0..k).filter(|&i| ready[i]) {
        trial[i] = PIN.copysign(x[i]);
    }
    Some((trial, ready))
}

/// `σ′(s)` of each free (unpinned) saturating coordinate when the problem
/// steps them in `u = σ(s)` ([`Problem::logistic_steps`]); 0 for the rest.
fn logistic_scales(logistic: bool, saturating: &[usize], x: &Vector, pinned: &Mask) -> Vector {
    let mut d = Vector::zeros();
    if logistic {
        for &i in saturating.iter().filter(|&&i| !pinned[i]) {
            d[i] = sigmoid(x[i]) * sigmoid(-x[i]);
        }
    }
    d
}

fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

/// A step of the quadratic model in some coordinates: the model's gradient
/// and Hessian there, the step in them, and the point it leads to; whether
/// it was clipped at a bound, and the Newton decrement `−gᵀp` of the
/// unclipped step (twice the most the model can gain, within the bounds or
/// not).
struct Step {
    g: Vector,
    h: Mat,
    step: Vector,
    trial: Vector,
    clipped: bool,
    decrement: f64,
}

/// The damped (`mu`) Newton step `(H + mu·diag|H|) p = −g`: in `u = σ(s)`
/// for the coordinates with a [`logistic_scales`] `d > 0` (gradient `gᵢ/σ′`,
/// Hessian `Hᵢⱼ/(σ′ᵢσ′ⱼ)`, on the diagonal less `gᵢ·σ″/σ′³` with
/// `σ″/σ′ = 1 − 2σ`; mapped back by `s = logit(σ(s) + pᵢ)`, written with
/// `σ(−s)` so that it stays exact near 1; a coordinate the step would take
/// past a bound is clipped to [`CLIP`] of its distance and the others solved
/// given it) unless a system in `u` is not positive definite; then in `s`.
/// `None` when neither is.
fn damped_step(g: &Vector, h: &Mat, mu: f64, x: &Vector, d: &Vector, k: usize) -> Option<Step> {
    if (0..k).any(|i| d[i] > 0.0) {
        let scale = |i: usize| if d[i] > 0.0 { d[i] } else { 1.0 };
        let (mut gu, mut hu) = (*g, *h);
        for i in 0..k {
            gu[i] = g[i] / scale(i);
            for j in 0..k {
                hu[(i, j)] = h[(i, j)] / (scale(i) * scale(j));
            }
            if d[i] > 0.0 {
                hu[(i, i)] -= gu[i] * (1.0 - 2.0 * sigmoid(x[i])) / d[i];
            }
        }
        let damped = damp(&hu, mu, k);
        if let Some(newton) = damped.cholesky().map(|c| c.solve(&-gu)) {
            if let Some((step, clipped)) = clip_at_bounds(&gu, &damped, newton, x, d, k) {
                let mut trial = *x + step;
                for i in (0..k).filter(|&i| d[i] > 0.0) {
                    trial[i] = ((sigmoid(x[i]) + step[i]) / (sigmoid(-x[i]) - step[i])).ln();
                }
                return Some(Step {
                    g: gu,
                    h: hu,
                    step,
                    trial,
                    clipped,
                    decrement: -gu.dot(&newton),
                });
            }
        }
    }
    let step = damp(h, mu, k).cholesky()?.solve(&-g);
    Some(Step {
        g: *g,
        h: *h,
        step,
        trial: x + step,
        clipped: false,
        decrement: -g.dot(&step),
    })
}

/// `H + mu·diag|H|` (a zero diagonal damped as if 1e-12).
fn damp(h: &Mat, mu: f64, k: usize) -> Mat {
    let mut damped = *h;
    for i in 0..k {
        damped[(i, i)] += mu * h[(i, i)].abs().max(1e-12);
    }
    damped
}

/// The step `p` (solved from the `damped` system in `u`) with every `u`
/// coordinate it would take out of `(0, 1)` moved [`CLIP`] of the way to
/// that bound instead, and the other coordinates solved from the system
/// given those moves; also whether any was clipped. `None` when that
/// reduced system is not positive definite.
fn clip_at_bounds(
    g: &Vector,
    damped: &Mat,
    p: Vector,
    x: &Vector,
    d: &Vector,
    k: usize,
) -> Option<(Vector, bool)> {
    let mut moved = Vector::zeros();
    let mut clipped = [false; MAX_PARAMS];
    for i in (0..k).filter(|&i| d[i] > 0.0) {
        let (u, rest) = (sigmoid(x[i]), sigmoid(-x[i]));
        if rest - p[i] <= 0.0 {
            (moved[i], clipped[i]) = (CLIP * rest, true);
        } else if u + p[i] <= 0.0 {
            (moved[i], clipped[i]) = (-CLIP * u, true);
        }
    }
    if !clipped.iter().any(|&c| c) {
        return Some((p, false));
    }
    let (mut a, mut b) = (*damped, -g - damped * moved);
    for i in (0..k).filter(|&i| clipped[i]) {
        for j in 0..k {
            (a[(i, j)], a[(j, i)]) = (0.0, 0.0);
        }
        (a[(i, i)], b[i]) = (1.0, moved[i]);
    }
    a.cholesky().map(|c| (c.solve(&b), true))
}

/// Polish `start` by damped, projected Newton; `None` when the problem has no
/// analytic Hessian or more than [`MAX_PARAMS`] parameters (then L-BFGS polishes).
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
    let saturating = problem.saturating_coordinates();
    let logistic = problem.logistic_steps();
    let mut x = Vector::zeros();
    x.as_mut_slice()[..k].copy_from_slice(start);
    let (mut pinned, mut declined) = ([false; MAX_PARAMS], [false; MAX_PARAMS]);
    let (mut g, mut h) = (Vector::zeros(), Mat::identity());
    let mut f = evaluate(problem, w, &x, k, &pinned, &mut g, &mut h)?;
    let mut hessians = 1;
    let mut converged = false;
    let mut mu = 0.0;
    // The last step was rejected: the objective no longer falls.
    let mut stalled = false;
    for _ in 0..max_iters {
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            break;
        }
        let scales = logistic_scales(logistic, saturating, &x, &pinned);
        if let Some(newton) = damped_step(&g, &h, 0.0, &x, &scales, k) {
            let step = newton.trial - x;
            // Newton decrement gᵀH⁻¹g: twice what the quadratic model can
            // still gain (a step clipped at a bound gains less).
            let resolved = if stalled { 1e-12 } else { 1e-15 };
            if newton.decrement <= resolved * f.abs()
                || !newton.clipped && (0..k).all(|i| step[i].abs() <= 1e-10 * (1.0 + x[i].abs()))
            {
                match release(problem, w, &x, k, &mut pinned, &mut declined) {
                    None => {
                        converged = true;
                        break;
                    }
                    Some(back) => {
                        x = back;
                        f = evaluate(problem, w, &x, k, &pinned, &mut g, &mut h)?;
                        hessians += 1;
                        mu = 0.0;
                        continue;
                    }
                }
            }
            if let Some((trial, ready)) =
                pin_candidates(saturating, &x, &g, &step, k, &pinned, &declined)
            {
                let ft = problem.cost(&trial.as_slice()[..k], w);
                if ft <= f {
                    for i in (0..k).filter(|&i| ready[i]) {
                        pinned[i] = true;
                    }
                    x = trial;
                    f = evaluate(problem, w, &x, k, &pinned, &mut g, &mut h)?;
                    hessians += 1;
                    continue;
                }
            }
        }
        let Some(Step {
            g: gm,
            h: hm,
            step,
            trial,
            ..
        }) = damped_step(&g, &h, mu, &x, &scales, k)
        else {
            mu = (mu * 10.0).max(1e-6);
            if mu > 1e20 {
                break;
            }
            continue;
        };
        // The trial's cost comes with its gradient and Hessian, which an
        // accepted step (most of them) needs next.
        let (mut gt, mut ht) = (Vector::zeros(), Mat::identity());
        let ft = evaluate(problem, w, &trial, k, &pinned, &mut gt, &mut ht)?;
        hessians += 1;
        let predicted = -(gm.dot(&step) + 0.5 * step.dot(&(hm * step)));
        if ft.is_finite() && ft <= f {
            let ratio = if predicted > 0.0 {
                (f - ft) / predicted
            } else {
                1.0
            };
            (x, f, g, h) = (trial, ft, gt, ht);
            stalled = false;
            if ratio > 0.75 {
                mu = if mu < 1e-9 { 0.0 } else { mu / 4.0 };
            } else if ratio < 0.25 {
                mu = (mu * 2.0).max(1e-6);
            }
        } else {
            stalled = true;
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
