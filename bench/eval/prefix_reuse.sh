#!/usr/bin/env bash
# Items/s of `densing eval` on a BBH 3-shot subtask with prefix KV-cache reuse
# (default) and without (`--no-prefix-cache`), same items, fresh stores.
# Usage: bench/eval/prefix_reuse.sh [SUBTASK] [LIMIT]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sub="${1:-date_understanding}"
limit="${2:-30}"
bin="${CARGO_TARGET_DIR:-$repo/target}/release/densing"
model="${DENSING_ASSETS:-$repo/assets}/SmolLM2-135M-Instruct.Q4_1.gguf"
bbh="$repo/data/bbh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for mode in reuse no-reuse; do
    extra=()
    [[ $mode == no-reuse ]] && extra=(--no-prefix-cache)
    echo "== $mode"
    "$bin" eval --model "$model" --task "bbh:$sub" --data "$bbh" --shots 3 --limit "$limit" \
        --out "$tmp/$mode" "${extra[@]}" 2>&1 | grep -E "^scored|bbh:"
done
