#!/usr/bin/env bash
# Run every fuzz target (fuzz/fuzz_targets, libFuzzer through cargo-fuzz on the
# nightly toolchain) until it has executed FUZZ_RUNS inputs (default 1,000,000:
# every reader reaches 1M executions) or a time cap per target is reached, starting from the committed seeds in a
# scratch copy (so fuzz/corpus stays small), and print one line per target:
# executions, final corpus size and crashes. A crash leaves its input under
# fuzz/artifacts/<target>/; copy it into fuzz/corpus/<target>/ once fixed, so the
# test suite replays it.
#
# Usage: bash bench/fuzz/run.sh [SECONDS_CAP_PER_TARGET] [TARGET...]
# (default cap 7200 s: the slowest readers, ~600 executions/s, need ~30 min for 1M)
# Env: FUZZ_RUNS (executions per target, default 1000000), FUZZ_JOBS (parallel
# fuzzing processes per target, default 1).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo/fuzz"
secs="${1:-7200}"
runs="${FUZZ_RUNS:-1000000}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores online; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(cargo +nightly --version); cargo-fuzz $(cargo fuzz --version | awk '{print $2}')"
cargo +nightly fuzz build -O -a
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
printf '%-22s %12s %10s %8s %8s\n' target execs exec/s corpus crashes
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    cp -r "corpus/$t/." "$scratch/$t/"
    log="$scratch/$t.log"
    status=0
    cargo +nightly fuzz run -O -a "$t" "$scratch/$t" -- \
        -runs="$runs" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -jobs="${FUZZ_JOBS:-1}" -workers="${FUZZ_JOBS:-1}" -print_final_stats=1 >"$log" 2>&1 || status=$?
    execs=$(grep -h 'stat::number_of_executed_units' "$log" "$repo"/fuzz/fuzz-*.log 2>/dev/null | awk '{s+=$2} END {print s+0}')
    rate=$(grep -h 'stat::average_exec_per_sec' "$log" 2>/dev/null | awk '{s+=$2} END {print s+0}')
    crashes=$(ls "$repo/fuzz/artifacts/$t" 2>/dev/null | grep -c '^crash-\|^oom-\|^timeout-' || true)
    printf '%-22s %12s %10s %8s %8s\n' "$t" "$execs" "$rate" "$(ls "$scratch/$t" | wc -l)" "$crashes"
    if [ "$status" -ne 0 ]; then
        echo "  $t stopped with status $status; last lines of its log:"
        tail -n 30 "$log" | sed 's/^/    /'
    fi
    rm -f "$repo"/fuzz/fuzz-*.log
done
