//! L-BFGS (memory 10) with the Moré–Thuente line search: the polish of every
//! grid start ([`crate::fit::GridPolish::polish_from`]).
//!
//! A transcription of argmin 0.11's `LBFGS` driven by its `Executor` with a
//! `MoreThuenteLineSearch` (MINPACK's `dcsrch`/`dcstep`, ftol 1e-4, gtol 0.9,
//! xtol 1e-10, steps in `[√ε, ∞)` starting at 1), which densing used until
//! this module: the same floating-point operations in the same order, so the
//! same iterates to the last bit (`tests/lbfgs.rs` runs both on the same
//! starts); replacing argmin by it left `densing predict --json` and
//! `densing fit --json` byte-identical.
//!
//! Source: argmin 0.11.0 (crates.io, `solver/quasinewton/lbfgs.rs` and
//! `solver/linesearch/morethuente.rs`), © Stefan Kroboth and the argmin
//! developers, licensed MIT OR Apache-2.0; this transcription is used under its
//! MIT terms (the permission notice: LICENSE-MIT of this repository reproduces
//! the same MIT text).
//!
//! Why hand-written: a sampling profile of `densing predict` (two OLMo-2
//! targets, 300 replicates) put 32% of the samples in the L-BFGS polishes of
//! the loss law's fallbacks, and three quarters of those in argmin's own
//! bookkeeping rather than in the objective (20 points, 5 parameters): a fresh
//! `Vec` per vector operation, a cloned line-search solver and a nested
//! `Executor` per iteration, a `HashMap<String, u64>` of function counts
//! updated (and hashed) after every iteration. Here the buffers are allocated
//! once per polish and nothing is counted.

/// Curvature pairs kept (argmin's `LBFGS::new(_, 10)`).
const MEMORY: usize = 10;
/// Sufficient decrease (Armijo) constant of the line search.
const FTOL: f64 = 1e-4;
/// Curvature (strong Wolfe) constant of the line search.
const GTOL: f64 = 0.9;
/// Extrapolation factor of the line search before a minimum is bracketed.
const XTRAPF: f64 = 4.0;
/// Relative width of the bracket at which the line search stops.
const XTOL: f64 = 1e-10;

/// Why an evaluation failed (a NaN cost or a non-finite gradient): the
/// caller then keeps its start, as it did when argmin returned the error.
#[derive(Debug)]
pub struct EvalError;

/// Minimise from `start`; `eval(x, g)` returns the cost at `x` and writes its
/// gradient into `g`. Stops when the gradient's norm is below `tol_grad`, the
/// cost changed by less than `tol_cost` in the last iteration, a line search
/// failed, or after `max_iters` iterations. Returns the best point seen and
/// its cost, or the error of an evaluation outside a line search (one inside
/// a line search ends the run like a failed line search, as in argmin).
pub fn minimize<E>(
    mut eval: E,
    start: &[f64],
    max_iters: u64,
    tol_grad: f64,
    tol_cost: f64,
) -> Result<(Vec<f64>, f64), EvalError>
where
    E: FnMut(&[f64], &mut [f64]) -> Result<f64, EvalError>,
{
    let k = start.len();
    let mut x = start.to_vec();
    let mut g = vec![0.0; k];
    let mut cost = eval(&x, &mut g)?;
    let mut prev_cost = f64::INFINITY;
    let (mut best, mut best_cost) = (x.clone(), f64::INFINITY);
    update_best(&x, cost, &mut best, &mut best_cost);
    let mut pairs = Pairs::new(k);
    let (mut d, mut trial, mut trial_g) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    let mut iter = 0;
    loop {
        // argmin's checks, in its order: the solver's, the iteration cap, the
        // target cost (−∞).
        let norm = g.iter().map(|a| a.powi(2)).sum::<f64>().sqrt();
        if norm < tol_grad
            || (prev_cost - cost).abs() < tol_cost
            || iter >= max_iters
            || best_cost <= f64::NEG_INFINITY
        {
            break;
        }
        pairs.direction(&g, &mut d);
        let Ok(next) = line_search(&mut eval, &x, cost, &g, &d, &mut trial, &mut trial_g) else {
            break;
        };
        pairs.push(&x, &trial, &g, &trial_g);
        std::mem::swap(&mut x, &mut trial);
        std::mem::swap(&mut g, &mut trial_g);
        prev_cost = cost;
        cost = next;
        update_best(&x, cost, &mut best, &mut best_cost);
        iter += 1;
    }
    Ok((best, best_cost))
}

