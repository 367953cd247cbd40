//! Global, deterministic fitting: a *problem* (a law plus its data) and a
//! *solver* that searches it, in the spirit of argmin.
//!
//! Every law densing fits is separable: for fixed nonlinear parameters (the
//! exponents of the loss law; γ and l of the score map) the model is linear in
//! the rest. [`GridPolish`] exploits this: it scans a grid over the nonlinear
//! parameters, solving the linear part in closed form at each cell, keeps the
//! grid's local minima as starts, and polishes each with L-BFGS ([`crate::lbfgs`]) on the
//! true objective, finished by Newton where the problem has a Hessian. Bootstrap
//! replicates start from the full-data optima instead
//! ([`GridPolish::solve_replicate`]). The best polished point is the fit; how many distinct optima
//! the starts reached is reported, so a multi-modal objective is visible.
//!
//! Observations carry *weights*: a bootstrap replicate is the same problem with
//! integer multiplicities, and a held-out point has weight 0. Nothing is copied.

use crate::error::{Error, Result};
use crate::lbfgs::{minimize, EvalError};
use crate::newton::{newton, Polished};
pub use crate::problem::Problem;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// Grid scan over the nonlinear parameters, then L-BFGS polish of the best starts.
#[derive(Debug, Clone, Copy)]
pub struct GridPolish {
    /// Grid points per nonlinear parameter.
    pub resolution: usize,
    /// Number of grid local minima polished.
    pub polish: usize,
    /// L-BFGS iteration cap per start.
    pub max_iters: u64,
}

impl Default for GridPolish {
    fn default() -> Self {
        GridPolish {
            resolution: 60,
            polish: 12,
            max_iters: 2000,
        }
    }
}

/// The outcome of one solve.
#[derive(Debug, Clone)]
pub struct Solution {
    pub theta: Vec<f64>,
    pub cost: f64,
    /// Distinct optima reached by the polished starts (1 = unimodal as seen).
    pub distinct_optima: usize,
    pub starts: usize,
    /// The best [`WARM_STARTS`] distinct optima, best first (`theta` first):
    /// the starts of warm-started bootstrap replicates.
    pub optima: Vec<Vec<f64>>,
}

/// Distinct optima of the full-data fit a warm-started replicate polishes from.
pub const WARM_STARTS: usize = 3;

/// Newton steps allowed from a point already near an optimum (a warm start, or
/// an L-BFGS end point); converging takes ~5–40, so more means the point was
/// not near one (a warm start then falls back to the grid).
pub const NEWTON_ITERS: u64 = 100;

/// A full-data optimum other than the best is polished for a replicate only
/// while the replicate's objective at it is below this multiple of the best
/// polished cost so far: a polish starts at a minimum of nearly the same
/// objective and moves little, so it cannot halve it. (On the OLMo-2 ladder the
/// score map's second and third optima are degenerate maps at 30–450× the
/// best cost, and their polish, 60–100 Newton steps on ~2,000 points that never
/// converge, was most of a replicate's time.) The full-grid path polishes
/// every start, and `tests/warm_start.rs` compares the two.
pub const RIVAL_FACTOR: f64 = 2.0;

/// How a bootstrap replicate is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replicate {
    /// Newton from the full-data optima; the full grid only when that is not
    /// trustworthy (see [`GridPolish::solve_replicate`]).
    Warm,
    /// The full grid scan plus the full-data optima as extra starts, every
    /// start polished (the reference the warm path is checked against).
    FullGrid,
}

/// A solved replicate and whether it fell back to the full grid.
#[derive(Debug, Clone)]
pub struct Replicated {
    pub solution: Solution,
    pub fell_back: bool,
}

impl GridPolish {
    /// Polish one start: L-BFGS, then, where the problem has an analytic
    /// Hessian, damped Newton ([`crate::newton`]) from its end point, so every
    /// optimum is converged to the same precision as a warm-started
    /// replicate's. (Newton alone from a far grid start crawls: a sampling
    /// profile showed it spending 5× the L-BFGS time on the score map's flat
    /// sigmoid plateaus.) Returns the best point seen.
    pub fn polish_from<P: Problem + ?Sized>(
        &self,
        problem: &P,
        w: &[f64],
        start: Vec<f64>,
    ) -> (Vec<f64>, f64) {
        let (theta, cost) = self.lbfgs(problem, w, start);
        match newton(problem, w, &theta, NEWTON_ITERS) {
            Some(p) if p.cost <= cost => (p.theta, p.cost),
            _ => (theta, cost),
        }
    }

