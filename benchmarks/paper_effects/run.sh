#!/usr/bin/env bash
# The papers' three findings on the tiny model with error bars, end to end on CPU (about an hour on two cores):
#   benchmarks/paper_effects/run.sh [--workers N] [--findings 1,2,3] [--smoke] [--max-minutes M] [--out DIR]
# Raw JSON per piece, summary.md, summary.json and figures land in benchmarks/paper_effects/results/ (or --out);
# finished pieces are skipped, so an interrupted run continues where it stopped.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
exec "$ROOT/.venv/bin/python" "$ROOT/benchmarks/paper_effects/run.py" "$@"
