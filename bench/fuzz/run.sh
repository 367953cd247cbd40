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
# fuzzing processes per target, default 1), FUZZ_SANITIZER (default none: every
# reader is safe Rust, where AddressSanitizer adds no check a panic does not
# make and costs about half the executions per second, per the cargo-fuzz
# chapter of Trail of Bits' Testing Handbook; `address` turns it back on).
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
san="${FUZZ_SANITIZER:-none}"
# One process fuzzes in place and prints its statistics into the target's log;
# with FUZZ_JOBS > 1 libFuzzer's jobs write fuzz-N.log into fuzz/ (so run one
# instance of this script at a time then).
jobs=()
[ "${FUZZ_JOBS:-1}" -le 1 ] || jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
cargo +nightly fuzz build -O -a -s "$san"
# The readers that take a path (tasks, the eval store) write each input to a
# file, and the store fsyncs when it repairs a torn line: on a disk that is most
# of an execution, so the scratch files live in memory (tmpfs) where there is one.
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR="${TMPDIR:-/dev/shm}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
printf '%-22s %12s %8s %10s %8s %8s\n' target execs seconds exec/s corpus crashes
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    cp -r "corpus/$t/." "$scratch/$t/"
    log="$scratch/$t.log"
    status=0
    start=$(date +%s)
    mkdir -p "$scratch/tmp"
    TMPDIR="$scratch/tmp" cargo +nightly fuzz run -O -a -s "$san" "$t" "$scratch/$t" -- \
        -runs="$runs" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        "${jobs[@]}" -print_final_stats=1 >"$log" 2>&1 || status=$?
    stat() { { grep -h "stat::$1" "$log" "$repo"/fuzz/fuzz-*.log 2>/dev/null || true; } | awk '{s+=$2} END {print s+0}'; }
    execs=$(stat number_of_executed_units)
    rate=$(stat average_exec_per_sec)
    secs_used=$(($(date +%s) - start))
    crashes=$(ls "$repo/fuzz/artifacts/$t" 2>/dev/null | grep -c '^crash-\|^oom-\|^timeout-' || true)
    printf '%-22s %12s %8s %10s %8s %8s\n' "$t" "$execs" "$secs_used" "$rate" "$(ls "$scratch/$t" | wc -l)" "$crashes"
    if [ "$status" -ne 0 ]; then
        echo "  $t stopped with status $status; last lines of its log:"
        tail -n 30 "$log" | sed 's/^/    /'
    fi
    rm -f "$repo"/fuzz/fuzz-*.log
done
