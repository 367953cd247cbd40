"""Baseline for bench/capability: densing's capability fit done with numpy + scipy.

The SAME fit as `crates/densing-core/src/capability` on the SAME cells (written by
`cargo run --release -p densing-core --example bench_capability -- --dump cells.csv`):

    p = c_b + (1 - c_b) * sigmoid(a_b * (theta_m - d_b - delta_i))
    objective = 1/2 sum w (p - y)^2
              + 1/2 (l_theta sum theta^2 + l_d sum d^2 + l_a sum (ln a)^2 + l_delta sum delta^2)

(the ridge over the blocks that have weighted cells), parameters (theta, ln a, d, delta),
solved by `scipy.optimize.least_squares` (trf, sparse analytic Jacobian; ftol
1e-12 for the point fit and 1e-8 for a warm-started replicate, as densing's). The bootstrap is densing's: replicate r resamples the families with
replacement (cell weight = multiplicity), adds N(0, p(1-p)/items) noise with p the point
fit's prediction, refits warm-started from the point estimate, then re-estimates every
model's theta from its own noised scores with the item parameters fixed (vectorised
Newton over all models at once). Random streams differ from densing's (numpy's
generator), so intervals agree in distribution, not draw by draw.

BLAS is pinned to one thread (tiny problems). Prints one JSON line.
"""

import argparse
import csv
import json
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402

RIDGE = {"theta": 1e-4, "d": 1e-4, "ln_a": 1e-3, "offset": 1e-2}
# Tolerances as densing's: the point fit stops at a relative objective decrease of
# 1e-12, a warm-started replicate at 1e-8 (REPLICATE_TOL in capability/uncertainty.rs).
REPLICATE_FTOL = 1e-8


def load(path):
    rows = list(csv.DictReader(open(path)))
    models = sorted({r["model"] for r in rows}, key=[r["model"] for r in rows].index)
    families = sorted({r["family"] for r in rows})
    m_idx = {m: i for i, m in enumerate(models)}
    fam_of = np.zeros(len(models), dtype=int)
    for r in rows:
        fam_of[m_idx[r["model"]]] = families.index(r["family"])
    cm = np.array([m_idx[r["model"]] for r in rows])
    ci = np.array([int(r["item"]) for r in rows])
    cb = np.array([int(r["bench"]) for r in rows])
    n_items = ci.max() + 1
    n_bench = cb.max() + 1
    has_off = np.zeros(n_items, dtype=bool)
    chance = np.zeros(n_bench)
    items = np.zeros(n_bench)
    for r, i, b in zip(rows, ci, cb):
        has_off[i] = r["has_offset"] == "1"
        chance[b] = float(r["chance"])
        items[b] = float(r["items"]) if r["items"] else 0.0
    y = np.array([float(r["score"]) for r in rows])
    return dict(cm=cm, ci=ci, cb=cb, y=y, fam_of=fam_of, has_off=has_off, chance=chance,
                items=items, n_models=len(models), n_bench=n_bench, n_items=n_items,
                n_fam=len(families))


class Fit:
    """Parameter layout: theta (M), ln a (B), d (B), delta (offset items only)."""

    def __init__(self, D, y, w):
        self.D, self.y, self.w = D, y, w
        M, B = D["n_models"], D["n_bench"]
        self.off_items = np.flatnonzero(D["has_off"])
        self.off_slot = -np.ones(D["n_items"], dtype=int)
        self.off_slot[self.off_items] = np.arange(len(self.off_items))
        self.M, self.B, self.K = M, B, len(self.off_items)
        act = w > 0
        self.m_act = np.bincount(D["cm"][act], minlength=M) > 0
        self.b_act = np.bincount(D["cb"][act], minlength=B) > 0
        self.i_act = np.bincount(D["ci"][act], minlength=D["n_items"]) > 0
        self.o_act = self.i_act[self.off_items]
        self.sw = np.sqrt(w)
        lam = np.concatenate([
            RIDGE["theta"] * self.m_act, RIDGE["ln_a"] * self.b_act,
            RIDGE["d"] * self.b_act, RIDGE["offset"] * self.o_act])
        self.sl = np.sqrt(lam)
        n = len(y)
        self.cell_off = self.off_slot[D["ci"]]
        rows = np.arange(n)
        has = self.cell_off >= 0
        r_cells = np.concatenate([rows, rows, rows, rows[has]])
        c_cells = np.concatenate([D["cm"], M + D["cb"], M + B + D["cb"],
                                  M + 2 * B + self.cell_off[has]])
        P = M + 2 * B + self.K
        r_pen = n + np.arange(P)
        self.jr = np.concatenate([r_cells, r_pen])
        self.jc = np.concatenate([c_cells, np.arange(P)])
        self.has = has
        self.shape = (n + P, P)

    def split(self, x):
        M, B = self.M, self.B
        return x[:M], x[M:M + B], x[M + B:M + 2 * B], x[M + 2 * B:]

    def parts(self, x):
        D = self.D
        th, la, d, off = self.split(x)
        o = np.where(self.cell_off >= 0, off[np.maximum(self.cell_off, 0)], 0.0)
        a = np.exp(la[D["cb"]])
        z = th[D["cm"]] - d[D["cb"]] - o
        s = 1.0 / (1.0 + np.exp(-a * z))
        c = D["chance"][D["cb"]]
        return a, z, s, c, c + (1 - c) * s

    def residuals(self, x):
        *_, p = self.parts(x)
        return np.concatenate([self.sw * (p - self.y), self.sl * x])

    def jac(self, x):
        a, z, s, c, _ = self.parts(x)
        ds = self.sw * (1 - c) * s * (1 - s)
        vals = np.concatenate([ds * a, ds * a * z, -ds * a, -(ds * a)[self.has], self.sl])
        return sparse.csr_matrix((vals, (self.jr, self.jc)), shape=self.shape)

    def solve(self, x0, ftol=1e-12):
        r = least_squares(self.residuals, x0, jac=self.jac, method="trf", x_scale="jac",
                          ftol=ftol, xtol=1e-12, gtol=1e-12, max_nfev=2000)
        return r.x, r.cost


