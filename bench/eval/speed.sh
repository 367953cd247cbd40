#!/usr/bin/env bash
# densing vs llama.cpp (llama-cpp-python in-process) on the same GGUF and HumanEval
# items, side by side in one run: densing scores the items before and after
# llama.cpp to bracket load drift on a shared machine; the load average is printed
# before, between and after. Prints densing's tok/s of both runs and llama.cpp's
# agreement/speed JSON (`--speed`: logits_all path and last-logits prompt path).
# Usage: bench/eval/speed.sh [ITEMS]   (needs .venv with llama-cpp-python==0.3.36 and
# `cargo build --release -p densing-eval --example score_dump`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-20}"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/examples/score_dump"
assets="${DENSING_ASSETS:-$repo/assets}"
m="$assets/SmolLM2-135M-Instruct.Q4_1.gguf"
h="$assets/HumanEval.jsonl.gz"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rate() { python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(round(sum(len(x['ids']) for x in r)/sum(x['seconds'] for x in r),1))" "$1"; }
lscpu | grep "Model name"; nproc; uptime
"$bin" "$m" humaneval "$h" "$n" > "$tmp/before.jsonl" 2>/dev/null
uptime
"$repo/.venv/bin/python" "$repo/bench/eval/llamacpp_compare.py" "$m" "$tmp/before.jsonl" 2 --speed > "$tmp/cmp.json"
uptime
"$bin" "$m" humaneval "$h" "$n" > "$tmp/after.jsonl" 2>/dev/null
uptime
echo "densing tok/s before: $(rate "$tmp/before.jsonl"), after: $(rate "$tmp/after.jsonl")"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r.pop('per_item'); print(json.dumps(r, indent=2))" "$tmp/cmp.json"
