#!/usr/bin/env bash
# The README's test command: set everything up (idempotent: venv, wheels, colcon build), then run
# the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# shellcheck source=/dev/null
source tools/env.sh
exec python -m pytest "$@"