def start(D, y):
    c = D["chance"][D["cb"]]
    q = np.clip((y - c) / (1 - c), 0.02, 0.98)
    z = np.log(q / (1 - q))
    th, d = np.zeros(D["n_models"]), np.zeros(D["n_bench"])
    for _ in range(10):
        d = np.bincount(D["cb"], th[D["cm"]] - z, D["n_bench"]) / np.maximum(
            np.bincount(D["cb"], minlength=D["n_bench"]), 1)
        th = np.bincount(D["cm"], z + d[D["cb"]], D["n_models"]) / np.maximum(
            np.bincount(D["cm"], minlength=D["n_models"]), 1)
    n_off = int(D["has_off"].sum())
    return np.concatenate([th, np.zeros(D["n_bench"]), d, np.zeros(n_off)])


def theta_only(F, x, y):
    """Every model's theta from its own scores (each counted once), items fixed."""
    D = F.D
    x = x.copy()
    for _ in range(50):
        a, z, s, c, p = F.parts(x)
        j = (1 - c) * s * (1 - s) * a
        th = x[:F.M]
        g = np.bincount(D["cm"], (p - y) * j, F.M) + RIDGE["theta"] * th
        h = np.bincount(D["cm"], j * j, F.M) + RIDGE["theta"]
        step = -g / h
        x[:F.M] = th + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return x[:F.M]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cells")
    ap.add_argument("--replicates", type=int, default=1000)
    args = ap.parse_args()
    D = load(args.cells)
    t0, c0 = time.perf_counter(), time.process_time()
    F = Fit(D, D["y"], np.ones(len(D["y"])))
    point, cost = F.solve(start(D, D["y"]))
    fit_s = time.perf_counter() - t0
    fit_cpu_s = time.process_time() - c0
    _, _, _, _, p_hat = F.parts(point)
    n = D["items"][D["cb"]]
    p_clip = np.clip(p_hat, 0.5 / np.maximum(n, 1), 1 - 0.5 / np.maximum(n, 1))
    sd = np.where(n > 0, np.sqrt(p_clip * (1 - p_clip) / np.maximum(n, 1)), 0.0)
    rng = np.random.default_rng(20241205)
    thetas = []
    for _ in range(args.replicates):
        mult = np.bincount(rng.integers(0, D["n_fam"], D["n_fam"]), minlength=D["n_fam"])
        w = mult[D["fam_of"][D["cm"]]].astype(float)
        y = D["y"] + sd * rng.standard_normal(len(sd))
        R = Fit(D, y, w)
        x, _ = R.solve(point, ftol=REPLICATE_FTOL)
        thetas.append(theta_only(R, x, y))
    total_s = time.perf_counter() - t0
    print(json.dumps({
        "cells": len(D["y"]), "models": D["n_models"], "fit_s": fit_s, "fit_cpu_s": fit_cpu_s,
        "objective": cost, "replicates": args.replicates, "total_s": total_s,
        "bootstrap_s": total_s - fit_s, "total_cpu_s": time.process_time() - c0,
        "theta_sd_median": float(np.median(np.std(np.array(thetas), axis=0))),
    }))


if __name__ == "__main__":
    main()
