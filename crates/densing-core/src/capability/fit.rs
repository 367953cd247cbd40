//! The joint least-squares fit of `p = c + (1 − c)·σ(a_b·(θ_m − d_b − δ_i))`.
//!
//! Objective: `½ Σ w·(p − y)² + ½ (λ_θ Σθ² + λ_d Σd² + λ_a Σ(ln a)² + λ_δ Σδ²)`.
//! Least squares on the score, not a binomial likelihood: the reported scores'
//! spread between harnesses and sources (several points) dwarfs their binomial
//! noise (0.4 points on MMLU's 14,042 questions), so item-count weights would
//! let the largest benchmarks dictate every capability while their real error
//! is no smaller. The ridge is a weak prior (θ and d ~ N(0, 100) in score-fraction
//! units of error): it fixes the model's gauge (θ → sθ + t, d → sd + t, a → a/s
//! leaves every prediction unchanged) and keeps a model that is saturated on
//! all its benchmarks finite instead of at infinity.
//!
//! Solver: block-coordinate Gauss–Newton with analytic derivatives (each
//! model's θ; each benchmark's (ln a, d); each offset δ), each step
//! backtracked so the objective never rises, then an exact step along the
//! gauge (the data term is invariant, so only the penalty moves), which
//! removes the one direction in which coordinate descent would crawl.

use super::data::CellData;

/// Ridge weights (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ridge {
    pub theta: f64,
    pub difficulty: f64,
    pub ln_slope: f64,
    pub offset: f64,
}

impl Default for Ridge {
    fn default() -> Self {
        Ridge {
            theta: 1e-4,
            difficulty: 1e-4,
            ln_slope: 1e-3,
            offset: 1e-2,
        }
    }
}

/// Fitted parameters: θ per model, (ln a, d) per benchmark, δ per item (0
/// where an item has no offset).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub theta: Vec<f64>,
    pub ln_a: Vec<f64>,
    pub d: Vec<f64>,
    pub offset: Vec<f64>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A fit problem: the data, per-cell responses and weights, and indexes.
pub struct Problem<'a> {
    pub data: &'a CellData,
    pub y: Vec<f64>,
    pub w: Vec<f64>,
    pub ridge: Ridge,
    by_model: Vec<Vec<usize>>,
    by_bench: Vec<Vec<usize>>,
    /// Items of each benchmark block.
    bench_items: Vec<Vec<usize>>,
    model_active: Vec<bool>,
    bench_active: Vec<bool>,
    item_active: Vec<bool>,
}

/// How a solve ended.
#[derive(Debug, Clone, Copy)]
pub struct SolveReport {
    pub objective: f64,
    pub sweeps: usize,
    pub converged: bool,
}

