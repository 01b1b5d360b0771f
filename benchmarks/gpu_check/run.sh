#!/usr/bin/env bash
# GPU readiness check (under 8 minutes on one GPU): installs the vllm extra on a CUDA machine, then runs run.py.
# Usage, from the repository root after scripts/setup.sh: bash benchmarks/gpu_check/run.sh [run.py flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  .venv/bin/python -m pip install --quiet -e ".[vllm]"
fi
exec .venv/bin/python benchmarks/gpu_check/run.py "$@"
