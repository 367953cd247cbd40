#!/usr/bin/env bash
# densing vs llama.cpp (llama-cpp-python in-process) on the same GGUF and HumanEval
# items, side by side in one run: densing scores the items before and after
# llama.cpp to bracket load drift on a shared machine, one item per forward pass
# and BATCH items packed per pass; the load average is printed before, between and
# after. Prints densing's tok/s of each run and llama.cpp's agreement/speed JSON
# (`--speed`: logits_all path and last-logits prompt path). Then BBH 3-shot CoT
# with prefix KV reuse through `densing eval`, packed (default) and one per pass.
# Usage: bench/eval/speed.sh [ITEMS] [BATCH]   (needs .venv with
# llama-cpp-python==0.3.36 and `cargo build --release --bin densing
# -p densing-eval --example score_dump`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-20}"
batch="${2:-8}"
target="${CARGO_TARGET_DIR:-$repo/target}/release"
bin="$target/examples/score_dump"
assets="${DENSING_ASSETS:-$repo/assets}"
m="$assets/SmolLM2-135M-Instruct.Q4_1.gguf"
h="$assets/HumanEval.jsonl.gz"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rate() { python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(round(sum(len(x['ids']) for x in r)/sum(x['seconds'] for x in r),1))" "$1"; }
lscpu | grep "Model name"; nproc; uptime
"$bin" "$m" humaneval "$h" "$n" > "$tmp/one_before.jsonl" 2>/dev/null
"$bin" "$m" humaneval "$h" "$n" --batch "$batch" > "$tmp/packed_before.jsonl" 2>/dev/null
uptime
"$repo/.venv/bin/python" "$repo/bench/eval/llamacpp_compare.py" "$m" "$tmp/packed_before.jsonl" 2 --speed > "$tmp/cmp.json"
uptime
"$bin" "$m" humaneval "$h" "$n" --batch "$batch" > "$tmp/packed_after.jsonl" 2>/dev/null
"$bin" "$m" humaneval "$h" "$n" > "$tmp/one_after.jsonl" 2>/dev/null
uptime
echo "densing tok/s, one item per pass: before $(rate "$tmp/one_before.jsonl"), after $(rate "$tmp/one_after.jsonl")"
echo "densing tok/s, $batch items per pass: before $(rate "$tmp/packed_before.jsonl"), after $(rate "$tmp/packed_after.jsonl")"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r.pop('per_item'); print(json.dumps(r, indent=2))" "$tmp/cmp.json"
echo "== BBH date_understanding, 3-shot CoT, first 24 items, prefix reuse"
for b in auto 1; do
    extra=()
    [[ $b == 1 ]] && extra=(--batch 1)
    "$target/densing" eval --model "$m" --task bbh:date_understanding --data "$repo/data/bbh" \
        --limit 24 --out "$tmp/bbh-$b" "${extra[@]}" 2>&1 | grep -E "^loaded|^scored"
done
uptime
