#!/usr/bin/env bash
# Run the whole comparison with the benchmark's virtualenv (build it first with setup.sh); arguments go to run.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/.venv/bin/python" "$here/run.py" "$@"
