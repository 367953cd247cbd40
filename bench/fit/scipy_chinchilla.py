"""Baseline for bench/fit: the Chinchilla refit done the Hoffmann/Epoch way with numpy + scipy.

Same data and objective as `crates/densing-core/examples/bench_fit.rs`: Epoch AI's
245 points minus the 5 highest losses, model
    ln L̂ = logsumexp(e, a − α ln N, b − β ln D)      (raw N, D)
so E = exp(e), A = exp(a), B = exp(b); objective = Σ w_i Huber_δ(ln L̂_i − ln L_i),
δ = 1e-3. A fit runs scipy's L-BFGS-B (analytic gradient, default tolerances) from
each point of Hoffmann et al.'s 4,500-point grid and keeps the best.

The bootstrap resamples the 240 points with replacement and refits each replicate
from the full grid. At ~4,500 L-BFGS-B runs per replicate, 4,000 replicates would
take more than a day, so only `--replicates K` are timed and the mean per-replicate
time is multiplied by 4,000; the output says so (`bootstrap_extrapolated`). A cheaper
variant, one L-BFGS-B run per replicate warm-started from the full-data optimum
(what a Python user would do to make 4,000 replicates affordable; tight tolerances,
see `WARM_OPTIONS`), is run in full (`--warm-replicates`, default 4,000) with its
95% percentile CIs, so the ratio can also be read against the fastest reasonable
scipy bootstrap.

BLAS is pinned to one thread (before numpy loads): on 240-point vectors OpenBLAS's
worker threads only spin, which made each start ~20× slower in CPU time here.
Wall and process CPU seconds are both reported, since the machine may be shared.

Prints one JSON line.
"""

import argparse
import csv
import itertools
import json
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402 (after the BLAS thread pin)
from scipy.optimize import minimize  # noqa: E402

DELTA = 1e-3
TARGET_REPLICATES = 4000
# Tolerances of the warm-started replicates, as densing-core's L-BFGS (gradient 1e-12,
# at most 2,000 iterations). scipy's default ftol is relative to max(|f|, 1) = 1 here
# (f ≈ 1e-3), so from the full-data optimum it stops after ~12 iterations and the CIs
# collapse to a hundredth of their width; the grid fits reach the optimum with defaults.
WARM_OPTIONS = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000}
# Hoffmann et al.'s initialisation grid: 5 × 5 × 5 × 6 × 6 = 4,500 starts, as (e, a, b, α, β).
GRID = np.array(
    [
        (e, a, b, alpha, beta)
        for alpha, beta, e, a, b in itertools.product(
            np.arange(0.0, 2.01, 0.5),
            np.arange(0.0, 2.01, 0.5),
            np.arange(-1.0, 1.01, 0.5),
            np.arange(0.0, 25.1, 5.0),
            np.arange(0.0, 25.1, 5.0),
        )
    ]
)


def read_points(path):
    """(ln N, ln D, ln L) of the CSV's rows, `#` lines skipped, 5 highest losses dropped."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    pts = sorted((float(r["loss"]), float(r["params"]), float(r["tokens"])) for r in rows)[:-5]
    loss, n, d = (np.array(c) for c in zip(*pts))
    return np.log(n), np.log(d), np.log(loss)


def objective(x, ln_n, ln_d, ln_l, w):
    """Weighted summed Huber loss of ln-loss residuals and its gradient in (e, a, b, α, β)."""
    e, a, b, alpha, beta = x
    terms = np.stack([np.full_like(ln_n, e), a - alpha * ln_n, b - beta * ln_d])
    top = terms.max(axis=0)
    ex = np.exp(terms - top)
    s = ex.sum(axis=0)
    r = top + np.log(s) - ln_l
    small = np.abs(r) <= DELTA
    rho = np.where(small, 0.5 * r * r, DELTA * (np.abs(r) - 0.5 * DELTA))
    dr = w * np.where(small, r, DELTA * np.sign(r))
    p = ex / s  # softmax: ∂ ln L̂ / ∂(e, a, b) per point
    grad = np.array(
        [
            dr @ p[0],
            dr @ p[1],
            dr @ p[2],
            -(dr * p[1]) @ ln_n,
            -(dr * p[2]) @ ln_d,
        ]
    )
    return float(w @ rho), grad


def fit(data, w, starts, options=None):
    """Best L-BFGS-B optimum over `starts` (scipy defaults unless `options`): (x, objective)."""
    best = None
    for x0 in starts:
        res = minimize(objective, x0, args=(*data, w), jac=True, method="L-BFGS-B", options=options)
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    return best.x, best.fun


def natural(x):
    """Named parameters in the report's units: E, A, B, α, β."""
    e, a, b, alpha, beta = x
    return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)), "alpha": float(alpha), "beta": float(beta)}


def timed(f):
    """Run `f()`; return (its value, wall seconds, process CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = f()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", default="data/chinchilla_epoch.csv")
    ap.add_argument("--replicates", type=int, default=3, help="grid-started bootstrap replicates actually timed")
    ap.add_argument("--warm-replicates", type=int, default=TARGET_REPLICATES, help="warm-started replicates run")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    data = read_points(args.data)
    m = len(data[0])
    ones = np.ones(m)

    (x_best, obj), fit_s, fit_cpu = timed(lambda: fit(data, ones, GRID))

    rng = np.random.default_rng(args.seed)

    def weights():
        return np.bincount(rng.integers(0, m, m), minlength=m).astype(float)

    _, rep_s, rep_cpu = timed(lambda: [fit(data, weights(), GRID) for _ in range(args.replicates)])
    warm, warm_s, warm_cpu = timed(
        lambda: [fit(data, weights(), [x_best], WARM_OPTIONS)[0] for _ in range(args.warm_replicates)]
    )
    warm_natural = [natural(x) for x in warm]
    warm_ci95 = {k: np.percentile([n[k] for n in warm_natural], [2.5, 97.5]).tolist() for k in warm_natural[0]}
    per_rep, per_rep_cpu = rep_s / args.replicates, rep_cpu / args.replicates
    per_warm, per_warm_cpu = warm_s / args.warm_replicates, warm_cpu / args.warm_replicates

    print(
        json.dumps(
            {
                "impl": "scipy",
                "threads": 1,
                "n_points": m,
                "grid_starts": len(GRID),
                "fit_s": fit_s,
                "fit_cpu_s": fit_cpu,
                "bootstrap_replicates_timed": args.replicates,
                "bootstrap_per_replicate_s": per_rep,
                "bootstrap_extrapolated": True,
                "bootstrap_s": per_rep * TARGET_REPLICATES,
                "total_s": fit_s + per_rep * TARGET_REPLICATES,
                "total_cpu_s": fit_cpu + per_rep_cpu * TARGET_REPLICATES,
                "warm_replicates_timed": args.warm_replicates,
                "warm_per_replicate_s": per_warm,
                "warm_total_s": fit_s + per_warm * TARGET_REPLICATES,
                "warm_total_cpu_s": fit_cpu + per_warm_cpu * TARGET_REPLICATES,
                "warm_ci95": warm_ci95,
                "objective": obj,
                "params": natural(x_best),
            }
        )
    )


if __name__ == "__main__":
    main()
