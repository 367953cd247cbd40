#!/usr/bin/env bash
# Wall and CPU time of `densing run --no-report` on the bundled registry with the
# defaults (1,000 bootstrap replicates, 999 permutations, three estimators), next
# to the same run without the permutation test and without any resampling.
# Usage: bench/trend/run_time.sh [REPEATS]  (cargo build --release -p densing first)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-5}"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/densing"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
lscpu | grep -E "Model name|^CPU\(s\)"; uptime
"$bin" run --no-report --out "$out" > /dev/null # warm the page cache
for args in "" "--permutations 0" "--permutations 0 --bootstrap 0"; do
  for _ in $(seq "$n"); do
    /usr/bin/time -f "run ${args:-(defaults)}: %e s wall, %U s user, %S s sys" \
      "$bin" run --no-report --out "$out" $args > /dev/null
  done
done
uptime