    /// Polish one start by L-BFGS ([`crate::lbfgs`]) on the cost divided by
    /// the start's, so that its stopping tolerances are relative (absolute ones
    /// stop early on data whose objective is tiny, e.g. 1e-7 for a ladder with
    /// 1e-4 noise); returns the best point seen, or the start if an evaluation
    /// failed (a NaN cost would send the line search into an endless loop) or
    /// nothing was better.
    fn lbfgs<P: Problem + ?Sized>(
        &self,
        problem: &P,
        w: &[f64],
        start: Vec<f64>,
    ) -> (Vec<f64>, f64) {
        let start_cost = problem.cost(&start, w);
        // A cost below ~1e-10 per observation (residuals ~1e-5) is exact
        // for every law here; without the floor, noise-free data would keep
        // L-BFGS shrinking the cost by orders of magnitude until max_iters.
        let floor = 1e-10 * problem.n_obs() as f64;
        let scale = if start_cost.is_finite() {
            start_cost.max(floor)
        } else {
            1.0
        };
        let eval = |x: &[f64], g: &mut [f64]| {
            let (c, grad) = problem.cost_with_gradient(x, w);
            let c = c / scale;
            if c.is_nan() {
                return Err(EvalError);
            }
            let grad = grad.unwrap_or_else(|| problem.gradient(x, w));
            for (gi, v) in g.iter_mut().zip(grad) {
                *gi = v / scale;
            }
            if g.iter().any(|v| !v.is_finite()) {
                return Err(EvalError);
            }
            Ok(c)
        };
        match minimize(eval, &start, self.max_iters, 1e-12, 1e-15) {
            Ok((p, best)) if best.is_finite() => {
                let cost = problem.cost(&p, w);
                if cost <= start_cost {
                    (p, cost)
                } else {
                    (start, start_cost)
                }
            }
            _ => (start, start_cost),
        }
    }

    /// Solve: grid starts plus any `extra` starts (e.g. a previous optimum).
    pub fn solve<P: Problem + ?Sized>(
        &self,
        problem: &P,
        w: &[f64],
        extra: &[Vec<f64>],
    ) -> Result<Solution> {
        let mut starts = problem.starts(w, self.resolution, self.polish);
        starts.extend(extra.iter().cloned());
        if starts.is_empty() {
            return Err(Error::Fit("the grid scan found no feasible start".into()));
        }
        let polished: Vec<(Vec<f64>, f64)> = starts
            .into_iter()
            .map(|s| self.polish_from(problem, w, s))
            .filter(|(_, c)| c.is_finite())
            .collect();
        let n = polished.len();
        let optima = distinct(polished);
        let best = optima
            .first()
            .cloned()
            .ok_or_else(|| Error::Fit("every start diverged".into()))?;
        Ok(Solution {
            distinct_optima: optima.len(),
            theta: best.0,
            cost: best.1,
            starts: n,
            optima: optima
                .into_iter()
                .take(WARM_STARTS)
                .map(|(t, _)| t)
                .collect(),
        })
    }

