#!/usr/bin/env bash
# densing vs llama.cpp (llama-cpp-python in-process) on the same GGUF and HumanEval
# items, and densing vs its own matmuls alone, side by side in interleaved rounds.
#
# This machine's speed drifts by up to 2x within a minute (other tenants of the
# host), so one "before/after" bracket does not settle a ratio. Each round scores
# the ITEMS items with densing one per pass and BATCH per pass, times llama.cpp's
# last-logits path on densing's packed token sequences, and replays the packed
# run's weight matmuls with candle's GEMM alone (examples/gemm_replay.rs: the
# measured f32 limit for exactly this work); the order of densing and llama.cpp
# alternates between rounds. The ratios are taken within a round and summarised
# by their median and range over ROUNDS rounds, and again over the rounds in
# which the hypervisor stole < 5% of the CPU time (`steal`, from /proc/stat: at
# 40% steal densing's per-op synchronisation suffers more than llama.cpp's, so
# such rounds measure the host, not the engines). Once, before the rounds: the
# agreement of densing's packed run with llama.cpp (and llama.cpp's logits_all
# path). After them: BBH 3-shot CoT with prefix KV reuse, packed and one per pass.
# Usage: bench/eval/speed.sh [ITEMS] [BATCH] [ROUNDS]   (needs .venv with
# llama-cpp-python==0.3.36 and `cargo build --release --workspace --bin densing
# --examples`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-20}"
batch="${2:-8}"
rounds="${3:-7}"
target="${CARGO_TARGET_DIR:-$repo/target}/release"
bin="$target/examples/score_dump"
assets="${DENSING_ASSETS:-$repo/assets}"
m="$assets/SmolLM2-135M-Instruct.Q4_1.gguf"
h="$assets/HumanEval.jsonl.gz"
py="$repo/.venv/bin/python"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rate() { python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(round(sum(len(x['ids']) for x in r)/sum(x['seconds'] for x in r),1))" "$1"; }
# Jiffies (total, stolen by the hypervisor) from /proc/stat's cpu line.
jiffies() { awk '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; print t, $9}' /proc/stat; }
field() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))[sys.argv[2]],3))" "$1" "$2"; }
lscpu | grep "Model name"; nproc; uptime

echo "== agreement (packed run vs llama.cpp, all-position logits)"
"$bin" "$m" humaneval "$h" "$n" --batch "$batch" > "$tmp/packed.jsonl" 2>/dev/null
"$py" "$repo/bench/eval/llamacpp_compare.py" "$m" "$tmp/packed.jsonl" 2 --speed > "$tmp/cmp.json"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r.pop('per_item'); print(json.dumps(r, indent=2))" "$tmp/cmp.json"

echo "== $rounds interleaved rounds, $n HumanEval items"
printf 'round\tload\tsteal\tone_per_pass\tpacked\tllamacpp_last\tpacked_over_llamacpp\tengine_gflops\tgemm_gflops\tengine_fraction_of_gemm\n' > "$tmp/rounds.tsv"
densing() {
    "$bin" "$m" humaneval "$h" "$n" > "$tmp/one.jsonl" 2>/dev/null
    "$bin" "$m" humaneval "$h" "$n" --batch "$batch" > "$tmp/packed.jsonl" 2>/dev/null
}
llamacpp() {
    "$py" "$repo/bench/eval/llamacpp_compare.py" "$m" "$tmp/packed.jsonl" 2 --last-logits-only > "$tmp/llama.json"
}
for r in $(seq "$rounds"); do
    read -r t0 s0 < <(jiffies)
    if (( r % 2 )); then densing; llamacpp; else llamacpp; densing; fi
    "$target/examples/gemm_replay" "$tmp/packed.jsonl" "$batch" > "$tmp/replay.json"
    read -r t1 s1 < <(jiffies)
    steal=$(python3 -c "print(round(($s1 - $s0) / max($t1 - $t0, 1), 3))")
    one=$(rate "$tmp/one.jsonl"); packed=$(rate "$tmp/packed.jsonl")
    last=$(field "$tmp/llama.json" llamacpp_last_logits_tok_per_s)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$(cut -d' ' -f1 /proc/loadavg)" "$steal" "$one" "$packed" "$last" \
        "$(python3 -c "print(round($packed/$last,3))")" "$(field "$tmp/replay.json" engine_gflops)" \
        "$(field "$tmp/replay.json" gemm_gflops)" "$(field "$tmp/replay.json" engine_fraction_of_gemm)" >> "$tmp/rounds.tsv"
    tail -1 "$tmp/rounds.tsv"
done
column -t "$tmp/rounds.tsv"
python3 - "$tmp/rounds.tsv" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
col = lambda k: [float(r[k]) for r in rows]
quiet = [float(r["steal"]) < 0.05 for r in rows]
def show(name, xs):
    print(f"{name}: median {statistics.median(xs):.3f}, range {min(xs):.3f}-{max(xs):.3f} over {len(xs)} rounds")
    q = [x for x, ok in zip(xs, quiet) if ok]
    if q and len(q) < len(xs):
        print(f"  rounds with < 5% of CPU time stolen by the host: median {statistics.median(q):.3f}, "
              f"range {min(q):.3f}-{max(q):.3f} over {len(q)} rounds")
show("densing packed / llama.cpp last-logits", col("packed_over_llamacpp"))
show("densing packed / densing one per pass", [p / o for p, o in zip(col("packed"), col("one_per_pass"))])
show("engine / its matmuls alone (fraction of the measured GEMM limit)", col("engine_fraction_of_gemm"))
show("engine GFLOP/s / theoretical 166 (2 cores x 2.6 GHz x 32)", [g / 166 for g in col("engine_gflops")])
show("GEMM replay GFLOP/s / theoretical 166", [g / 166 for g in col("gemm_gflops")])
EOF
echo "== BBH date_understanding, 3-shot CoT, first 24 items, prefix reuse"
for b in auto 1; do
    extra=()
    [[ $b == 1 ]] && extra=(--batch 1)
    "$target/densing" eval --model "$m" --task bbh:date_understanding --data "$repo/data/bbh" \
        --limit 24 --out "$tmp/bbh-$b" "${extra[@]}" 2>&1 | grep -E "^loaded|^scored"
done
uptime
