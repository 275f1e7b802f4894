#!/usr/bin/env bash
# One command for the demo: set up .venv, build the demo catalogue and index on first run, serve the app.
# Extra arguments go to app.py (e.g. --index DIR, --port 8051).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
