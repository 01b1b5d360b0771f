#!/usr/bin/env bash
# Build the benchmark's own virtualenv (benchmarks/vs_trl/.venv, git-ignored): TRL is never a rethinker dependency.
# It gets torch (the same build for both sides), transformers, TRL and rethinker itself (editable). No torchvision:
# PyPI's wheels are CUDA builds that do not load on a CPU torch, and only Qwen's video processor needs it, so the TRL
# side builds Qwen2.5-VL's processor from the same Pillow image processor rethinker uses (trl_side.ImageOnlyProcessor).
# TORCH_SPEC picks the torch build (default: the project's CPU torch; a local `+cpu` wheel sorts before PyPI's).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3.11}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"
"$python" -m venv "$here/.venv"
pip="$here/.venv/bin/pip"
"$pip" install --quiet "$torch_spec"
"$pip" install --quiet transformers==5.24.0
"$pip" install --quiet trl==1.16.0
"$pip" install --quiet -e "$repo"
"$here/.venv/bin/python" -c "import torch, transformers, trl, rethinker; print('torch', torch.__version__, 'trl', trl.__version__)"
