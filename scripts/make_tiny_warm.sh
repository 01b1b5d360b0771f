#!/usr/bin/env bash
# Reproduce the packaged warm-started tiny model (`model.path=tiny`): the supervised warm-up of the random tiny model.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/rethinker tiny --pretrain --out src/rethinker/assets/tiny-warm
