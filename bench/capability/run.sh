#!/usr/bin/env bash
# Benchmark the capability fit with 1,000 bootstrap replicates on the bundled registry:
# densing-core (crates/densing-core/examples/bench_capability.rs) against a numpy/scipy
# implementation of the same fit on the same cells (bench/capability/scipy_capability.py),
# one after the other on this machine. Prints the machine and its load, both JSON
# results and the ratios scipy/densing in wall and process CPU time (densing uses every
# core through rayon, scipy one).
#
# Usage (from anywhere): bash bench/capability/run.sh
# Env: CARGO_TARGET_DIR (default target-bench), PY (default .venv-bench/bin/python,
# created with numpy + scipy if missing), REPLICATES (default 1000, both sides).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target-bench}
export REPLICATES=${REPLICATES:-1000}
py=${PY:-.venv-bench/bin/python}
if [[ ! -x $py ]]; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q numpy scipy
    py=.venv-bench/bin/python
fi

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores online; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(rustc --version); $($py -c 'import sys, numpy, scipy; print("python", sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__)')"
cargo build --release -q -p densing-core --example bench_capability

TIMEFORMAT='%R %U %S'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A warm-up run writes the cells; the timed run follows.
"$CARGO_TARGET_DIR/release/examples/bench_capability" --dump "$tmp/cells.csv" >/dev/null
{ time "$CARGO_TARGET_DIR/release/examples/bench_capability" >"$tmp/rust.json"; } 2>"$tmp/rust.time"
cat "$tmp/rust.json"
$py bench/capability/scipy_capability.py "$tmp/cells.csv" --replicates "$REPLICATES" | tee "$tmp/py.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$py - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
rs, py = (json.load(open(f"{d}/{n}.json")) for n in ("rust", "py"))
_, user, system = map(float, open(f"{d}/rust.time").read().split())
rs_cpu = user + system
x = lambda a, b: f"{a / b:.0f}×" if a / b >= 10 else f"{a / b:.1f}×"
print(f"| stage | densing-core ({rs['threads']} threads) | scipy (1 thread) | ratio |")
print("|---|---|---|---|")
print(f"| point fit, wall s | {rs['fit_s']:.3f} | {py['fit_s']:.3f} | {x(py['fit_s'], rs['fit_s'])} |")
print(f"| {rs['replicates']:,}-replicate bootstrap, wall s | {rs['bootstrap_s']:.2f} | {py['bootstrap_s']:.1f} | {x(py['bootstrap_s'], rs['bootstrap_s'])} |")
print(f"| total, wall s | {rs['total_s']:.2f} | {py['total_s']:.1f} | **{x(py['total_s'], rs['total_s'])}** |")
print(f"| total, CPU s | {rs_cpu:.2f} | {py['total_cpu_s']:.1f} | {x(py['total_cpu_s'], rs_cpu)} |")
print(f"objective: densing-core {rs['objective']:.10f}, scipy {py['objective']:.10f}")
PY
