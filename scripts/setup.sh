#!/usr/bin/env bash
# Create .venv with rethinker installed. On a machine without an NVIDIA GPU the CPU build of torch is pinned, so setup
# never pulls a multi-gigabyte CUDA build; with a GPU, pip's default torch (CUDA) is used and `vllm` may be added.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  .venv/bin/python -m pip install --quiet -e ".[dev]"
else
  .venv/bin/python -m pip install --quiet --retries 0 --timeout 15 "torch==2.13.0" \
    --extra-index-url https://download.pytorch.org/whl/cpu
  .venv/bin/python -m pip install --quiet -e ".[dev]"
fi
echo "rethinker installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
