#!/usr/bin/env bash
# Agreement of densing's default scoring (lm-evaluation-harness's boundary rule)
# with llama.cpp (llama-cpp-python, its own tokenizer, the same rule implemented
# independently in bench/eval/llamacpp_compare.py): all 164 HumanEval items and
# BBH date_understanding (3-shot CoT, all 250 items unless LIMIT is given).
# Usage: bench/eval/agreement.sh [BBH_LIMIT]   (needs .venv with llama-cpp-python
# and `cargo build --release -p densing-eval --example score_dump`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bbh_limit="${1:-250}"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/examples/score_dump"
assets="${DENSING_ASSETS:-$repo/assets}"
m="$assets/SmolLM2-135M-Instruct.Q4_1.gguf"
out="${OUT:-$(mktemp -d)}"
uptime
"$bin" "$m" humaneval "$assets/HumanEval.jsonl.gz" 164 > "$out/humaneval.jsonl"
"$repo/.venv/bin/python" "$repo/bench/eval/llamacpp_compare.py" "$m" "$out/humaneval.jsonl" 2 > "$out/humaneval.json"
"$bin" "$m" bbh:date_understanding "$repo/data/bbh" "$bbh_limit" > "$out/bbh.jsonl"
"$repo/.venv/bin/python" "$repo/bench/eval/llamacpp_compare.py" "$m" "$out/bbh.jsonl" 2 > "$out/bbh.json"
uptime
for t in humaneval bbh; do
    echo "== $t"
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r.pop('per_item'); print(json.dumps(r, indent=2))" "$out/$t.json"
done
echo "reports in $out"
