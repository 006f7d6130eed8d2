#!/usr/bin/env bash
# Create (or reuse) ./.venv with audiolm installed. CPU by default: torch==2.13.0 is the CPU
# wheel (an unpinned torch pulls several GB of CUDA packages). For a GPU, install your CUDA
# torch into the venv first (see README), then run this with AUDIOLM_GPU=1 to add xformers.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! python -c "import torch" >/dev/null 2>&1; then
  python -m pip install -q torch==2.13.0
fi
extras="dev"
if [ "${AUDIOLM_GPU:-0}" = "1" ]; then extras="dev,xformers"; fi
python -m pip install -q -e ".[${extras}]"
