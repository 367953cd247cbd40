#!/usr/bin/env bash
# Loopback load test of `densing serve` with the real SmolLM2-135M GGUF: 32 clients
# for 60 s mixing valid and hostile requests (crates/densing/examples/serve_load.rs).
# Prints the machine and one JSON line (counts, p50/p99 latency); exits non-zero on
# any crash, 5xx, wrong status or wrong answer.
# Usage: bash bench/serve/run.sh [CLIENTS] [SECONDS]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
clients="${1:-32}"
seconds="${2:-60}"
target="${CARGO_TARGET_DIR:-$repo/target}"
model="${DENSING_ASSETS:-$repo/assets}/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$model" ] || bash scripts/fetch-assets.sh
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores online; load $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release -q -p densing --bin densing --example serve_load
"$target/release/examples/serve_load" --bin "$target/release/densing" --model "$model" \
    --clients "$clients" --seconds "$seconds"
