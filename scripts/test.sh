#!/usr/bin/env bash
# The test command: installs into ./.venv if needed, then runs the whole suite on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
python -m pytest tests "$@"
