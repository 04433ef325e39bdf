"""How scripts/bench_kickstart.py names its runs after their settings: a kickstart run's in one table that also
tells scripts/kickstart_report.py how to read the labels back, and a distillation's (``distill_variant``).

A run's folder and label name each setting whose value is not the one runs were first named against
(``Named.unnamed``), not kickstart's current default: a default that changes must neither rename finished
runs nor let a run of the old value pass for one of the new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_distill.distill.config import LEGACY_UPDATES_PER_ROUND
from rl_distill.losses import DEFAULT_BOUND_MODE
from rl_distill.sb3.presets import preset_for

BEST = ", best checkpoint"
"""The label suffix of a run that keeps its best curve point (``--keep-best``); `` of N`` follows when it
chose on N validation episodes per point instead of UNNAMED_BEST_EPISODES."""
UNNAMED_BEST_EPISODES = 10
"""The validation episodes per point of a best-checkpoint run whose label names none (the first such runs); the
package's default is ``rl_distill.sb3.training.BEST_EPISODES``."""


@dataclass(frozen=True, kw_only=True)
class Named:
    """A kickstart setting (a KickstartConfig field and bench case key) that names the runs where it is not
    ``unnamed``; ``folder`` and ``label`` are format strings of its value ``v``."""

    key: str
    unnamed: Any
    folder: str
    label: str
    adaptive_only: bool = False
    """Named only in runs of an ``adaptive`` schedule: the others never use the setting."""

    def names(self, case: dict[str, Any], schedule: str) -> bool:
        return case[self.key] != self.unnamed and (schedule.startswith("adaptive") or not self.adaptive_only)

    def label_of(self, value: Any) -> str:
        return self.label.format(v=value)

    def pattern(self) -> re.Pattern[str]:
        """Finds the label fragment in a run's label; group 1 is the value as written."""
        before, _, after = re.split(r"(\{v[^}]*\})", self.label, maxsplit=1)
        return re.compile(re.escape(before) + r"(\S+)" + re.escape(after))


NAMED = {named.key: named for named in (
    Named(key="learning_rate", unnamed=None, folder="-lr{v:g}", label=" + lr {v:g}"),
    Named(key="lr_decay", unnamed=False, folder="-lrdecay", label=" + lr decay"),
    Named(key="critic_warmup", unnamed=0, folder="-cw{v}", label=" + critic warm-up {v:,}"),
    Named(key="critic_hidden", unnamed=None, folder="-vf{v}", label=" + {v} critic"),  # v: "256x256"
    Named(key="critic_init", unnamed="fresh", folder="-vf{v}", label=" + the {v}'s critic"),  # v: "teacher"
    Named(key="log_std_init", unnamed=None, folder="-ls{v:g}", label=" + log std {v:g} at start"),
    Named(key="average_steps", unnamed=None, folder="-avg{v}", label=" + weights averaged over {v:,} steps"),
    # 10 was kickstart's default until it became 100 (docs/kickstart.md, "The adaptive reference")
    Named(key="reference_episodes", unnamed=10, folder="-ref{v}", label=" + reference of {v} episodes",
          adaptive_only=True),
    Named(key="distill_term", unnamed="kl", folder="-{v}", label=" + {v} term"),
    Named(key="kl", unnamed="forward", folder="-{v}", label=" + {v} KL"),
    # named for PPO from scratch too (bench_kickstart's --scale-rewards sets both)
    Named(key="scale_rewards", unnamed=None, folder="-scaled{v}", label=" + scaled rewards: {v}"),
)}  # fmt: skip
"""In the order fragments appear in folder names and labels."""


def setting_fragments(case: dict[str, Any], schedule: str) -> tuple[str, str]:
    """The (folder, label) fragments that name ``case``'s kickstart settings for a run of ``schedule``."""
    named = [n for n in NAMED.values() if n.names(case, schedule)]
    return ("".join(n.folder.format(v=case[n.key]) for n in named),
            "".join(n.label_of(case[n.key]) for n in named))  # fmt: skip


def kickstart_variant(work: Path, variant: str, seed: int, suffix: str) -> tuple[Path, str, float]:
    """``SCHEDULE[@T]`` (T divides the teacher's logits, discrete actions) -> (run folder, schedule, T);
    ``suffix`` names the case's other settings (each combination its own folder)."""
    schedule, _, temperature = variant.partition("@")
    suffix = (f"-T{temperature}" if temperature else "") + suffix
    folder = work / f"kickstart-{schedule.replace(':', '_').replace(',', '_')}{suffix}-{seed}"
    return folder, schedule, float(temperature or 1.0)


DISTILL_UPDATES = LEGACY_UPDATES_PER_ROUND
"""Runs with these updates per round keep the folders and labels they had before distill's default rose to 1,000."""


def distill_variant(env: str, steps: int | None, bounds: str, lr_decay: bool, collect_actions: str = "sampled",
                    updates_per_round: int = DISTILL_UPDATES,
                    keep_best: bool = False) -> tuple[int, str, str]:  # fmt: skip
    """The distillation's (budget, folder key, label tag); key and tag are empty for the preset's budget, the
    default bounds and a constant rate, so earlier runs keep their folders, and any other setting gets its own
    runs and label."""
    preset_budget = preset_for(env).distill_steps
    budget = steps or preset_budget
    keys, tags = [], []
    if budget != preset_budget:
        keys, tags = [str(budget)], [f"{budget:,} steps"]
    if bounds != DEFAULT_BOUND_MODE:
        keys, tags = [*keys, bounds], [*tags, f"{bounds} bounds"]
    if lr_decay:
        keys, tags = [*keys, "lrdecay"], [*tags, "lr decay"]
    if collect_actions != "sampled":
        keys, tags = [*keys, collect_actions], [*tags, f"{collect_actions} collection"]
    if updates_per_round != DISTILL_UPDATES:
        keys, tags = [*keys, f"upd{updates_per_round}"], [*tags, f"{updates_per_round} updates per round"]
    if keep_best:
        keys, tags = [*keys, "best"], [*tags, "best round"]
    key, tag = "-".join(keys), ", ".join(tags)
    return budget, key, f" {tag}" if tag else ""
