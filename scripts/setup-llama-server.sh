#!/usr/bin/env bash
# Installs llama-cpp-python's OpenAI-compatible server into <repo>/.venv.
#
# Why: the HTTP-backend acceptance tests (crates/densing/tests/http_*.rs) need a
# real third-party server to prove the start-up probe refuses its off-by-one echoed
# prompt log-probs. The same venv is shared with other project scripts, so this is
# idempotent: an existing venv is reused and the package is only built when the
# pinned version is not already importable (the source build of llama.cpp takes
# about 3 minutes on 2 cores, and pip's wheel cache makes a rebuild fast).
#
# Usage: scripts/setup-llama-server.sh          (prints the venv's python on success)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DENSING_VENV:-$repo/.venv}"
pin="0.3.36"
lock="$venv/.densing-setup.lock"

python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi

# Serialise concurrent callers (another script may be installing into the same venv).
exec 9>"$lock"
flock 9

installed() {
    "$venv/bin/python" - "$pin" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import llama_cpp.server.app  # noqa: F401  (the [server] extra's imports must work)
sys.exit(0 if version("llama_cpp_python") == sys.argv[1] else 1)
PY
}

if ! installed; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    # A CPU-only build: no BLAS or GPU back end is needed for a 135M-parameter model,
    # and native CPU flags would make the cached wheel unusable on another machine.
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
        "$venv/bin/python" -m pip install --quiet "llama-cpp-python[server]==$pin"
    installed || { echo "llama-cpp-python[server]==$pin did not install into $venv" >&2; exit 1; }
fi

echo "$venv/bin/python"
