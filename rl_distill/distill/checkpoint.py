"""Distillation checkpoints: one file, written atomically, loaded without running pickle code.

A checkpoint holds everything the loop needs to go on: student and optimiser state, the buffer,
the random generators, the counters and the round log, all as of the end of a complete round, and
the run's identity (teacher file digest, env, settings), which ``--resume`` must match. Environment
state is not saved: a resumed run starts fresh episodes (seeded from the round number), so it is
valid but not bit-identical to an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rl_distill.errors import InputError
from rl_distill.io import atomic_write

CHECKPOINT_VERSION = 2


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: torch.save({"version": CHECKPOINT_VERSION, **state}, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise InputError(f"{path}: not a readable checkpoint ({type(exc).__name__}); delete it or drop --resume") \
            from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"{path}: not an rl-distill checkpoint of version {CHECKPOINT_VERSION}")
    return state


def check_identity(path: Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint that another run (other teacher, env or settings) wrote."""
    differ = [f"{key} {saved.get(key)!r} there, {current.get(key)!r} here"
              for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)]  # fmt: skip
    if differ:
        raise InputError(f"{path} belongs to another run ({'; '.join(differ)}); use another --out or drop --resume")
