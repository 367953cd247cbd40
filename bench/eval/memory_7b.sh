#!/usr/bin/env bash
# Peak resident memory of loading and scoring a 7B-shaped model against the memory
# preflight's estimate, on a budget of 24 GiB (the preflight picks bf16: f32 does
# not fit). Writes a synthetic GGUF (Llama-2-7B shape, SmolLM2's tokenizer, random
# Q8_0 weights, 7.3 GB) into a temporary directory, loads it with `load_rss` and
# deletes it. Needs ~15 GiB of free memory and ~8 GB of disk; takes minutes, so
# it is a bench, not a test.
# Usage: bench/eval/memory_7b.sh [TOKENS] [MODE]   (MODE: auto (default), f32, bf16, quantized;
# needs `cargo build --release -p densing-eval --example synth_gguf --example load_rss`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tokens="${1:-512}"
mode="${2:-auto}"
ex="${CARGO_TARGET_DIR:-$repo/target}/release/examples"
smol="${DENSING_ASSETS:-$repo/assets}/SmolLM2-135M-Instruct.Q4_1.gguf"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/densing-7b.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
lscpu | grep "Model name"; nproc; free -g | head -2; uptime
"$ex/synth_gguf" "$smol" "$tmp/synthetic-7b.gguf"
ls -l "$tmp/synthetic-7b.gguf"
extra=()
[[ $mode != auto ]] && extra=("$mode")
DENSING_AVAILABLE_MEMORY=24GiB "$ex/load_rss" "$tmp/synthetic-7b.gguf" "$tokens" "${extra[@]}"
uptime