impl<'a> Problem<'a> {
    /// Observed scores, every cell weighted 1.
    pub fn new(data: &'a CellData, ridge: Ridge) -> Problem<'a> {
        let y = data.cells.iter().map(|c| c.y).collect();
        let w = vec![1.0; data.cells.len()];
        Problem::with(data, y, w, ridge)
    }

    /// Given responses and weights (a bootstrap replicate: resampled
    /// multiplicities, noised scores). Blocks without weighted cells are
    /// inactive: neither updated nor penalised, only carried through the gauge.
    pub fn with(data: &'a CellData, y: Vec<f64>, w: Vec<f64>, ridge: Ridge) -> Problem<'a> {
        let mut by_model = vec![Vec::new(); data.models.len()];
        let mut by_bench = vec![Vec::new(); data.benches.len()];
        let mut bench_items = vec![Vec::new(); data.benches.len()];
        for (it, item) in data.items.iter().enumerate() {
            bench_items[item.bench].push(it);
        }
        let mut model_active = vec![false; data.models.len()];
        let mut bench_active = vec![false; data.benches.len()];
        let mut item_active = vec![false; data.items.len()];
        for (k, c) in data.cells.iter().enumerate() {
            if w[k] <= 0.0 {
                continue;
            }
            let b = data.items[c.item].bench;
            by_model[c.model].push(k);
            by_bench[b].push(k);
            model_active[c.model] = true;
            bench_active[b] = true;
            item_active[c.item] = true;
        }
        Problem {
            data,
            y,
            w,
            ridge,
            by_model,
            by_bench,
            bench_items,
            model_active,
            bench_active,
            item_active,
        }
    }

    /// Predicted score of a model on an item.
    pub fn predict(&self, p: &Params, model: usize, item: usize) -> f64 {
        predict(self.data, p, model, item)
    }

    fn chance(&self, k: usize) -> f64 {
        self.data.benches[self.data.items[self.data.cells[k].item].bench].chance
    }

    fn cell_params(&self, p: &Params, k: usize) -> (f64, f64, f64, f64) {
        let cell = &self.data.cells[k];
        let item = &self.data.items[cell.item];
        (
            p.theta[cell.model],
            p.ln_a[item.bench],
            p.d[item.bench],
            p.offset[cell.item],
        )
    }

    /// The full objective.
    pub fn objective(&self, p: &Params) -> f64 {
        let r = &self.ridge;
        let mut sse = 0.0;
        for k in 0..self.y.len() {
            if self.w[k] > 0.0 {
                let (t, u, d, o) = self.cell_params(p, k);
                let c = self.chance(k);
                let pred = c + (1.0 - c) * sigmoid(u.exp() * (t - d - o));
                sse += self.w[k] * (pred - self.y[k]).powi(2);
            }
        }
        let sum = |v: &[f64], act: &[bool], f: &dyn Fn(f64) -> f64| -> f64 {
            v.iter().zip(act).filter(|x| *x.1).map(|x| f(*x.0)).sum()
        };
        0.5 * (sse
            + r.theta * sum(&p.theta, &self.model_active, &|x| x * x)
            + r.difficulty * sum(&p.d, &self.bench_active, &|x| x * x)
            + r.ln_slope * sum(&p.ln_a, &self.bench_active, &|x| x * x)
            + r.offset * sum(&p.offset, &self.item_active, &|x| x * x))
    }

    /// Starting values: with a = 1, `logit((y − c)/(1 − c)) ≈ θ_m − d_b`,
    /// solved by alternating means (an additive two-way decomposition).
    pub fn start(&self) -> Params {
        let data = self.data;
        let z: Vec<f64> = (0..self.y.len())
            .map(|k| {
                let c = data.benches[data.items[data.cells[k].item].bench].chance;
                let q = ((self.y[k] - c) / (1.0 - c)).clamp(0.02, 0.98);
                (q / (1.0 - q)).ln()
            })
            .collect();
        let mut p = Params {
            theta: vec![0.0; data.models.len()],
            ln_a: vec![0.0; data.benches.len()],
            d: vec![0.0; data.benches.len()],
            offset: vec![0.0; data.items.len()],
        };
        for _ in 0..10 {
            for (b, cells) in self.by_bench.iter().enumerate() {
                if !cells.is_empty() {
                    let m: f64 = cells
                        .iter()
                        .map(|&k| p.theta[data.cells[k].model] - z[k])
                        .sum();
                    p.d[b] = m / cells.len() as f64;
                }
            }
            for (i, cells) in self.by_model.iter().enumerate() {
                if !cells.is_empty() {
                    let m: f64 = cells
                        .iter()
                        .map(|&k| z[k] + p.d[data.items[data.cells[k].item].bench])
                        .sum();
                    p.theta[i] = m / cells.len() as f64;
                }
            }
        }
        p
    }

    /// Minimise from `p` until a sweep lowers the objective by less than
    /// `tol` (relative) or `max_sweeps` pass.
    pub fn solve(&self, p: &mut Params, tol: f64, max_sweeps: usize) -> SolveReport {
        let mut obj = self.objective(p);
        for sweep in 1..=max_sweeps {
            for i in 0..p.theta.len() {
                if self.model_active[i] {
                    self.step_theta(p, i, &self.by_model[i], 1.0);
                }
            }
            for b in 0..p.d.len() {
                if self.bench_active[b] {
                    self.step_bench(p, b);
                }
            }
            self.step_gauge(p);
            let new = self.objective(p);
            let done = obj - new <= tol * new.max(1e-300);
            obj = new;
            if done {
                return SolveReport {
                    objective: obj,
                    sweeps: sweep,
                    converged: true,
                };
            }
        }
        SolveReport {
            objective: obj,
            sweeps: max_sweeps,
            converged: false,
        }
    }

    /// Newton steps on one model's θ alone, items held fixed, over `cells`,
    /// each counted once (a replicate's θ for every model, resampled or not).
    pub fn theta_only(&self, p: &mut Params, model: usize, cells: &[usize]) {
        for _ in 0..50 {
            let before = p.theta[model];
            self.step_theta(p, model, cells, 0.0);
            if (p.theta[model] - before).abs() < 1e-10 {
                break;
            }
        }
    }

    /// One backtracked Gauss–Newton step on θ_model over `cells`; weights are
    /// the cells' own when `use_w` is 1, else every cell counts once. Each
    /// cell is reduced first to (a, d + δ, c, y, w), so a trial costs one exp.
    fn step_theta(&self, p: &mut Params, model: usize, cells: &[usize], use_w: f64) {
        let lam = self.ridge.theta;
        let terms: Vec<[f64; 5]> = cells
            .iter()
            .map(|&k| {
                let (_, u, d, off) = self.cell_params(p, k);
                let w = if use_w > 0.0 { self.w[k] } else { 1.0 };
                [u.exp(), d + off, self.chance(k), self.y[k], w]
            })
            .collect();
        let block = |theta: f64| -> f64 {
            let mut o = 0.5 * lam * theta * theta;
            for [a, e, c, y, w] in &terms {
                let pred = c + (1.0 - c) * sigmoid(a * (theta - e));
                o += 0.5 * w * (pred - y).powi(2);
            }
            o
        };
        let theta = p.theta[model];
        let (mut g, mut h, mut f0) = (lam * theta, lam, 0.5 * lam * theta * theta);
        for [a, e, c, y, w] in &terms {
            let s = sigmoid(a * (theta - e));
            let pred = c + (1.0 - c) * s;
            let j = (1.0 - c) * s * (1.0 - s) * a;
            g += w * (pred - y) * j;
            h += w * j * j;
            f0 += 0.5 * w * (pred - y).powi(2);
        }
        let step = -g / h;
        let mut t = 1.0;
        for _ in 0..30 {
            let cand = theta + t * step;
            if block(cand) <= f0 {
                p.theta[model] = cand;
                return;
            }
            t *= 0.5;
        }
    }

    /// One backtracked Gauss–Newton step on benchmark b's block: (ln a, d)
    /// and the difficulty offsets of its non-standard items, jointly (d and an
    /// offset are nearly confounded where one protocol class dominates, so
    /// separate steps would crawl).
    fn step_bench(&self, p: &mut Params, b: usize) {
        let r = self.ridge;
        let cells = &self.by_bench[b];
        let offs: Vec<usize> = self.bench_items[b]
            .iter()
            .copied()
            .filter(|&it| self.item_active[it] && self.data.items[it].has_offset)
            .collect();
        let dim = 2 + offs.len();
        let slot = |item: usize| offs.iter().position(|&o| o == item).map(|j| 2 + j);
        let chance = self.data.benches[b].chance;
        let pen = |x: &[f64]| -> Vec<f64> {
            let mut v = vec![r.ln_slope, r.difficulty];
            v.resize(x.len(), r.offset);
            v
        };
        // Per cell: θ, its offset (fixed, or the slot of a free one), y, w.
        let terms: Vec<(f64, Off, f64, f64)> = cells
            .iter()
            .map(|&k| {
                let item = self.data.cells[k].item;
                let off = slot(item).map_or(Off::Fixed(p.offset[item]), Off::Free);
                (p.theta[self.data.cells[k].model], off, self.y[k], self.w[k])
            })
            .collect();
        let off_of = |o: &Off, x: &[f64]| match o {
            Off::Fixed(v) => *v,
            Off::Free(j) => x[*j],
        };
        let block = |x: &[f64]| -> f64 {
            let mut o: f64 = x.iter().zip(pen(x)).map(|(v, l)| 0.5 * l * v * v).sum();
            let a = x[0].exp();
            for (t, off, y, w) in &terms {
                let pred = chance + (1.0 - chance) * sigmoid(a * (t - x[1] - off_of(off, x)));
                o += 0.5 * w * (pred - y).powi(2);
            }
            o
        };
        let mut x = vec![p.ln_a[b], p.d[b]];
        x.extend(offs.iter().map(|&it| p.offset[it]));
        let a = x[0].exp();
        let lam = pen(&x);
        let mut g = nalgebra::DVector::from_fn(dim, |i, _| lam[i] * x[i]);
        let mut h = nalgebra::DMatrix::from_fn(dim, dim, |i, j| if i == j { lam[i] } else { 0.0 });
        let mut j = nalgebra::DVector::zeros(dim);
        let mut f0: f64 = x.iter().zip(&lam).map(|(v, l)| 0.5 * l * v * v).sum();
        for (t, off, y, w) in &terms {
            let e = x[1] + off_of(off, &x);
            let s = sigmoid(a * (t - e));
            let pred = chance + (1.0 - chance) * s;
            let ds = (1.0 - chance) * s * (1.0 - s);
            j.fill(0.0);
            j[0] = ds * a * (t - e);
            j[1] = -ds * a;
            if let Off::Free(js) = off {
                j[*js] = -ds * a;
            }
            g.axpy(w * (pred - y), &j, 1.0);
            h.ger(*w, &j, &j, 1.0);
            f0 += 0.5 * w * (pred - y).powi(2);
        }
        let Some(step) = h.cholesky().map(|c| c.solve(&(-g))) else {
            return;
        };
        let mut t = 1.0;
        for _ in 0..30 {
            let cand: Vec<f64> = x.iter().zip(step.iter()).map(|(v, s)| v + t * s).collect();
            if block(&cand) <= f0 {
                p.ln_a[b] = cand[0];
                p.d[b] = cand[1];
                for (jj, &it) in offs.iter().enumerate() {
                    p.offset[it] = cand[2 + jj];
                }
                return;
            }
            t *= 0.5;
        }
    }

    /// The exact minimum of the penalty along the gauge `θ → sθ + t`,
    /// `d → sd + t`, `ln a → ln a − ln s`, `δ → sδ` (predictions unchanged):
    /// t is closed-form given s, ln s by golden-section search on [−3, 3].
    fn step_gauge(&self, p: &mut Params) {
        let r = self.ridge;
        let act = |v: &[f64], a: &[bool]| -> (f64, f64, f64) {
            v.iter()
                .zip(a)
                .filter(|x| *x.1)
                .fold((0.0, 0.0, 0.0), |acc, (x, _)| {
                    (acc.0 + 1.0, acc.1 + x, acc.2 + x * x)
                })
        };
        let (nt, st, qt) = act(&p.theta, &self.model_active);
        let (nd, sdd, qd) = act(&p.d, &self.bench_active);
        let (nu, su, qu) = act(&p.ln_a, &self.bench_active);
        let (_, _, qo) = act(&p.offset, &self.item_active);
        let shift =
            |s: f64| -s * (r.theta * st + r.difficulty * sdd) / (r.theta * nt + r.difficulty * nd);
        // Penalty after the transform, from the sums (Σ(sx+t)² = s²q + 2st·Σx + n t²).
        let pen = |ls: f64| -> f64 {
            let s = ls.exp();
            let t = shift(s);
            r.theta * (s * s * qt + 2.0 * s * t * st + nt * t * t)
                + r.difficulty * (s * s * qd + 2.0 * s * t * sdd + nd * t * t)
                + r.ln_slope * (qu - 2.0 * ls * su + nu * ls * ls)
                + r.offset * s * s * qo
        };
        let (mut lo, mut hi) = (-3.0f64, 3.0f64);
        let g = 0.5 * (5f64.sqrt() - 1.0);
        for _ in 0..80 {
            let (x1, x2) = (hi - g * (hi - lo), lo + g * (hi - lo));
            if pen(x1) < pen(x2) {
                hi = x2;
            } else {
                lo = x1;
            }
        }
        let ls = 0.5 * (lo + hi);
        if pen(ls) >= pen(0.0) {
            return;
        }
        let (s, t) = (ls.exp(), shift(ls.exp()));
        p.theta.iter_mut().for_each(|x| *x = s * *x + t);
        p.d.iter_mut().for_each(|x| *x = s * *x + t);
        p.ln_a.iter_mut().for_each(|x| *x -= ls);
        p.offset.iter_mut().for_each(|x| *x *= s);
    }

    /// The cells of `model` with weight > 0.
    pub fn model_cells(&self, model: usize) -> &[usize] {
        &self.by_model[model]
    }
}

/// A cell's difficulty offset inside a benchmark step.
enum Off {
    /// Not a parameter of this block (0 for a standard item).
    Fixed(f64),
    /// The block's parameter in this slot.
    Free(usize),
}

/// Predicted score (fraction) of a model on an item under `p`.
pub fn predict(data: &CellData, p: &Params, model: usize, item: usize) -> f64 {
    let it = &data.items[item];
    let c = data.benches[it.bench].chance;
    let x = p.ln_a[it.bench].exp() * (p.theta[model] - p.d[it.bench] - p.offset[item]);
    c + (1.0 - c) * sigmoid(x)
}
