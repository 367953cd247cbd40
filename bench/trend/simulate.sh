#!/usr/bin/env bash
# Coverage, bias and false-positive rate of every trend estimator on synthetic
# registries copied from the bundled one (dates, families, noise, censoring),
# at the true slopes 0 and the registry's own estimate; then the same with
# censoring at the reference's range itself (about 16-20 censored models of 55
# instead of the real count), a stress test of the censored estimator.
# Usage: bench/trend/simulate.sh [REGISTRIES] [REGISTRY.csv]  (cargo build --release -p densing first)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-500}"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/densing"
reg=()
if [ -n "${2:-}" ]; then reg=(--registry "$2"); fi
lscpu | grep "Model name"; uptime
time "$bin" simulate "${reg[@]}" --registries "$n"
time "$bin" simulate "${reg[@]}" --registries "$n" --censor-margin 0
