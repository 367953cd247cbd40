"""Baseline for bench/predict: the two-step ladder prediction of `densing predict`
done with numpy + scipy, the way the ladder paper's own scripts do it.

Same data, run selection and definitions as `densing predict` (see
crates/densing-core/src/predict.rs):
* a run's final point = tokens of its last evaluation, mean loss and score of its
  last 5 evaluations;
* step 1 per task: L = E + A·N^-α + B·D^-β on the final points, Huber (δ = 1e-3)
  on ln L residuals, summed; scipy L-BFGS-B with an analytic gradient from every
  point of a start grid, best kept (N in 1e9, D in 1e12 inside the fit);
* step 2 per task: S = c/(1 + exp(-γ(L − l))) + d by scipy's curve_fit (bounded
  trust-region least squares, c ∈ [-1, 0], d ∈ [0, 1], γ ≥ 0) on every evaluation
  after the first 10% of each run, each a trailing moving average of 5 (from the
  5th evaluation on), plus the ideal point (0, 1), from several starts, best kept;
* chain: Ŝ = map(law(N, D)).
The bootstrap resamples runs (both steps) and, for every drawn copy of a run, its
step-2 points, and refits each replicate warm-started from the full-data optimum
(the affordable scipy bootstrap); its random draws are numpy's, so its intervals
agree with densing's only up to Monte Carlo error.

Usage: scipy_predict.py LADDER.csv --exclude GLOB... --target NAME=N:D... \
           [--backtest] [--replicates B]
Prints one JSON object: predictions, fitted parameters, wall and CPU seconds.
"""

import argparse
import csv
import fnmatch
import itertools
import json
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402 (after the BLAS thread pin)
from scipy.optimize import curve_fit, minimize  # noqa: E402

DELTA = 1e-3
WINDOW, SKIP, SMOOTH = 5, 0.1, 5
# Start grid of step 1 in the fit's units (ln of the linear coefficients).
GRID1 = list(
    itertools.product(
        (-2.0, -0.5, 0.5),  # e = ln E
        (-2.0, 0.0, 2.0),  # a
        (-2.0, 0.0, 2.0),  # b
        (0.2, 0.5, 1.0),  # alpha
        (0.2, 0.5, 1.0),  # beta
    )
)
# Starts of step 2: (c, γ, l, d).
GRID2 = [(c, g, l, 1.0) for c in (-0.3, -0.7) for g in (1.0, 4.0) for l in (0.5, 1.5)]
OPT1 = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000}


def read(path):
    lines = [l for l in open(path) if not l.startswith("#")]
    runs = {}  # task -> run -> dict
    order = []
    for row in csv.DictReader(lines):
        r = row["run"]
        if r not in order:
            order.append(r)
        d = runs.setdefault(row["task"], {}).setdefault(
            r, {"params": float(row["params"]), "tokens": [], "loss": [], "score": []}
        )
        d["tokens"].append(float(row["tokens"]))
        d["loss"].append(float(row["loss"]))
        d["score"].append(float(row["score"]))
    return runs, order


def final_point(run):
    return run["tokens"][-1], np.mean(run["loss"][-WINDOW:]), np.mean(run["score"][-WINDOW:])


def step2_points(run):
    loss, score = np.array(run["loss"]), np.array(run["score"])
    n = len(loss)
    first = max(int(np.ceil(SKIP * n)), SMOOTH - 1)
    kernel = np.ones(SMOOTH) / SMOOTH
    # np.convolve 'valid' gives the mean of x[i-4..i] at position i-4.
    ls, ss = np.convolve(loss, kernel, "valid"), np.convolve(score, kernel, "valid")
    return ls[first - SMOOTH + 1 :], ss[first - SMOOTH + 1 :]


def huber(r):
    a = np.abs(r)
    return np.where(a <= DELTA, 0.5 * r * r, DELTA * (a - 0.5 * DELTA)), np.where(
        a <= DELTA, r, DELTA * np.sign(r)
    )


def step1_objective(theta, ln_n, ln_d, ln_l, w):
    e, a, b, alpha, beta = theta
    u = np.stack([np.full_like(ln_n, e), a - alpha * ln_n, b - beta * ln_d])
    m = u.max(axis=0)
    ex = np.exp(u - m)
    s = ex.sum(axis=0)
    pred = m + np.log(s)
    p = ex / s
    rho, psi = huber(pred - ln_l)
    psi = w * psi
    grad = np.array(
        [
            (psi * p[0]).sum(),
            (psi * p[1]).sum(),
            (psi * p[2]).sum(),
            -(psi * p[1] * ln_n).sum(),
            -(psi * p[2] * ln_d).sum(),
        ]
    )
    return (w * rho).sum(), grad


