#!/usr/bin/env bash
# Install what tests/serve/test_browser.py needs: Debian's Chromium and the Python `playwright` package in .venv.
# Playwright drives the system Chromium (/usr/bin/chromium), so no browser is downloaded by Playwright itself.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v chromium >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
fi
.venv/bin/python -m pip install --quiet -e ".[browser]"
echo "browser test ready: $(chromium --version), playwright $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("playwright"))')"
