#!/usr/bin/env bash
# Build the benchmark's own virtualenv (benchmarks/vs_trl/.venv, git-ignored): TRL is never a rethinker dependency.
# TRL's VLM path loads transformers' AutoProcessor, whose Qwen video processor needs torchvision, so this venv gets
# torch + torchvision (the same torch for both sides), transformers 5.23, TRL, and rethinker itself (editable).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3.11}"
"$python" -m venv "$here/.venv"
pip="$here/.venv/bin/pip"
"$pip" install --quiet torch==2.14.1 torchvision==0.29.1 transformers==5.23.0
"$pip" install --quiet trl==1.16.0
"$pip" install --quiet -e "$repo"
"$here/.venv/bin/python" -c "import torch, torchvision, transformers, trl, rethinker; print('torch', torch.__version__, 'trl', trl.__version__)"
