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
# created with numpy + scipy if missing), REPLICATES (densing's, default 1000),
# PY_REPLICATES (scipy replicates actually timed, default 10: at seconds per replicate,
# 1,000 would take an hour; the per-replicate mean is multiplied up, and said so).
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
$py bench/capability/scipy_capability.py "$tmp/cells.csv" --replicates "${PY_REPLICATES:-10}" | tee "$tmp/py.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$py - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
rs, py = (json.load(open(f"{d}/{n}.json")) for n in ("rust", "py"))
_, user, system = map(float, open(f"{d}/rust.time").read().split())
rs_cpu = user + system
x = lambda a, b: f"{a / b:.0f}×" if a / b >= 10 else f"{a / b:.1f}×"
n = rs["replicates"]
k = n / py["replicates"]  # scipy's bootstrap, multiplied up to densing's replicate count
py_boot, py_boot_cpu = py["bootstrap_s"] * k, (py["total_cpu_s"] - py["fit_cpu_s"]) * k
py_total, py_cpu = py["fit_s"] + py_boot, py["fit_cpu_s"] + py_boot_cpu
print(f"| stage | densing-core ({rs['threads']} threads) | scipy (1 thread) | ratio |")
print("|---|---|---|---|")
print(f"| point fit, wall s | {rs['fit_s']:.3f} | {py['fit_s']:.3f} | {x(py['fit_s'], rs['fit_s'])} |")
print(f"| {n:,}-replicate bootstrap, wall s | {rs['bootstrap_s']:.2f} | {py_boot:.0f} (from {py['replicates']} timed) | {x(py_boot, rs['bootstrap_s'])} |")
print(f"| total, wall s | {rs['total_s']:.2f} | {py_total:.0f} | **{x(py_total, rs['total_s'])}** |")
print(f"| total, CPU s (process) | {rs_cpu:.2f} | {py_cpu:.0f} | {x(py_cpu, rs_cpu)} |")
print(f"objective: densing-core {rs['objective']:.10f}, scipy {py['objective']:.10f}")
PY
