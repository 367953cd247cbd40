#!/usr/bin/env bash
# The trend statistics on the real design (issue 18): synthetic registries with
# the bundled registry's trend models (dates, families, benchmark availability),
# their calibration draws (one draw as the observed error, all as replicates),
# heteroscedastic noise and censoring; every estimator through fit_trend
# (percentile and BCa intervals, adaptive permutation test). τ = 0.9 at the
# default slopes (0, the registry's estimate, and doubling every 365, 180 and
# 95 days, fixed in advance), then τ = 0.5 at 0 and the registry's τ=0.9 slope.
# Usage: bench/trend/simulate_design.sh [REGISTRIES]  (cargo build --release -p densing first)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-200}"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/densing"
lscpu | grep "Model name"; uptime
time "$bin" simulate --registries "$n" --bootstrap 200 --permutations 199 --quantile 0.9
time "$bin" simulate --registries "$n" --bootstrap 200 --permutations 199 --quantile 0.5 --slope 0,0.00537
uptime