/// The last [`MEMORY`] curvature pairs `sᵢ = x_{i+1} − xᵢ`, `yᵢ = g_{i+1} −
/// gᵢ` in a ring (the oldest overwritten, as argmin pops it), each with
/// `yᵢᵀsᵢ` and `yᵢᵀyᵢ` computed once when it is stored (argmin recomputes
/// them, with the same products in the same order, every iteration).
struct Pairs {
    k: usize,
    s: Vec<f64>,
    y: Vec<f64>,
    ys: [f64; MEMORY],
    yy: [f64; MEMORY],
    /// Slot of the oldest pair, and how many are stored.
    head: usize,
    len: usize,
}

impl Pairs {
    fn new(k: usize) -> Self {
        Pairs {
            k,
            s: vec![0.0; MEMORY * k],
            y: vec![0.0; MEMORY * k],
            ys: [0.0; MEMORY],
            yy: [0.0; MEMORY],
            head: 0,
            len: 0,
        }
    }

    /// The slot of the `i`-th pair, oldest first.
    fn slot(&self, i: usize) -> usize {
        (self.head + i) % MEMORY
    }

    fn pair(&self, slot: usize) -> (&[f64], &[f64]) {
        let r = slot * self.k..(slot + 1) * self.k;
        (&self.s[r.clone()], &self.y[r])
    }

    fn push(&mut self, x: &[f64], x1: &[f64], g: &[f64], g1: &[f64]) {
        let slot = if self.len < MEMORY {
            self.len += 1;
            self.slot(self.len - 1)
        } else {
            let oldest = self.head;
            self.head = (self.head + 1) % MEMORY;
            oldest
        };
        let r = slot * self.k..(slot + 1) * self.k;
        for (((si, yi), (a, b)), (c, e)) in self.s[r.clone()]
            .iter_mut()
            .zip(&mut self.y[r])
            .zip(x1.iter().zip(x))
            .zip(g1.iter().zip(g))
        {
            *si = a - b;
            *yi = c - e;
        }
        let (s, y) = self.pair(slot);
        (self.ys[slot], self.yy[slot]) = (dot(y, s), dot(y, y));
    }

    /// The two-loop recursion: `d = −H·g` with `H` the L-BFGS inverse
    /// Hessian of the pairs, scaled by `γ = sᵀy/yᵀy` of the newest pair.
    fn direction(&self, g: &[f64], d: &mut [f64]) {
        let m = self.len;
        let gamma = if m > 0 {
            let newest = self.slot(m - 1);
            self.ys[newest] / self.yy[newest]
        } else {
            1.0
        };
        let (mut alpha, mut rho) = ([0.0; MEMORY], [0.0; MEMORY]);
        let q = d;
        q.copy_from_slice(g);
        for i in (0..m).rev() {
            let slot = self.slot(i);
            let (s, y) = self.pair(slot);
            rho[i] = 1.0 / self.ys[slot];
            alpha[i] = dot(s, q) * rho[i];
            for (qj, yj) in q.iter_mut().zip(y) {
                *qj -= yj * alpha[i];
            }
        }
        let r = q;
        for rj in r.iter_mut() {
            *rj *= gamma;
        }
        for (i, (&a, &rh)) in alpha.iter().zip(&rho).enumerate().take(m) {
            let (s, y) = self.pair(self.slot(i));
            let beta = dot(y, r) * rh;
            for (rj, sj) in r.iter_mut().zip(s) {
                *rj += sj * (a - beta);
            }
        }
        for rj in r.iter_mut() {
            *rj *= -1.0;
        }
    }
}