    /// Solve one bootstrap replicate (weights `w`) given the full-data optima
    /// (best first).
    ///
    /// [`Replicate::Warm`] polishes each optimum by Newton and keeps the best,
    /// skipping a later (worse on the full data) optimum whose replicate
    /// objective at its start already exceeds [`RIVAL_FACTOR`] times the best
    /// polished so far;
    /// it falls back to [`GridPolish::solve`] (grid plus the optima as extra
    /// starts) when that best polish did not converge to a minimum or moved
    /// more than one grid cell from its start ([`Problem::grid_distance`]): the
    /// replicate's optimum may then lie in another basin, which only the scan
    /// can find. Within one cell the scan's own start for that basin is the
    /// same cell, so it cannot see a different one there.
    pub fn solve_replicate<P: Problem + ?Sized>(
        &self,
        problem: &P,
        w: &[f64],
        optima: &[Vec<f64>],
        how: Replicate,
    ) -> Result<Replicated> {
        if how == Replicate::Warm {
            let mut best: Option<(Vec<f64>, Polished)> = None;
            for t in optima {
                let start = problem.warm_start(t);
                if let Some((_, b)) = &best {
                    if problem.cost_exceeds(&start, w, RIVAL_FACTOR * b.cost) {
                        continue;
                    }
                }
                if let Some(p) = newton(problem, w, &start, NEWTON_ITERS) {
                    if p.cost.is_finite() && best.as_ref().is_none_or(|(_, b)| p.cost < b.cost) {
                        best = Some((start, p));
                    }
                }
            }
            if let Some((start, p)) = best {
                if p.converged && problem.grid_distance(&start, &p.theta, self.resolution) <= 1.0 {
                    return Ok(Replicated {
                        solution: Solution {
                            optima: vec![p.theta.clone()],
                            theta: p.theta,
                            cost: p.cost,
                            distinct_optima: 1,
                            starts: optima.len(),
                        },
                        fell_back: false,
                    });
                }
            }
        }
        let starts: Vec<Vec<f64>> = optima.iter().map(|t| problem.warm_start(t)).collect();
        Ok(Replicated {
            solution: self.solve(problem, w, &starts)?,
            fell_back: how == Replicate::Warm,
        })
    }
}

/// The distinct optima among polished points, best first. Two points are the
/// same optimum when their objectives agree to 1e-6 (relative) and their
/// coordinates to 1e-3.
fn distinct(mut points: Vec<(Vec<f64>, f64)>) -> Vec<(Vec<f64>, f64)> {
    points.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut reps: Vec<(Vec<f64>, f64)> = Vec::new();
    for p in points {
        let same = reps.iter().any(|r| {
            (r.1 - p.1).abs() <= 1e-6 * r.1.abs().max(1e-12)
                && r.0.iter().zip(&p.0).all(|(a, b)| (a - b).abs() < 1e-3)
        });
        if !same {
            reps.push(p);
        }
    }
    reps
}

/// Everything a fit reports.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    pub names: Vec<String>,
    pub params: Vec<f64>,
    pub objective: f64,
    /// R² of the response the objective is measured on.
    pub r2: f64,
    pub residuals: Vec<f64>,
    pub n_obs: usize,
    pub distinct_optima: usize,
    pub starts: usize,
    /// Correlation matrix of the internal parameters from the Gauss–Newton
    /// approximation `(JᵀJ)⁻¹` of the residual Jacobian (`None` if singular).
    pub correlations: Option<Vec<Vec<f64>>>,
    /// Refit without the largest group, then its mean |residual| (in the
    /// objective's units: relative error for ln-loss); `None` when there is
    /// no such split or the fit was made without the check ([`fit_only`]).
    pub leave_largest_out_error: Option<f64>,
    #[serde(skip)]
    pub theta: Vec<f64>,
    /// The best distinct optima (`theta` first), where replicates warm-start.
    #[serde(skip)]
    pub optima: Vec<Vec<f64>>,
}

/// Fit a problem with all observations weighted 1 and assemble the report.
pub fn fit<P: Problem + ?Sized>(problem: &P, solver: &GridPolish) -> Result<FitReport> {
    fit_checked(problem, solver, true)
}

/// [`fit`] without the leave-largest-out check, a second full fit whose
/// error only `densing fit` reports: for the fits of `densing predict` and
/// the two-step calibration, which use the optimum alone.
pub fn fit_only<P: Problem + ?Sized>(problem: &P, solver: &GridPolish) -> Result<FitReport> {
    fit_checked(problem, solver, false)
}

