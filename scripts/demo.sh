#!/usr/bin/env bash
# Sets up (idempotently) and runs the main job: teacher -> distil -> compare on CartPole-v1.
# Extra arguments go to `rl-distill pipeline` (for example --env LunarLander-v3 --out runs/ll).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
venv="${RL_DISTILL_VENV:-$root/.venv}"
cd "$root"
exec "$venv/bin/rl-distill" pipeline --env CartPole-v1 "$@"
