#!/usr/bin/env bash
# Sets up (idempotently) and runs the test suite. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
venv="${RL_DISTILL_VENV:-$root/.venv}"
cd "$root"
exec "$venv/bin/python" -m pytest "$@"
