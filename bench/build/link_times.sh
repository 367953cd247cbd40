#!/usr/bin/env bash
# Issue 19: what an edit costs before the tests can run — the rebuild of every
# test binary — under the release profile as committed (`debug =
# "line-tables-only"` in every crate) and with the dependencies' debug info off
# (`--config 'profile.release.package."*".debug=false'`), in one session.
#
# Each profile builds in its own target directory: A in $CARGO_TARGET_DIR (default
# target/), B in target-nodebug/ (a cold build the first time, not timed here; see
# BENCHMARKS.md "Cold build of the main command" for cold times). Both are first
# brought up to date with `cargo test --release --workspace --no-run`. Then, for
# each edit — `touch crates/densing/src/main.rs` (the binary) and `touch
# crates/densing-core/src/lib.rs` (the core: every crate above it recompiles) —
# each profile rebuilds with `--timings`, and the script prints the wall time and,
# from cargo's timing report, the seconds of every rebuilt test binary (its own
# crate's compile plus the link; the crate's code and flags are the same in both
# profiles, so the difference between A and B is what the dependencies' debug
# info costs the link) and of the `densing` binary.
#
# Usage: bash bench/build/link_times.sh        (from the repository root)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
dir_a="${CARGO_TARGET_DIR:-$repo/target}"
dir_b="$repo/target-nodebug"
nodebug=(--config 'profile.release.package."*".debug=false')
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(cargo --version)"

build() { # DIR [extra cargo args...]: rebuild every test binary; prints wall seconds
    local dir="$1"
    shift
    local t0 t1
    t0=$(date +%s.%N)
    CARGO_TARGET_DIR="$dir" cargo test --release --workspace --no-run --timings "$@" \
        >"$dir/link-times.log" 2>&1 || { tail -20 "$dir/link-times.log"; exit 1; }
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}'
}

# Every unit the newest timing report of DIR rebuilt: "crate: target: seconds"
# (target: lib, `NAME bin`, a test binary `NAME test (test)`, an example; fresh
# units are left out).
units() {
    python3 - "$1" <<'PY'
import glob, json, os, re, sys
report = max(glob.glob(os.path.join(sys.argv[1], "cargo-timings", "cargo-timing-*.html")),
             key=os.path.getmtime)
text = open(report, encoding="utf-8").read()
data = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", text, re.S).group(1))
for u in data:
    if u["duration"] > 0:
        label = u["target"].strip().replace('"', "") or "lib"
        print(f'{u["name"]}: {label}: {u["duration"]:.1f}')
PY
}

echo "bringing both target directories up to date (B is cold the first time)..."
echo "A up to date in $(build "$dir_a") s; B up to date in $(build "$dir_b" "${nodebug[@]}") s"
for edit in crates/densing/src/main.rs crates/densing-core/src/lib.rs; do
    for profile in A B; do
        touch "$edit"
        echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
        if [ "$profile" = A ]; then
            wall=$(build "$dir_a")
            units "$dir_a" >"$dir_a/link-units.txt"
            out="$dir_a/link-units.txt"
        else
            wall=$(build "$dir_b" "${nodebug[@]}")
            units "$dir_b" >"$dir_b/link-units.txt"
            out="$dir_b/link-units.txt"
        fi
        echo "== touch $edit, profile $profile: wall $wall s"
        sed 's/^/   /' "$out"
    done
done
