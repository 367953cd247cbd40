#!/usr/bin/env bash
# The measured f32 limit: candle's GEMM at SmolLM2-135M's shapes (rows = tokens
# per pass), at a square 2048 shape, and the bf16/Q8_0 paths at a 7B shape, with
# the machine and its load average.
# Usage: bench/eval/gemm.sh [SECONDS_PER_SHAPE]   (needs `cargo build --release
# -p densing-eval --example gemm_limit`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lscpu | grep -E "Model name|^CPU\(s\)"; uptime
"${CARGO_TARGET_DIR:-$repo/target}/release/examples/gemm_limit" "${1:-2}"
uptime
