//! Seeded, parallel bootstrap: the executor that runs a [`Problem`] many times
//! with resampled weights.
//!
//! Replicate `i` draws its groups (runs or models) from a ChaCha8 stream
//! `(seed, i)`, so results are bit-for-bit reproducible for a given seed whatever
//! the thread count or scheduling. Each replicate is polished by Newton from the
//! full-data optima and rescans its own grid only when that warm start is not
//! trustworthy ([`GridPolish::solve_replicate`]); the fallbacks are counted.

use crate::fit::{GridPolish, Problem, Replicate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// The solver of one replicate: a coarser grid than the main fit is enough,
/// since the full-data optimum is also a start.
pub const REPLICATE_SOLVER: GridPolish = GridPolish {
    resolution: 20,
    polish: 3,
    max_iters: 1000,
};

#[derive(Debug, Clone, Copy)]
pub struct BootstrapConfig {
    pub replicates: usize,
    pub seed: u64,
    /// Solver used per replicate (a coarser grid than the main fit is enough,
    /// since the full-data optimum is also a start).
    pub solver: GridPolish,
}

/// Bootstrap samples of the natural parameters and their percentile CIs.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapResult {
    pub replicates: usize,
    pub seed: u64,
    /// Replicates whose fit failed (degenerate resample); excluded from the CIs.
    pub failed: usize,
    /// Warm-started replicates that fell back to the full grid scan.
    pub fallbacks: usize,
    /// 95% percentile intervals per parameter.
    pub ci95: Vec<[f64; 2]>,
    #[serde(skip)]
    pub samples: Vec<Vec<f64>>,
    #[serde(skip)]
    pub thetas: Vec<Vec<f64>>,
}

impl BootstrapResult {
    /// The result, or an error when replicates were asked for and every one of
    /// them failed to fit: there is then no interval to report (and `ci95` is
    /// empty), which must not pass for a result.
    pub fn require_success(self) -> crate::Result<Self> {
        if self.replicates > 0 && self.thetas.is_empty() {
            return Err(crate::Error::Fit(format!(
                "all {} bootstrap replicates failed to fit (seed {}): the resampled data are degenerate, so no interval can be given; fit without --bootstrap or with more distinct runs",
                self.replicates, self.seed
            )));
        }
        Ok(self)
    }
}

/// The RNG of replicate `i`: its own ChaCha8 stream under `seed`.
pub fn replicate_rng(seed: u64, i: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(i as u64);
    rng
}

/// Multiplicity weights of one case-resampling replicate over `groups`.
pub fn resample_weights(groups: &[usize], rng: &mut ChaCha8Rng) -> Vec<f64> {
    let n_groups = groups.iter().copied().max().map_or(0, |g| g + 1);
    let mut counts = vec![0.0; n_groups];
    for _ in 0..n_groups {
        counts[rng.random_range(0..n_groups)] += 1.0;
    }
    groups.iter().map(|&g| counts[g]).collect()
}

/// Run the bootstrap warm-started from the full-data optimum `best_theta`;
/// `tick` is called once per finished replicate (progress).
pub fn bootstrap<P: Problem>(
    problem: &P,
    best_theta: &[f64],
    cfg: &BootstrapConfig,
    tick: &(dyn Fn() + Sync),
) -> BootstrapResult {
    bootstrap_from(problem, &[best_theta.to_vec()], cfg, Replicate::Warm, tick)
}

/// Run the bootstrap from the full-data optima (best first, e.g.
/// [`crate::fit::FitReport::optima`]), each replicate solved `how`.
pub fn bootstrap_from<P: Problem>(
    problem: &P,
    optima: &[Vec<f64>],
    cfg: &BootstrapConfig,
    how: Replicate,
    tick: &(dyn Fn() + Sync),
) -> BootstrapResult {
    let groups = problem.groups();
    let results: Vec<Option<(Vec<f64>, bool)>> = (0..cfg.replicates)
        .into_par_iter()
        .map(|i| {
            let mut rng = replicate_rng(cfg.seed, i);
            let w = resample_weights(&groups, &mut rng);
            let out = cfg
                .solver
                .solve_replicate(problem, &w, optima, how)
                .ok()
                .map(|r| (r.solution.theta, r.fell_back));
            tick();
            out
        })
        .collect();
    let thetas: Vec<Vec<f64>> = results.iter().flatten().map(|r| r.0.clone()).collect();
    let samples: Vec<Vec<f64>> = thetas.iter().map(|t| problem.natural(t)).collect();
    BootstrapResult {
        replicates: cfg.replicates,
        seed: cfg.seed,
        failed: cfg.replicates - thetas.len(),
        fallbacks: results.iter().flatten().filter(|r| r.1).count(),
        ci95: percentile_intervals(&samples, 0.95),
        samples,
        thetas,
    }
}

/// Per-column central percentile intervals of `samples` (rows = replicates).
pub fn percentile_intervals(samples: &[Vec<f64>], level: f64) -> Vec<[f64; 2]> {
    let k = samples.first().map_or(0, Vec::len);
    (0..k)
        .map(|j| {
            let col: Vec<f64> = samples.iter().map(|s| s[j]).collect();
            percentile_interval(&col, level)
        })
        .collect()
}

/// Central percentile interval of one sample (linear interpolation between
/// order statistics, as numpy's default). Non-finite values sort to the ends.
pub fn percentile_interval(values: &[f64], level: f64) -> [f64; 2] {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    [quantile(&v, tail), quantile(&v, 1.0 - tail)]
}

/// The `q`-quantile of an ascending sample (linear interpolation between
/// order statistics, as numpy's default); NaN when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    if i + 1 < sorted.len() {
        sorted[i] + frac * (sorted[i + 1] - sorted[i])
    } else {
        sorted[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-parameter mean whose objective is NaN on every resample (its optimum
    /// is handed to the bootstrap): every replicate fails to fit.
    struct Fragile(Vec<f64>);

    impl Problem for Fragile {
        fn names(&self) -> &'static [&'static str] {
            &["mu"]
        }
        fn n_obs(&self) -> usize {
            self.0.len()
        }
        fn cost(&self, _: &[f64], _: &[f64]) -> f64 {
            f64::NAN
        }
        fn gradient(&self, theta: &[f64], _: &[f64]) -> Vec<f64> {
            vec![self.0.iter().map(|y| 2.0 * (theta[0] - y)).sum()]
        }
        fn residuals(&self, theta: &[f64]) -> Vec<f64> {
            self.0.iter().map(|y| theta[0] - y).collect()
        }
        fn starts(&self, _: &[f64], _: usize, _: usize) -> Vec<Vec<f64>> {
            vec![vec![0.0]]
        }
        fn natural(&self, theta: &[f64]) -> Vec<f64> {
            theta.to_vec()
        }
        fn response(&self) -> Vec<f64> {
            self.0.clone()
        }
        fn groups(&self) -> Vec<usize> {
            (0..self.0.len()).collect()
        }
        fn largest(&self) -> Vec<bool> {
            vec![false; self.0.len()]
        }
    }

    #[test]
    fn every_replicate_failing_is_an_error_not_an_empty_interval() {
        let p = Fragile(vec![1.0, 2.0, 3.0, 4.0]);
        let cfg = BootstrapConfig {
            replicates: 20,
            seed: 1,
            solver: GridPolish::default(),
        };
        let out = bootstrap(&p, &[2.5], &cfg, &|| {});
        assert_eq!(out.failed, 20);
        assert!(out.ci95.is_empty());
        let msg = out.require_success().unwrap_err().to_string();
        assert!(msg.contains("all 20 bootstrap replicates failed"), "{msg}");
    }
}
