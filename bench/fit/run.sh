#!/usr/bin/env bash
# Benchmark the full Chinchilla refit (fit + 4,000-replicate bootstrap): densing-core
# (crates/densing-core/examples/bench_fit.rs) against a straightforward numpy/scipy
# implementation of Hoffmann/Epoch's procedure (bench/fit/scipy_chinchilla.py), run one
# after the other on this machine. Prints the machine, both JSON results and the ratios
# Python/Rust in wall time and in process CPU time (the machine may be shared, and Rust
# uses every core through rayon while scipy runs on one).
#
# Usage (from anywhere): bash bench/fit/run.sh [DATA.csv]
# Env: CARGO_TARGET_DIR (default target-bench), PY (default .venv-bench/bin/python,
# created with numpy + scipy if missing), REPLICATES (grid-started Python replicates
# actually timed, default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-data/chinchilla_epoch.csv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target-bench}
py=${PY:-.venv-bench/bin/python}
if [[ ! -x $py ]]; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q numpy scipy
    py=.venv-bench/bin/python
fi

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores online; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(rustc --version); $($py -c 'import sys, numpy, scipy; print("python", sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__)')"
cargo build --release -q -p densing-core --example bench_fit
cargo build --release -q -p densing

TIMEFORMAT='%R %U %S'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{ time "$CARGO_TARGET_DIR/release/examples/bench_fit" "$data" >"$tmp/rust.json"; } 2>"$tmp/rust.time"
cat "$tmp/rust.json"
# The same fit and bootstrap through the CLI (`densing fit loss`), as a user runs it.
{ time "$CARGO_TARGET_DIR/release/densing" fit loss --data "$data" --form chinchilla --drop-highest 5 \
    --bootstrap 4000 --seed 7 --json >"$tmp/cli.json"; } 2>"$tmp/cli.time"
$py bench/fit/scipy_chinchilla.py "$data" --replicates "${REPLICATES:-3}" | tee "$tmp/py.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$py - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
rs, py = (json.load(open(f"{d}/{n}.json")) for n in ("rust", "py"))
_, user, system = map(float, open(f"{d}/rust.time").read().split())
rs_cpu = user + system  # whole process: read, fit and bootstrap
cli_wall, cli_user, cli_sys = map(float, open(f"{d}/cli.time").read().split()[-3:])
cli = json.load(open(f"{d}/cli.json"))


def x(a, b):
    """The ratio a/b, to 2 significant digits below 10."""
    r = a / b
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


print(f"| stage | densing-core ({rs['threads']} threads) | scipy (1 thread) | ratio |")
print("|---|---|---|---|")
print(f"| fit, wall s | {rs['fit_s']:.3f} | {py['fit_s']:.1f} | {x(py['fit_s'], rs['fit_s'])} |")
print(f"| 4,000-replicate bootstrap, wall s | {rs['bootstrap_s']:.1f} | {py['bootstrap_s']:.0f} (extrapolated from {py['bootstrap_replicates_timed']}) | {x(py['bootstrap_s'], rs['bootstrap_s'])} |")
print(f"| total, wall s | {rs['total_s']:.1f} | {py['total_s']:.0f} | **{x(py['total_s'], rs['total_s'])}** |")
print(f"| total, CPU s | {rs_cpu:.1f} | {py['total_cpu_s']:.0f} | {x(py['total_cpu_s'], rs_cpu)} |")
print(f"| total with warm-started scipy bootstrap, wall s | {rs['total_s']:.1f} | {py['warm_total_s']:.0f} ({py['warm_replicates_timed']} replicates) | {x(py['warm_total_s'], rs['total_s'])} |")
print(f"| total with warm-started scipy bootstrap, CPU s | {rs_cpu:.1f} | {py['warm_total_cpu_s']:.0f} | {x(py['warm_total_cpu_s'], rs_cpu)} |")
warm_boot_cpu = py['warm_total_cpu_s'] - py['fit_cpu_s']
print(f"| 4,000-replicate bootstrap alone, warm-started both, CPU s | {rs['bootstrap_cpu_s']:.2f} | {warm_boot_cpu:.0f} | {x(warm_boot_cpu, rs['bootstrap_cpu_s'])} |")
print(f"| `densing fit loss --bootstrap 4000` (CLI, whole process) vs warm-started scipy total, CPU s | {cli_user + cli_sys:.1f} | {py['warm_total_cpu_s']:.0f} | {x(py['warm_total_cpu_s'], cli_user + cli_sys)} |")
print(f"| the same, wall s | {cli_wall:.1f} | {py['warm_total_s']:.0f} | {x(py['warm_total_s'], cli_wall)} |")
print(f"CLI bootstrap: {cli['bootstrap']['replicates']} replicates, {cli['bootstrap']['failed']} failed, {cli['bootstrap']['fallbacks']} fell back to the full grid")
print(f"densing-core replicates that fell back to the full grid: {rs['bootstrap_fallbacks']} of {rs['bootstrap_replicates']}")
print(f"objective: densing-core {rs['objective']:.6e}, scipy {py['objective']:.6e}")
for k in ("E", "A", "B", "alpha", "beta"):
    print(f"  {k:5} densing-core {rs['params'][k]:.6g}  scipy {py['params'][k]:.6g}")
print("95% CIs: densing-core bootstrap vs scipy warm-started bootstrap")
for k in ("E", "A", "B", "alpha", "beta"):
    print(f"  {k:5} densing-core [{rs['ci95'][k][0]:.4g}, {rs['ci95'][k][1]:.4g}]"
          f"  scipy [{py['warm_ci95'][k][0]:.4g}, {py['warm_ci95'][k][1]:.4g}]")
PY