/// [`fit`], with the leave-largest-out check only when `check`.
fn fit_checked<P: Problem + ?Sized>(
    problem: &P,
    solver: &GridPolish,
    check: bool,
) -> Result<FitReport> {
    let w = vec![1.0; problem.n_obs()];
    let sol = solver.solve(problem, &w, &[])?;
    let residuals = problem.residuals(&sol.theta);
    let response = problem.response();
    let mean = response.iter().sum::<f64>() / response.len() as f64;
    let ss_tot: f64 = response.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = residuals.iter().map(|r| r * r).sum();
    let largest = problem.largest();
    let split = largest.iter().any(|&x| x) && largest.iter().any(|&x| !x);
    let leave_largest_out_error = if check && split {
        let w_out: Vec<f64> = largest.iter().map(|&l| if l { 0.0 } else { 1.0 }).collect();
        solver
            .solve(problem, &w_out, std::slice::from_ref(&sol.theta))
            .ok()
            .map(|s| {
                let r = problem.residuals(&s.theta);
                let held: Vec<f64> = r
                    .iter()
                    .zip(&largest)
                    .filter(|(_, &l)| l)
                    .map(|(r, _)| r.abs())
                    .collect();
                held.iter().sum::<f64>() / held.len() as f64
            })
    } else {
        None
    };
    Ok(FitReport {
        names: problem.names().iter().map(|s| s.to_string()).collect(),
        params: problem.natural(&sol.theta),
        objective: sol.cost,
        r2: 1.0 - ss_res / ss_tot,
        residuals,
        n_obs: problem.n_obs(),
        distinct_optima: sol.distinct_optima,
        starts: sol.starts,
        correlations: correlations(problem, &sol.theta),
        leave_largest_out_error,
        theta: sol.theta,
        optima: sol.optima,
    })
}

/// Parameter correlations from the central-difference Jacobian of the residuals.
fn correlations<P: Problem + ?Sized>(problem: &P, theta: &[f64]) -> Option<Vec<Vec<f64>>> {
    let k = theta.len();
    let m = problem.n_obs();
    let mut jac = DMatrix::<f64>::zeros(m, k);
    for j in 0..k {
        let h = 1e-6 * theta[j].abs().max(1.0);
        let mut plus = theta.to_vec();
        let mut minus = theta.to_vec();
        plus[j] += h;
        minus[j] -= h;
        let rp = DVector::from_vec(problem.residuals(&plus));
        let rm = DVector::from_vec(problem.residuals(&minus));
        jac.set_column(j, &((rp - rm) / (2.0 * h)));
    }
    let cov = (jac.transpose() * &jac).try_inverse()?;
    let corr = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| cov[(i, j)] / (cov[(i, i)] * cov[(j, j)]).sqrt())
                .collect()
        })
        .collect::<Vec<Vec<f64>>>();
    corr.iter().flatten().all(|v| v.is_finite()).then_some(corr)
}

/// Check there are more observations than parameters before fitting.
pub fn require_points(file: &str, n_obs: usize, n_params: usize) -> Result<()> {
    if n_obs <= n_params {
        return Err(Error::file(
            file,
            format!(
                "{n_obs} data points cannot determine {n_params} parameters; need at least {}",
                n_params + 1
            ),
        ));
    }
    Ok(())
}

/// Huber loss `ρ(r) = r²/2` for `|r| ≤ δ`, `δ(|r| − δ/2)` beyond, and its derivative.
#[inline]
pub fn huber(r: f64, delta: f64) -> (f64, f64) {
    if r.abs() <= delta {
        (0.5 * r * r, r)
    } else {
        (delta * (r.abs() - 0.5 * delta), delta * r.signum())
    }
}

/// `n` points evenly spaced on `[lo, hi]`.
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![0.5 * (lo + hi)];
    }
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

/// Indices of the grid cells (row-major `rows × cols`) that are no worse than any
/// of their 8 neighbours, sorted by value, at most `keep`.
pub fn grid_local_minima(values: &[f64], rows: usize, cols: usize, keep: usize) -> Vec<usize> {
    let mut minima: Vec<usize> = (0..rows * cols)
        .filter(|&idx| {
            let v = values[idx];
            if !v.is_finite() {
                return false;
            }
            let (r, c) = ((idx / cols) as isize, (idx % cols) as isize);
            (-1..=1).all(|dr| {
                (-1..=1).all(|dc| {
                    let (rr, cc) = (r + dr, c + dc);
                    if (dr == 0 && dc == 0)
                        || rr < 0
                        || cc < 0
                        || rr >= rows as isize
                        || cc >= cols as isize
                    {
                        return true;
                    }
                    v <= values[rr as usize * cols + cc as usize]
                })
            })
        })
        .collect();
    minima.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    minima.truncate(keep);
    minima
}
