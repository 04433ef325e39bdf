"""Argument types and helpers shared by every ``rl-distill`` sub-command.

Each type turns a bad value into argparse's one-line error (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path
from typing import NoReturn

EXIT_BAD_INPUT = 2
TEACHER_HELP = ("teacher model: an SB3 .zip of PPO, A2C, DQN (its policy read as softmax(Q / 0.01)), SAC, TD3 "
                "or DDPG, MLP on vector observations")
VECNORMALIZE_HELP = ("VecNormalize statistics (.pkl) for the teacher (default: <stem>/vecnormalize.pkl, the zoo's "
                     "layout, or <stem>_vecnormalize.pkl beside the zip; else vecnormalize.pkl beside it, with a note)")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (argparse prints the whole usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def add_updates_per_round(parser: argparse.ArgumentParser) -> None:
    """A benchmark script's ``--updates-per-round``: distill's default, or what its older results were made with."""
    from rl_distill.distill.config import LEGACY_UPDATES_PER_ROUND, DistillConfig

    parser.add_argument("--updates-per-round", type=positive_int,
                        default=DistillConfig.updates_per_round,
                        help=f"distillation's gradient steps per round (default {DistillConfig.updates_per_round}, "
                        f"distill's; results made before 2026-12-05 used {LEGACY_UPDATES_PER_ROUND}, distill's default "
                        "then: pass it to reproduce them)")


def integer_from(text: str, minimum: int, kind: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {value}")
    return value


def positive_int(text: str) -> int:
    return integer_from(text, 1, "positive")


def non_negative_int(text: str) -> int:
    return integer_from(text, 0, "non-negative")


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def unit_float(text: str) -> float:
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def hidden_sizes(text: str) -> tuple[int, ...]:
    """``32,32`` or ``32x32`` -> (32, 32); every size must be a positive integer."""
    parts = [p for p in text.replace("x", ",").split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected hidden sizes like 32,32, got {text!r}")
    return tuple(positive_int(p.strip()) for p in parts)


def default_out(kind: str) -> Path:
    """``runs/<kind>-<time>``; a task's kwargs (``ENV:{...}``) become plain characters in the folder name."""
    name = re.sub(r"[^\w.-]+", "_", kind).strip("_")
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def set_threads(threads: int | None) -> None:
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)


def json_object(text: str) -> dict:
    """``--env-kwargs '{"enable_wind": true}'``: a JSON object, else a one-line error."""
    import json

    try:
        value = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} (not valid JSON)") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object like '{{\"key\": 1}}', got {text!r}")
    return value
