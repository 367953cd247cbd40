#!/usr/bin/env bash
# Benchmark `densing predict` against a numpy/scipy implementation of the same two
# steps (bench/predict/scipy_predict.py) on the bundled OLMo-2 ladder, one after the
# other on this machine, in two settings:
#   forecast  — the 20 runs without 0.5×C (both sides pass --exclude '*-0.5xC', predict's
#               default before it fitted every run), OLMo-2 7B and 13B as targets;
#   backtest  — fit 190M–1.3B at 1–10×C (16 runs), predict the five 3.2B runs.
# Prints the machine, the largest |difference| of the point predictions (loss and
# score) over every (target, task), and wall and CPU seconds of both with the ratio.
#
# Usage (from anywhere): bash bench/predict/run.sh
# Env: REPLICATES (bootstrap replicates for both, default 100), PY_REPLICATES (scipy
# replicates actually timed, default REPLICATES: when smaller, scipy is also timed
# with none, and its bootstrap time per replicate is multiplied up to REPLICATES,
# and said so), MODES (settings run, default "forecast backtest"), ROUNDS (default 1:
# each round runs densing and scipy once per setting, one after the other, and gets
# its own row; with more, the median ratio per setting follows: this machine's speed
# drifts by tens of percent between minutes, so ratios are taken within a round),
# CARGO_TARGET_DIR
# (default target), PY (default .venv-bench/bin/python, created with numpy + scipy
# if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
B=${REPLICATES:-100}
PB=${PY_REPLICATES:-$B}
MODES=${MODES:-forecast backtest}
ROUNDS=${ROUNDS:-1}
py=${PY:-.venv-bench/bin/python}
if [[ ! -x $py ]]; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q numpy scipy
    py=.venv-bench/bin/python
fi
ladder=data/olmo_ladder/checkpoints.csv
targets=(--target OLMo-2-7B=6887575552:3945065873408 --target OLMo-2-13B=13202396160:5000088518656)

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores online; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(rustc --version); $($py -c 'import sys, numpy, scipy; print("python", sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__)')"
# --workspace, not -p densing: the latter unifies features differently and
# recompiles candle (minutes) after a workspace build.
cargo build --release -q --workspace --bin densing
bin=$CARGO_TARGET_DIR/release/densing

TIMEFORMAT='%R %U %S'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for round in $(seq 1 "$ROUNDS"); do
    for mode in $MODES; do
        if [[ $mode == backtest ]]; then extra=(--backtest); rs_extra=(--backtest largest); else extra=("${targets[@]}"); rs_extra=("${targets[@]}"); fi
        run=$mode-$round
        { time "$bin" predict --ladder "$ladder" --exclude '*-0.5xC' "${rs_extra[@]}" --bootstrap "$B" --json >"$tmp/rs-$run.json"; } 2>"$tmp/rs-$run.time"
        $py bench/predict/scipy_predict.py "$ladder" --exclude '*-0.5xC' "${extra[@]}" --replicates "$PB" >"$tmp/py-$run.json"
        if [[ $PB != "$B" ]]; then
            $py bench/predict/scipy_predict.py "$ladder" --exclude '*-0.5xC' "${extra[@]}" --replicates 0 >"$tmp/py0-$run.json"
        fi
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$py - "$tmp" "$B" "$ROUNDS" $MODES <<'PY'
import json, statistics, sys
d, B, rounds, modes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
print(f"| setting | max abs diff loss | max abs diff score | densing wall s | densing CPU s | scipy wall s | scipy CPU s | ratio (wall) | ratio (CPU) |")
print("|---|---|---|---|---|---|---|---|---|")
ratios = {m: [] for m in modes}
for mode, r in ((m, r) for r in range(1, rounds + 1) for m in modes):
    run = f"{mode}-{r}"
    rs = json.load(open(f"{d}/rs-{run}.json"))
    py = json.load(open(f"{d}/py-{run}.json"))
    note = f", round {r}" if rounds > 1 else ""
    if py["replicates"] != B:  # fit alone + the timed replicates' time multiplied up to B
        py0 = json.load(open(f"{d}/py0-{run}.json"))
        k = B / py["replicates"]
        for key in ("wall_s", "cpu_s"):
            py[key] = py0[key] + (py[key] - py0[key]) * k
        note += f" (scipy: {py['replicates']} replicates timed, multiplied up)"
    wall, user, sys_ = map(float, open(f"{d}/rs-{run}.time").read().split())
    cpu = user + sys_
    key = lambda p: (p["target"], p["task"])
    pyp = {key(p): p for p in py["predictions"]}
    dl = max(abs(p["loss"] - pyp[key(p)]["loss"]) for p in rs["predictions"])
    ds = max(abs(p["score"] - pyp[key(p)]["score"]) for p in rs["predictions"])
    n = len(rs["predictions"])
    assert n == len(py["predictions"]), (n, len(py["predictions"]))
    print(f"| {mode} ({n} predictions, {B} replicates{note}) | {dl:.1e} | {ds:.1e} | {wall:.1f} | {cpu:.1f} | "
          f"{py['wall_s']:.1f} | {py['cpu_s']:.1f} | {py['wall_s'] / wall:.1f}× | {py['cpu_s'] / cpu:.1f}× |")
    ratios[mode].append(py["cpu_s"] / cpu)
    worst = max(rs["predictions"], key=lambda p: abs(p["score"] - pyp[key(p)]["score"]))
    q = pyp[key(worst)]
    print(f"  worst score: {worst['target']} {worst['task']}: densing {worst['score']:.5f} "
          f"{[round(x, 4) for x in worst['score_ci95']]}, scipy {q['score']:.5f} "
          f"{[round(x, 4) for x in q['score_ci95']] if q['score_ci95'] else ''}")
    fits = rs["fits"].values()
    print(f"  densing step-2 replicate refits that fell back to the full grid: {sum(f['fallbacks'] for f in fits)} "
          f"of {B * len(fits)} ({B} replicates × {len(fits)} tasks; step 1's are all solved by it)")
if rounds > 1:
    for mode in modes:
        v = ratios[mode]
        print(f"{mode}: CPU ratio median {statistics.median(v):.1f}×, range {min(v):.1f}–{max(v):.1f}× over {rounds} rounds")
PY
