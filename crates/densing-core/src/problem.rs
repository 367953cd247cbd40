//! What a solver needs of a law and its data ([`Problem`]): the objective,
//! its derivatives and the grid of starts. Its own module so that the solvers
//! ([`crate::fit`], [`crate::newton`]) depend on it and not on each other.

/// A law together with its data, in the solver's internal coordinates `θ`
/// (log-transformed where a parameter must stay positive).
pub trait Problem: Sync {
    /// Names of the natural parameters, in report order.
    fn names(&self) -> &'static [&'static str];
    /// Number of observations.
    fn n_obs(&self) -> usize;
    /// Weighted objective at `θ`.
    fn cost(&self, theta: &[f64], w: &[f64]) -> f64;
    /// Gradient of [`Problem::cost`].
    fn gradient(&self, theta: &[f64], w: &[f64]) -> Vec<f64>;
    /// [`Problem::cost`], with [`Problem::gradient`] at the same `θ` where one
    /// pass gives both for little more than the cost (the L-BFGS polish asks
    /// for the gradient at almost every point it evaluates and keeps it).
    fn cost_with_gradient(&self, theta: &[f64], w: &[f64]) -> (f64, Option<Vec<f64>>) {
        (self.cost(theta, w), None)
    }
    /// `cost(θ, w) > bound`. A problem may stop summing its (non-negative)
    /// terms as soon as a partial sum passes `bound`, which gives the same
    /// answer: the warm path's rival check ([`crate::fit::RIVAL_FACTOR`])
    /// asks this of optima whose cost is often far above the bound.
    fn cost_exceeds(&self, theta: &[f64], w: &[f64], bound: f64) -> bool {
        self.cost(theta, w) > bound
    }
    /// Residuals (model − data, in the objective's units) of every observation.
    fn residuals(&self, theta: &[f64]) -> Vec<f64>;
    /// Separable grid scan: candidate starts, best first, at most `keep`.
    fn starts(&self, w: &[f64], resolution: usize, keep: usize) -> Vec<Vec<f64>>;
    /// Internal coordinates → natural parameters (same order as `names`).
    fn natural(&self, theta: &[f64]) -> Vec<f64>;
    /// The observed response the residuals are measured on (for R²).
    fn response(&self) -> Vec<f64>;
    /// Group of each observation: bootstrap resamples whole groups (runs).
    fn groups(&self) -> Vec<usize>;
    /// Observations of the "largest" group (largest N, or best model): the
    /// leave-largest-out check refits without them and predicts them.
    fn largest(&self) -> Vec<bool>;
    /// Cost at `θ`, with its gradient and Hessian (row-major `k×k`) written
    /// into `grad` and `hess` without allocating; `None` when the problem has
    /// no analytic Hessian (then L-BFGS polishes instead of Newton). The cost
    /// must equal [`Problem::cost`] to the bit: the Newton polish judges its
    /// trial steps by it ([`crate::newton`]).
    fn hessian(
        &self,
        _theta: &[f64],
        _w: &[f64],
        _grad: &mut [f64],
        _hess: &mut [f64],
    ) -> Option<f64> {
        None
    }
    /// How far apart `a` and `b` are in cells of the `resolution` grid that
    /// [`Problem::starts`] scans (the largest distance over the nonlinear
    /// parameters). A warm-started replicate that stays within one cell of its
    /// start is trusted; the default, ∞, makes every replicate rescan the grid.
    fn grid_distance(&self, _a: &[f64], _b: &[f64], _resolution: usize) -> f64 {
        f64::INFINITY
    }
    /// Internal coordinates through which a natural parameter reaches a bound
    /// only at ±∞: logits `s` of the score map's asymptotes `σ(s)` (on 0 or
    /// 1), logs `s` of the loss law's coefficients `e^s` (on 0). The Newton
    /// polish pins such a coordinate at its bound when its gradient pushes
    /// outward there ([`crate::newton`]), instead of walking `s` out one unit
    /// per step.
    fn saturating_coordinates(&self) -> &'static [usize] {
        &[]
    }
    /// Whether the Newton polish may step the saturating coordinates `s` in
    /// their natural parameters `u = σ(s)` ([`crate::newton`]): worth it
    /// where the objective is a low-degree polynomial in `u` (the score map is
    /// linear in both asymptotes), since in `s` it flattens like `e^{−s}`
    /// towards the bound and Newton crawls there.
    fn logistic_steps(&self) -> bool {
        false
    }
    /// A start equivalent to the optimum `θ` for a replicate to polish from:
    /// `θ` itself unless a coordinate sits so far out on a saturated plateau
    /// that its gradient is 0 in floating point (it could never move back).
    fn warm_start(&self, theta: &[f64]) -> Vec<f64> {
        theta.to_vec()
    }
}