/// argmin's `IterState::update`: a strictly lower cost (or a first infinite
/// one) becomes the best.
fn update_best(x: &[f64], cost: f64, best: &mut [f64], best_cost: &mut f64) {
    if cost < *best_cost
        || (cost.is_infinite()
            && best_cost.is_infinite()
            && cost.is_sign_positive() == best_cost.is_sign_positive())
    {
        best.copy_from_slice(x);
        *best_cost = cost;
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// A trial step of the line search: its length, and the objective and its
/// directional derivative there (or their shifted versions in stage 1).
#[derive(Clone, Copy)]
struct Step {
    x: f64,
    fx: f64,
    gx: f64,
}

impl Step {
    fn new(x: f64, fx: f64, gx: f64) -> Self {
        Step { x, fx, gx }
    }
}

/// Why a line search stopped without a point: the direction is not a
/// descent direction, an evaluation failed, or the interpolation met a
/// non-finite value.
struct Failed;

impl From<EvalError> for Failed {
    fn from(_: EvalError) -> Self {
        Failed
    }
}

/// The Moré–Thuente search from `x0` (cost `finit`, gradient `g0`) along
/// `d`: writes the accepted point and its gradient into `x` and `g` and
/// returns its cost.
fn line_search<E>(
    eval: &mut E,
    x0: &[f64],
    finit: f64,
    g0: &[f64],
    d: &[f64],
    x: &mut [f64],
    g: &mut [f64],
) -> Result<f64, Failed>
where
    E: FnMut(&[f64], &mut [f64]) -> Result<f64, EvalError>,
{
    let (stpmin, stpmax) = (f64::EPSILON.sqrt(), f64::INFINITY);
    let dginit = dot(g0, d);
    if dginit >= 0.0 {
        return Err(Failed);
    }
    let mut stage1 = true;
    let mut brackt = false;
    let dgtest = FTOL * dginit;
    let mut width = stpmax - stpmin;
    let mut width1 = 2.0 * width;
    let mut stp = Step::new(1.0, f64::NAN, f64::NAN);
    let mut stx = Step::new(0.0, finit, dginit);
    let mut sty = Step::new(0.0, finit, dginit);
    let mut infoc = 1;
    loop {
        let (stmin, stmax) = if brackt {
            (stx.x.min(sty.x), stx.x.max(sty.x))
        } else {
            (stx.x, stp.x + XTRAPF * (stp.x - stx.x))
        };
        stp.x = stp.x.max(stpmin);
        stp.x = stp.x.min(stpmax);
        if (brackt && (stp.x <= stmin || stp.x >= stmax || (stmax - stmin) <= XTOL * stmax))
            || infoc == 0
        {
            stp.x = stx.x;
        }
        for ((xi, x0i), di) in x.iter_mut().zip(x0).zip(d) {
            *xi = x0i + di * stp.x;
        }
        let f = eval(x, g)?;
        let dg = dot(d, g);
        let ftest1 = finit + stp.x * dgtest;
        // MINPACK's `info`: any of these ends the search at this point.
        if (brackt && (stp.x <= stmin || stp.x >= stmax))
            || infoc == 0
            || ((stp.x - stpmax).abs() < f64::EPSILON && f <= ftest1 && dg <= dgtest)
            || ((stp.x - stpmin).abs() < f64::EPSILON && (f > ftest1 || dg >= dgtest))
            || (brackt && stmax - stmin <= XTOL * stmax)
            || (f <= ftest1 && dg.abs() <= GTOL * (-dginit))
        {
            return Ok(f);
        }
        if stage1 && f <= ftest1 && dg >= FTOL.min(GTOL) * dginit {
            stage1 = false;
        }
        if stage1 && f <= stp.fx && f > ftest1 {
            // The modified function ψ(t) = f(t) − f(0) − t·dgtest.
            let fm = f - stp.x * dgtest;
            let fxm = stx.fx - stx.x * dgtest;
            let fym = sty.fx - sty.x * dgtest;
            let dgm = dg - dgtest;
            let dgxm = stx.gx - dgtest;
            let dgym = sty.gx - dgtest;
            let (stx1, sty1, stp1, brackt1, info) = cstep(
                Step::new(stx.x, fxm, dgxm),
                Step::new(sty.x, fym, dgym),
                Step::new(stp.x, fm, dgm),
                brackt,
                stmin,
                stmax,
            )?;
            stx.x = stx1.x;
            sty.x = sty1.x;
            stx.fx += stx1.x * dgtest;
            sty.fx += sty1.x * dgtest;
            stx.gx += dgtest;
            sty.gx += dgtest;
            brackt = brackt1;
            stp = stp1;
            infoc = info;
        } else {
            let (stx1, sty1, stp1, brackt1, info) =
                cstep(stx, sty, Step::new(stp.x, f, dg), brackt, stmin, stmax)?;
            stx = stx1;
            sty = sty1;
            stp = stp1;
            brackt = brackt1;
            infoc = info;
        }
        if brackt {
            if (sty.x - stx.x).abs() >= 0.66 * width1 {
                stp.x = stx.x + 0.5 * (sty.x - stx.x);
            }
            width1 = width;
            width = (sty.x - stx.x).abs();
        }
    }
}

/// The largest of three values as argmin takes it (`max_by` on
/// `partial_cmp`, after the caller checked they are finite).
fn max3(a: f64, b: f64, c: f64) -> f64 {
    *[a, b, c]
        .iter()
        .max_by(|a, b| a.partial_cmp(b).expect("finite"))
        .expect("three values")
}

/// `γ` of the cubic through two steps with slopes `g₁`, `g₂`, where `θ =
/// 3(f₁ − f₂)/(x₂ − x₁) + g₁ + g₂`: `s·√((θ/s)² − (g₁/s)(g₂/s))` with `s` the
/// largest of the three (the radicand clamped at 0 when `clamp`).
fn cubic(theta: f64, g1: f64, g2: f64, clamp: bool) -> Result<f64, Failed> {
    if [theta, g1, g2]
        .iter()
        .any(|n| n.is_nan() || n.is_infinite())
    {
        return Err(Failed);
    }
    let s = max3(theta, g1, g2);
    let disc = (theta / s).powi(2) - (g1 / s) * (g2 / s);
    Ok(if clamp {
        s * 0.0f64.max(disc).sqrt()
    } else {
        s * disc.sqrt()
    })
}

/// MINPACK's `dcstep` (argmin's `cstep`): the safeguarded step of the
/// interval of uncertainty `[stx, sty]` given the trial `stp`; returns the
/// updated `stx`, `sty`, `stp`, whether a minimum is bracketed, and `info`
/// (0 when the arguments were inconsistent and nothing changed).
fn cstep(
    stx: Step,
    sty: Step,
    stp: Step,
    brackt: bool,
    stpmin: f64,
    stpmax: f64,
) -> Result<(Step, Step, Step, bool, usize), Failed> {
    if (brackt && (stp.x <= stx.x.min(sty.x) || stp.x >= stx.x.max(sty.x)))
        || stx.gx * (stp.x - stx.x) >= 0.0
        || stpmax < stpmin
    {
        return Ok((stx, sty, stp, brackt, 0));
    }
    let mut brackt = brackt;
    let sgnd = stp.gx * (stx.gx / stx.gx.abs());
    let (info, bound, mut stpf);
    if stp.fx > stx.fx {
        // Higher value: the minimum is bracketed.
        info = 1;
        bound = true;
        let theta = 3.0 * (stx.fx - stp.fx) / (stp.x - stx.x) + stx.gx + stp.gx;
        let mut gamma = cubic(theta, stx.gx, stp.gx, false)?;
        if stp.x < stx.x {
            gamma = -gamma;
        }
        let p = (gamma - stx.gx) + theta;
        let q = ((gamma - stx.gx) + gamma) + stp.gx;
        let r = p / q;
        let stpc = stx.x + r * (stp.x - stx.x);
        let stpq = stx.x
            + ((stx.gx / ((stx.fx - stp.fx) / (stp.x - stx.x) + stx.gx)) / 2.0) * (stp.x - stx.x);
        stpf = if (stpc - stx.x).abs() < (stpq - stx.x).abs() {
            stpc
        } else {
            stpc + (stpq - stpc) / 2.0
        };
        brackt = true;
    } else if sgnd < 0.0 {
        // Lower value, derivatives of opposite sign: bracketed.
        info = 2;
        bound = false;
        let theta = 3.0 * (stx.fx - stp.fx) / (stp.x - stx.x) + stx.gx + stp.gx;
        let mut gamma = cubic(theta, stx.gx, stp.gx, false)?;
        if stp.x > stx.x {
            gamma = -gamma;
        }
        let p = (gamma - stp.gx) + theta;
        let q = ((gamma - stp.gx) + gamma) + stx.gx;
        let r = p / q;
        let stpc = stp.x + r * (stx.x - stp.x);
        let stpq = stp.x + (stp.gx / (stp.gx - stx.gx)) * (stx.x - stp.x);
        stpf = if (stpc - stp.x).abs() > (stpq - stp.x).abs() {
            stpc
        } else {
            stpq
        };
        brackt = true;
    } else if stp.gx.abs() < stx.gx.abs() {
        // Lower value, same sign, smaller derivative.
        info = 3;
        bound = true;
        let theta = 3.0 * (stx.fx - stp.fx) / (stp.x - stx.x) + stx.gx + stp.gx;
        let mut gamma = cubic(theta, stx.gx, stp.gx, true)?;
        if stp.x > stx.x {
            gamma = -gamma;
        }
        let p = (gamma - stp.gx) + theta;
        let q = (gamma + (stx.gx - stp.gx)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            stp.x + r * (stx.x - stp.x)
        } else if stp.x > stx.x {
            stpmax
        } else {
            stpmin
        };
        let stpq = stp.x + (stp.gx / (stp.gx - stx.gx)) * (stx.x - stp.x);
        stpf = if brackt {
            if (stp.x - stpc).abs() < (stp.x - stpq).abs() {
                stpc
            } else {
                stpq
            }
        } else if (stp.x - stpc).abs() > (stp.x - stpq).abs() {
            stpc
        } else {
            stpq
        };
    } else {
        // Lower value, same sign, derivative not smaller.
        info = 4;
        bound = false;
        stpf = if brackt {
            let theta = 3.0 * (stp.fx - sty.fx) / (sty.x - stp.x) + sty.gx + stp.gx;
            let mut gamma = cubic(theta, sty.gx, stp.gx, false)?;
            if stp.x > sty.x {
                gamma = -gamma;
            }
            let p = (gamma - stp.gx) + theta;
            let q = ((gamma - stp.gx) + gamma) + sty.gx;
            let r = p / q;
            stp.x + r * (sty.x - stp.x)
        } else if stp.x > stx.x {
            stpmax
        } else {
            stpmin
        };
    }
    let (mut stx_o, mut sty_o, mut stp_o) = (stx, sty, stp);
    if stp_o.fx > stx_o.fx {
        sty_o = stp_o;
    } else {
        if sgnd < 0.0 {
            sty_o = stx_o;
        }
        stx_o = stp_o;
    }
    stpf = stpmax.min(stpf);
    stpf = stpmin.max(stpf);
    stp_o.x = stpf;
    if brackt && bound {
        if sty_o.x > stx_o.x {
            stp_o.x = stp_o.x.min(stx_o.x + 0.66 * (sty_o.x - stx_o.x));
        } else {
            stp_o.x = stp_o.x.max(stx_o.x + 0.66 * (sty_o.x - stx_o.x));
        }
    }
    Ok((stx_o, sty_o, stp_o, brackt, info))
}
