"""Reference fit of Epoch AI's benchmark-stitching model on data/epoch/scores_long.csv (numpy + scipy).

An independent implementation of the recipe in data/epoch/RECIPE.md (Epoch's fit.py,
`fit_statistical_model`, benchmark-anchored mode as analysis/analyze_model_fit.py calls it):

    score(m, b) = c_b + (1 − c_b) · σ(a_b · (θ_m − d_b))      c_b = 0 in Epoch's recipe

least squares on the scores (fractions) plus one penalty residual
    r_pen = sqrt(λ · (Σθ² + Σd² + Σ_{free} a²) / (M + 2B − 1)),   λ = 0.1,
bounds θ, d ∈ [−10, 10], a ∈ [0.1, 10], the anchor benchmark's slope fixed at 1, and after
the fit θ and d shifted so that the anchor's difficulty is 0 (anchor: Winogrande).
scipy.optimize.least_squares (trust-region reflective) with the analytic Jacobian.

Prints, over the models that data/epoch/eci.csv also has, Pearson and Spearman correlation of
θ with Epoch's published ECI after the least-squares affine map ECI ≈ A + B·θ (correlations
are unchanged by an affine map; the map's RMSE is in ECI points). `--chance` fits the same
model with each benchmark's chance floor c_b from the table instead of Epoch's c_b = 0.

Usage: python bench/capability/epoch_reference.py [--chance] [--data DIR]
"""

import argparse
import csv
import json
import os
import time

# One BLAS thread (set before numpy loads): on a 1,326 x 250 Jacobian, worker threads only spin
# on a shared machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402
from scipy.stats import pearsonr, spearmanr  # noqa: E402

LAMBDA = 0.1
BOUND = 10.0
SLOPE_BOUNDS = (0.1, 10.0)
ANCHOR = "Winogrande"


def read_rows(path, fractions=()):
    """Rows of a CSV after its `#` lines; the `fractions` fields must be numbers in [0, 1]."""
    with open(path, newline="") as f:
        lines = f.readlines()
    skipped = sum(1 for line in lines if line.startswith("#"))
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    for n, row in enumerate(rows, start=skipped + 2):
        for field in fractions:
            try:
                v = float(row[field])
            except (TypeError, ValueError):
                raise SystemExit(f"{path}:{n}: field `{field}`: `{row[field]}` is not a number")
            if not 0 <= v <= 1:
                raise SystemExit(f"{path}:{n}: field `{field}`: {v} is outside [0, 1]")
    return rows


def fit(rows, use_chance):
    models = sorted({r["model"] for r in rows})
    benches = sorted({r["benchmark"] for r in rows})
    mi = np.array([models.index(r["model"]) for r in rows])
    bi = np.array([benches.index(r["benchmark"]) for r in rows])
    y = np.array([float(r["score"]) for r in rows])
    chance = {r["benchmark"]: float(r["chance"]) for r in rows}
    c = np.array([chance[b] if use_chance else 0.0 for b in benches])
    M, B = len(models), len(benches)
    anchor = benches.index(ANCHOR)
    free = np.array([b != anchor for b in range(B)])
    n_pen = M + 2 * B - 1

    def unpack(p):
        theta, d = p[:M], p[M:M + B]
        a = np.ones(B)
        a[free] = p[M + B:]
        return theta, d, a

    def residuals(p):
        theta, d, a = unpack(p)
        s = 1 / (1 + np.exp(-a[bi] * (theta[mi] - d[bi])))
        pen = np.sqrt(LAMBDA * (p @ p) / n_pen)
        return np.append(c[bi] + (1 - c[bi]) * s - y, pen)

    def jacobian(p):
        theta, d, a = unpack(p)
        z = theta[mi] - d[bi]
        s = 1 / (1 + np.exp(-a[bi] * z))
        g = (1 - c[bi]) * s * (1 - s)
        J = np.zeros((len(y) + 1, len(p)))
        rows_ = np.arange(len(y))
        J[rows_, mi] = g * a[bi]
        J[rows_, M + bi] = -g * a[bi]
        slot = np.cumsum(free) - 1  # column of each free slope
        on = free[bi]
        J[rows_[on], M + B + slot[bi[on]]] = g[on] * z[on]
        pen = np.sqrt(LAMBDA * (p @ p) / n_pen)
        J[-1] = LAMBDA * p / (n_pen * pen)
        return J

    # Start: θ from each model's mean score, d from each benchmark's mean, all slopes 1.
    logit = lambda q: np.log(q / (1 - q))
    m_mean = np.clip(np.bincount(mi, y, M) / np.bincount(mi, None, M), 0.02, 0.98)
    b_mean = np.clip(np.bincount(bi, y, B) / np.bincount(bi, None, B), 0.02, 0.98)
    p0 = np.concatenate([logit(m_mean), -logit(b_mean), np.ones(B - 1)])
    lo = np.concatenate([np.full(M + B, -BOUND), np.full(B - 1, SLOPE_BOUNDS[0])])
    hi = np.concatenate([np.full(M + B, BOUND), np.full(B - 1, SLOPE_BOUNDS[1])])
    res = least_squares(residuals, p0, jac=jacobian, bounds=(lo, hi), method="trf")
    theta, d, a = unpack(res.x)
    shift = d[anchor]
    return dict(zip(models, theta - shift)), res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chance", action="store_true", help="use each benchmark's chance floor")
    ap.add_argument("--data", default="data/epoch")
    args = ap.parse_args()
    rows = read_rows(f"{args.data}/scores_long.csv", fractions=("score", "chance"))
    eci = {r["model"]: float(r["eci"]) for r in read_rows(f"{args.data}/eci.csv")}
    start = time.perf_counter()
    theta, res = fit(rows, args.chance)
    seconds = time.perf_counter() - start
    both = sorted(m for m in eci if m in theta)
    x = np.array([theta[m] for m in both])
    e = np.array([eci[m] for m in both])
    B, A = np.polyfit(x, e, 1)
    rmse = float(np.sqrt(np.mean((A + B * x - e) ** 2)))
    print(json.dumps({
        "chance": "per benchmark" if args.chance else "none (Epoch's recipe)",
        "scores": len(rows), "models": len(theta), "models_with_eci": len(both),
        "pearson": round(float(pearsonr(x, e)[0]), 4),
        "spearman": round(float(spearmanr(x, e)[0]), 4),
        "affine_eci_per_theta": round(float(B), 3), "affine_offset": round(float(A), 3),
        "affine_rmse_eci": round(rmse, 3),
        "cost": round(float(res.cost), 4), "status": int(res.status), "fit_seconds": round(seconds, 2),
    }))


if __name__ == "__main__":
    main()
