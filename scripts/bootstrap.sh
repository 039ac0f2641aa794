#!/usr/bin/env bash
# Set up callqa on a fresh machine: a .venv at the repository root with callqa, its models
# and the test tools. Idempotent: re-running only fills in what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# CPU torch first, from the local wheel when the machine has one, so nothing pulls a CUDA build.
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e '.[dev]'
bash scripts/setup_browser.sh   # Debian's chromium, for the report's browser tests
if [ -f scripts/setup_diarization.sh ]; then
    bash scripts/setup_diarization.sh
fi
.venv/bin/callqa models install
echo "callqa is installed in $(pwd)/.venv"
