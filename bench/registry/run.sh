#!/usr/bin/env bash
# Registry scale (issue 21): `densing models check` on 100,000 user rows and
# `densing run --registry` on 20,000 user models (bootstrap and permutations 0,
# no report), wall time of the release binary. The rows are synthetic: model i
# of family F(i mod 500), 0.1–100 B parameters, a release date in 2023–2025,
# four of the paper's benchmarks, each with a source; every one passes the
# registry's rules, so the whole file is read, checked and (for run) used.
#
# Usage: bash bench/registry/run.sh [CHECK_ROWS] [RUN_ROWS]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check_rows="${1:-100000}"
run_rows="${2:-20000}"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/densing"
[ -x "$bin" ] || cargo build --release -p densing --manifest-path "$repo/Cargo.toml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One synthetic models file of N rows.
rows() {
    awk -v n="$1" 'BEGIN {
        print "model,family,weights,params_billion,nonemb_params_billion,active_params_billion,training_tokens_trillion,release_date,mmlu,bbh,math,humaneval,mbpp,parent,in_densing_fig1,source,notes"
        srand(21)
        for (i = 0; i < n; i++) {
            p = 0.1 * 10 ^ (3 * rand())
            day = int(1 + 28 * rand()); mon = int(1 + 12 * rand()); yr = 2023 + int(3 * rand())
            s = 30 + 40 * rand()
            printf "Synth-%d,F%d,base,%.3f,%.3f,,%.1f,%04d-%02d-%02d,%.1f,%.1f,%.1f,%.1f,,,no,synthetic (bench/registry),\n",
                i, i % 500, p, 0.9 * p, 1 + 10 * rand(), yr, mon, day, s, s - 5, s - 25, s - 15
        }
    }'
}
rows "$check_rows" >"$work/check.csv"
rows "$run_rows" >"$work/run.csv"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores online; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "densing $(git -C "$repo" rev-parse --short HEAD)"
timed() {
    local label="$1"; shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$work/out.txt" 2>"$work/err.txt" || { echo "$label failed:"; tail -5 "$work/err.txt"; exit 1; }
    t1=$(date +%s.%N)
    printf '%-58s %8.2f s\n' "$label" "$(echo "$t1 - $t0" | bc)"
}
timed "models check, $check_rows rows" "$bin" models check "$work/check.csv"
timed "run --registry, $run_rows models (bootstrap 0, permutations 0)" \
    "$bin" run --registry "$work/run.csv" --bootstrap 0 --permutations 0 --no-report --out "$work/out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
