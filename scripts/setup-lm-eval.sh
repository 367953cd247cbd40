#!/usr/bin/env bash
# Installs lm-evaluation-harness (the `api` extra: its OpenAI-compatible client)
# into <repo>/.venv-lmeval, for crates/densing/tests/lm_eval_harness.rs, which runs
# `lm_eval --model local-completions ... tokenizer_backend=remote` against
# `densing serve`.
#
# Why a venv of its own: lm-eval 0.4.13's core needs no torch (only the `hf`
# extra does), but it brings datasets, evaluate, scikit-learn, sacrebleu and
# pyarrow (~760 MB, 1 min 40 s to install here); keeping them out of the Python
# package's test venv keeps that venv a clean place to test the wheel.
# Idempotent: nothing is installed when the pinned version already imports.
#
# Usage: scripts/setup-lm-eval.sh          (prints the venv's lm_eval on success)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DENSING_LMEVAL_VENV:-$repo/.venv-lmeval}"
pin="0.4.13"

[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
installed() {
    "$venv/bin/python" - "$pin" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import lm_eval.models.openai_completions  # noqa: F401  (the api extra's imports must work)
sys.exit(0 if version("lm_eval") == sys.argv[1] else 1)
PY
}
if ! installed; then
    "$venv/bin/python" -m pip install --quiet "lm-eval[api]==$pin"
    installed || { echo "lm-eval[api]==$pin did not install into $venv" >&2; exit 1; }
fi
echo "$venv/bin/lm_eval"