def fit_step1(n, d, l, w, starts):
    ln_n, ln_d, ln_l = np.log(n / 1e9), np.log(d / 1e12), np.log(l)
    best = None
    for s in starts:
        r = minimize(step1_objective, np.array(s), args=(ln_n, ln_d, ln_l, w), jac=True,
                     method="L-BFGS-B", options=OPT1)
        if best is None or r.fun < best.fun:
            best = r
    return best.x


def law(theta, n, d):
    e, a, b, alpha, beta = theta
    return np.exp(e) + np.exp(a) * (n / 1e9) ** -alpha + np.exp(b) * (d / 1e12) ** -beta


def sigmoid(x, c, g, l, d):
    return c / (1.0 + np.exp(-g * (x - l))) + d


def fit_step2(x, y, w, starts):
    keep = w > 0
    sigma = 1.0 / np.sqrt(np.where(keep, w, 1.0))  # weights as multiplicities
    best, best_sse = None, np.inf
    for p0 in starts:
        try:
            p, _ = curve_fit(sigmoid, x[keep], y[keep], p0=p0, sigma=sigma[keep],
                             bounds=([-1.0, 0.0, -np.inf, 0.0], [0.0, np.inf, np.inf, 1.0]),
                             maxfev=20000, ftol=1e-14, xtol=1e-14, gtol=1e-14)
        except RuntimeError:
            continue
        sse = (w * (sigmoid(x, *p) - y) ** 2).sum()
        if sse < best_sse:
            best, best_sse = p, sse
    return best


def fit_task(runs, rng, replicates):
    names = list(runs)
    fin = np.array([(runs[r]["params"], *final_point(runs[r])) for r in names])
    n, d, l = fin[:, 0], fin[:, 1], fin[:, 2]
    pts = [step2_points(runs[r]) for r in names]
    x = np.concatenate([p[0] for p in pts] + [[0.0]])
    y = np.concatenate([p[1] for p in pts] + [[1.0]])
    theta = fit_step1(n, d, l, np.ones(len(names)), GRID1)
    cmap = fit_step2(x, y, np.ones(len(x)), GRID2)
    reps = []
    for _ in range(replicates):
        counts = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))
        w2 = []
        for (px, _), k in zip(pts, counts):
            m = len(px)
            w2.append(np.bincount(rng.integers(0, m, k * m), minlength=m).astype(float))
        w2 = np.concatenate(w2 + [[1.0]])
        reps.append((fit_step1(n, d, l, counts.astype(float), [theta]), fit_step2(x, y, w2, [cmap])))
    return theta, cmap, reps


def predict(theta, cmap, reps, target):
    name, nn, dd = target
    lhat = law(theta, nn, dd)
    ls = [law(t, nn, dd) for t, _ in reps]
    ss = [sigmoid(law(t, nn, dd), *m) for t, m in reps]
    ci = lambda v: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else None
    return {"target": name, "loss": float(lhat), "score": float(sigmoid(lhat, *cmap)),
            "loss_ci95": ci(ls), "score_ci95": ci(ss)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ladder")
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--target", action="append", default=[])
    ap.add_argument("--backtest", action="store_true")
    ap.add_argument("--replicates", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    data, order = read(args.ladder)
    targets = []
    for t in args.target:
        name, nd = t.split("=")
        nn, dd = nd.split(":")
        targets.append((name, float(nn), float(dd)))
    rng = np.random.default_rng(args.seed)
    out = {"predictions": [], "fits": {}}
    for task, runs in data.items():
        n_max = max(r["params"] for r in runs.values())
        chosen = {
            k: v for k, v in runs.items()
            if not any(fnmatch.fnmatchcase(k, p) for p in args.exclude)
            and (not args.backtest or v["params"] < n_max)
        }
        theta, cmap, reps = fit_task(chosen, rng, args.replicates)
        out["fits"][task] = {"law": theta.tolist(), "map": cmap.tolist(), "runs": len(chosen)}
        tt = list(targets)
        if args.backtest:
            tt += [(k, v["params"], v["tokens"][-1]) for k, v in runs.items() if v["params"] >= n_max]
        for t in tt:
            p = predict(theta, cmap, reps, t)
            p["task"] = task
            out["predictions"].append(p)
    out["wall_s"] = time.perf_counter() - t0
    out["cpu_s"] = time.process_time() - c0
    out["replicates"] = args.replicates
    print(json.dumps(out))


if __name__ == "__main__":
    main()
