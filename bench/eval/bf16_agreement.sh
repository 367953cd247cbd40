#!/usr/bin/env bash
# Per-item agreement of the bf16 mode (bf16 weights, f32 arithmetic) with f32 on
# SmolLM2-135M: loss per continuation token of every HumanEval item (default all
# 164) under both modes, |Δ| median, p95 and max (nat/token), and the loss totals.
# Usage: bench/eval/bf16_agreement.sh [ITEMS] [MODE]   (MODE bf16 (default) or quantized;
# needs `cargo build --release -p densing-eval --example score_dump`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-164}"
mode="${2:-bf16}"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/examples/score_dump"
assets="${DENSING_ASSETS:-$repo/assets}"
m="$assets/SmolLM2-135M-Instruct.Q4_1.gguf"
h="$assets/HumanEval.jsonl.gz"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
uptime
"$bin" "$m" humaneval "$h" "$n" --batch 8 > "$tmp/f32.jsonl" 2>/dev/null
"$bin" "$m" humaneval "$h" "$n" --batch 8 --matmul "$mode" > "$tmp/other.jsonl" 2>/dev/null
uptime
python3 - "$tmp/f32.jsonl" "$tmp/other.jsonl" "$mode" <<'PY'
import json, statistics, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert [x["id"] for x in a] == [x["id"] for x in b] and all(x["ids"] == y["ids"] for x, y in zip(a, b))
npt = lambda r: -sum(r["logprobs"]) / len(r["logprobs"])
d = sorted(abs(npt(x) - npt(y)) for x, y in zip(a, b))
tok = sorted(abs(p - q) for x, y in zip(a, b) for p, q in zip(x["logprobs"], y["logprobs"]))
q = lambda xs, f: xs[min(len(xs) - 1, round(f * (len(xs) - 1)))]
tokens = sum(len(x["logprobs"]) for x in a)
print(json.dumps({
    "items": len(a), "tokens": tokens, "mode": sys.argv[3],
    "item_abs_delta_nat_per_token": {"median": statistics.median(d), "p95": q(d, 0.95), "max": d[-1]},
    "token_abs_delta_nat": {"median": statistics.median(tok), "p99": q(tok, 0.99), "max": tok[-1]},
    "f32_nat_per_token": -sum(sum(x["logprobs"]) for x in a) / tokens,
    "other_nat_per_token": -sum(sum(x["logprobs"]) for x in b) / tokens,
    "f32_tok_per_s": sum(len(x["ids"]) for x in a) / sum(x["seconds"] for x in a),
    "other_tok_per_s": sum(len(x["ids"]) for x in b) / sum(x["seconds"] for x in b),
}, indent=2))
PY
