"""Every setting of one distillation run, checked: ``DistillConfig``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, Self

import gymnasium as gym
import numpy as np

from rl_distill.errors import InputError
from rl_distill.losses import (
    BOUND_MODES,
    DEFAULT_BOUND_MODE,
    POLICY_LOSSES,
    BoundMode,
    PolicyLossName,
    check_temperature,
)

Collect = Literal["auto", "teacher", "student", "dagger"]
COLLECT_SCHEMES: tuple[str, ...] = ("teacher", "student", "dagger")
"""What ``collect`` resolves to (``resolve_collect``)."""
COLLECT_CHOICES: tuple[str, ...] = ("auto", *COLLECT_SCHEMES)
LEGACY_COLLECT = "student"
"""``DistillConfig.collect`` until session 59 (2026-12-07): what checkpoints of runs begun before then resume with."""
AUTO_COLLECT_RULE = "DAgger for Box actions, student-driven for discrete ones"
"""``collect``'s ``auto`` in words, for help texts."""
CollectActions = Literal["auto", "sampled", "greedy", "mixed", "capped"]
COLLECTION_MODES: tuple[str, ...] = ("sampled", "greedy", "mixed", "capped")
"""What ``collect_actions`` resolves to (``resolve_collect_actions``)."""
COLLECT_ACTIONS: tuple[str, ...] = ("auto", *COLLECTION_MODES)
LEGACY_COLLECT_ACTIONS = "sampled"
"""``DistillConfig.collect_actions`` until 2026-12-07: what saved runs that do not record theirs did, and what the
benchmark results made before then used."""
LEGACY_UPDATES_PER_ROUND = 250
"""``DistillConfig.updates_per_round`` until 2026-12-05: what saved runs that do not record theirs had, and what
the benchmark results made before then used."""


def logged_updates(record: dict[str, Any]) -> int:
    """A logged run's (or results row's) updates per round: LEGACY_UPDATES_PER_ROUND where it records none."""
    return record.get("updates_per_round") or LEGACY_UPDATES_PER_ROUND


def updates_tag(updates_per_round: int) -> str:
    """How run names tell a budget's updates per round: nothing for LEGACY_UPDATES_PER_ROUND (so the runs saved
    before the default rose keep their names), else ``-<N>u``."""
    return "" if updates_per_round == LEGACY_UPDATES_PER_ROUND else f"-{updates_per_round}u"


def logged_collect_actions(record: dict[str, Any]) -> str:
    """A logged run's (or results row's) collection mode: LEGACY_COLLECT_ACTIONS where it records none."""
    return record.get("collect_actions") or LEGACY_COLLECT_ACTIONS


AUTO_BOX_MODE = "capped"
"""What ``auto`` collects with on Box actions when only the student (or only the teacher) acts (greedy from session 55
until session 57, 2026-12-07; sampled before)."""
AUTO_DAGGER_BOX_MODE = "greedy"
"""What ``auto`` collects with on Box actions under DAgger (since session 59; capped before)."""
AUTO_RULE = (f"{AUTO_DAGGER_BOX_MODE} for Box actions under DAgger, {AUTO_BOX_MODE} for Box actions otherwise, "
             "sampled for discrete ones")
"""``auto`` in words, for help texts."""
NOISE_CAP = 0.1
"""``capped``: the largest std whoever acts may sample with, as a share of each action's half-range (TD3's own
exploration noise in SB3's zoo; chosen before it was measured, not tuned)."""
DAGGER_DECAY = 0.5
"""DAgger's default: the teacher acts in round r with probability 0.5**r (Ross et al.'s beta_i = p**i)."""


def resolve_collect(scheme: str, action_space: gym.Space) -> str:
    """Who acts while collecting on an action space: ``auto`` is AUTO_COLLECT_RULE; the others are themselves."""
    if scheme != "auto":
        return scheme
    return "dagger" if isinstance(action_space, gym.spaces.Box) else "student"


def resolve_collect_all(scheme: str, action_spaces: list[gym.Space]) -> str:
    """One scheme for several tasks' action spaces (multitask tosses one DAgger coin per round): DAgger if
    ``resolve_collect`` picks it for any of them, since the schemes are level on discrete actions."""
    schemes = {resolve_collect(scheme, space) for space in action_spaces}
    return "dagger" if "dagger" in schemes else schemes.pop()


def resolve_collect_actions(mode: str, action_space: gym.Space, collect: str) -> str:
    """What ``collect_actions`` does on an action space under the ``collect`` scheme: ``auto`` is AUTO_RULE; the
    others are themselves."""
    if mode != "auto":
        return mode
    if not isinstance(action_space, gym.spaces.Box):
        return "sampled"
    return AUTO_DAGGER_BOX_MODE if resolve_collect(collect, action_space) == "dagger" else AUTO_BOX_MODE


def action_noise(mode: str, n_envs: int) -> np.ndarray:
    """How much of its sampling noise whoever acts keeps in each of the ``n_envs`` collection envs under a resolved
    mode, from 0 (its greedy action) to 1 (a sampled one): greedy all 0; mixed 0 in the first half of the envs, so
    the student learns both the states its greedy self meets and those sampling reaches; sampled and capped all 1
    (capped's std is then bounded by ``std_limit``)."""
    if mode not in COLLECTION_MODES:
        raise ValueError(f"not a resolved collection mode: {mode!r}")
    if mode == "mixed":
        return (np.arange(n_envs) >= n_envs // 2).astype(np.float64)
    return np.full(n_envs, 0.0 if mode == "greedy" else 1.0)


def std_limit(mode: str, cap: float = NOISE_CAP) -> float:
    """The largest std a resolved mode lets whoever acts sample with, in half-ranges of each action: ``cap`` for
    capped, inf (its own) for the others."""
    return cap if mode == "capped" else float("inf")


def collect_tag(mode: str) -> str:
    """How run names tell a resolved collection mode: nothing for LEGACY_COLLECT_ACTIONS (so the runs saved before
    ``auto`` became the default keep their names), else ``-<mode>``."""
    return "" if mode == LEGACY_COLLECT_ACTIONS else f"-{mode}"


@dataclass(frozen=True)
class DistillConfig:
    """Every setting of one distillation run."""

    env_id: str
    """Gymnasium environment id."""
    student_hidden: tuple[int, ...] = (16, 16)
    """Student policy MLP hidden sizes."""
    steps: int = 50_000
    """Environment steps to collect and label, in total over all rounds (exactly this many, unless ``max_steps``)."""
    max_steps: int | None = None
    """Go on past ``steps``, a round at a time, while the student's action gap still falls, up to this many env
    steps in all (``budget.gap_still_falling``); None: exactly ``steps``."""
    collect: Collect = "auto"
    """Who acts while collecting: teacher, student (on-policy distillation) or a DAgger mixture (the teacher acts
    with probability ``dagger_decay``**round). auto, the default, is AUTO_COLLECT_RULE (``resolve_collect``;
    student-driven for all before session 59: ``LEGACY_COLLECT``). On Box actions, over twelve teachers and budgets
    (16x16 students, 5 seeds; two hard teachers kept out of every choice before), DAgger with greedy collection
    (auto's pair) fell least short of the best of four scheme-and-mode pairs: 0.055 in the mean and 0.262 at most,
    against student-driven capped collection's (the default before) 0.096 and 0.255; it lost to that on two (the
    zoo's BipedalWalker-v3 teacher, 0.954 against 1.149; a Walker2d-v5 teacher at 100,000 steps, 0.882 against
    1.093): results/collection-pairs.md. On discrete actions the schemes are level (results/rl.md), so those keep
    student-driven collection."""
    collect_actions: CollectActions = "auto"
    """How whoever acts picks its action while collecting: sampled from its distribution; greedy (the mean, or the
    most likely action), as an evaluated or deployed student acts; mixed, greedy in the first half of the envs and
    sampled in the others; or capped, sampled with a std of at most NOISE_CAP of each action's half-range, so the
    student sees states just off its greedy path without the wide noise of an untrained student (std 0.61) or of
    a teacher that explores widely. auto, the default, is AUTO_RULE (``resolve_collect_actions``; greedy for Box
    actions from 2026-12-07 until session 57, capped for all Box actions until session 59, sampled for all before:
    ``LEGACY_COLLECT_ACTIONS``). Under DAgger greedy fell least short of the best mode on six Box-action teachers
    (0.005 in the mean, 0.032 at most; capped 0.047 and 0.147: results/collect-actions-dagger.md; with the held-out
    ones and other budgets: results/collection-pairs.md). Student-driven, over thirteen Box-action teachers (16x16
    students, 5 seeds) capped fell least short of the best mode per teacher: 0.018 in the mean and 0.068 at most,
    against greedy's 0.037 and 0.300 (the seed-1 Walker2d-v5 teacher: greedy 0.476, capped
    0.775) and sampled's 0.068 and 0.551 (the zoo's BipedalWalker-v3 teacher: sampled 0.665, capped 1.149, greedy
    1.216); at 32x32 on two Walker2d-v5 teachers no mode leads (results/collect-actions-box{,-32x32}.md). On
    discrete actions greedy lowered a DQN LunarLander-v3 teacher's students (0.982 -> 0.920). A run records the
    resolved mode."""
    noise_cap: float = NOISE_CAP
    """capped collection's largest std, as a share of each action's half-range (the other modes ignore it)."""
    loss: PolicyLossName = "forward-kl"
    """forward-kl = KL(teacher || student), reverse-kl = KL(student || teacher), or mse on parameters."""
    bounds: BoundMode = DEFAULT_BOUND_MODE
    """Box actions: how the loss treats the bounds the env clips actions to (losses.ActionBounds)."""
    temperature: float = 1.0
    """Divides the teacher's logits (discrete actions): < 1 sharpens the target, > 1 softens it."""
    seed: int = 0
    """Seeds the student's initialisation, the envs, action sampling and minibatches."""
    n_envs: int = 8
    """Vectorised environments for collection."""
    steps_per_round: int = 5_000
    """Environment steps collected between training rounds (rounded up to whole vector steps)."""
    buffer_size: int = 100_000
    """Most states kept (oldest dropped first)."""
    updates_per_round: int = 1_000
    """Minibatch gradient steps after each collection round. 1,000 since 2026-12-05 (250 before: see
    ``LEGACY_UPDATES_PER_ROUND``): at the same env steps it lifted the students of teachers trained elsewhere that
    250 left short (TD3 Pendulum-v1 8x8 0.64 -> 1.00, DQN MountainCar-v0 8x8 0.86 -> 0.99, SAC HalfCheetah-v5
    16x16 0.71 -> 0.79: results/offpolicy-teachers.md, results/mujoco-offpolicy-teachers.md) and kept the rest
    within their seeds' spread (results/own-teachers.md, results/sweep-*-1000u.md), for 1.5-3x the distillation
    time (results/throughput.md): docs/distillation.md, "The distillation budget"."""
    batch_size: int = 256
    """Minibatch size."""
    learning_rate: float = 3e-3
    """Adam learning rate for the student's actor."""
    lr_decay: bool = False
    """Lower the rate linearly over the rounds, from ``learning_rate`` in the first to ``learning_rate / rounds``
    in the last, as one settles a fit. Off by default: it brought 16x16 HalfCheetah-v5 and Hopper-v5 students
    closer together over seeds, but cut a short (ten-round) Walker2d-v5 distillation to two thirds of its
    score (docs/kickstart.md, "Distillation's rate"). A run resumed with more ``steps`` spreads the rest of
    the decay over the new total."""
    dagger_decay: float = DAGGER_DECAY
    """DAgger: the teacher acts with probability decay**round (round 0: always)."""
    eval_episodes: int = 5
    """Evaluation episodes of the greedy student after each round (0: no per-round evaluation)."""
    keep_best: bool = False
    """End with the student of the round whose evaluation episodes returned the most instead of the last round's,
    as SB3's EvalCallback ``best_model`` and ``kickstart --keep-best`` do; the episodes are validation episodes,
    seeded apart from ``evaluate``'s. Training is the same either way. Worth many ``eval_episodes`` (the CLI
    gives it 50): a teacher whose students swing from round to round (Walker2d-v5 from plain SB3 code) loses
    less to where the budget happens to end (docs/distillation.md, "The distillation budget")."""

    def validate(self) -> None:
        if self.steps <= 0:
            raise InputError(f"--steps must be positive, got {self.steps}")
        if self.max_steps is not None and self.max_steps < self.steps:
            raise InputError(f"--max-steps ({self.max_steps}) must be at least --steps ({self.steps})")
        if self.max_steps is not None and self.lr_decay:
            raise InputError("--lr-decay spreads its decay over --steps' rounds; it cannot be combined with "
                             "--max-steps, whose rounds are not known in advance")
        if self.collect not in COLLECT_CHOICES:
            raise InputError(f"--collect must be one of {', '.join(COLLECT_CHOICES)}, got {self.collect!r}")
        if self.collect_actions not in COLLECT_ACTIONS:
            raise InputError(f"--collect-actions must be one of {', '.join(COLLECT_ACTIONS)}, got "
                             f"{self.collect_actions!r}")
        if self.loss not in POLICY_LOSSES:
            raise InputError(f"--loss must be one of {', '.join(POLICY_LOSSES)}, got {self.loss!r}")
        if self.bounds not in BOUND_MODES:
            raise InputError(f"--bounds must be one of {', '.join(BOUND_MODES)}, got {self.bounds!r}")
        if not self.student_hidden or min(self.student_hidden) <= 0:
            raise InputError(f"--student-hidden sizes must be positive, got {list(self.student_hidden)}")
        try:
            check_temperature(self.temperature)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        for name in ("n_envs", "steps_per_round", "buffer_size", "updates_per_round", "batch_size"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")
        if self.steps_per_round < self.n_envs:
            raise InputError(f"--steps-per-round ({self.steps_per_round}) must be at least --n-envs ({self.n_envs})")
        if not 0.0 < self.noise_cap < float("inf"):
            raise InputError(f"--noise-cap must be a positive share of the half-range, got {self.noise_cap}")
        if not 0.0 <= self.dagger_decay <= 1.0:
            raise InputError(f"--dagger-decay must lie in [0, 1], got {self.dagger_decay}")
        if self.keep_best and not self.eval_episodes:
            raise InputError("--keep-best chooses a round on its evaluation episodes: it needs --eval-episodes > 0")

    def continuing(self, saved: dict[str, Any] | None) -> Self:
        """These settings for a run resumed from a checkpoint of identity ``saved`` (None: a fresh run): ``auto``
        goes on collecting as the checkpoint's run did (sampled where it records no mode, as every run before the
        field; student-driven where it records no scheme), so a run begun before an auto became the default
        resumes as it began."""
        if saved is None:
            return self
        config = self
        if config.collect == "auto":
            config = replace(config, collect=saved.get("collect", LEGACY_COLLECT))
        if config.collect_actions == "auto":
            config = replace(config, collect_actions=saved.get("collect_actions", LEGACY_COLLECT_ACTIONS))
        return config

    def resolved(self, action_space: gym.Space) -> Self:
        """These settings with ``collect`` and ``collect_actions`` resolved on the env's action space (what a run
        records)."""
        return replace(self, collect=resolve_collect(self.collect, action_space),
                       collect_actions=resolve_collect_actions(self.collect_actions, action_space, self.collect))

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the checkpoint (the budget may grow)."""
        settings = json.loads(json.dumps(asdict(self)))
        if settings["collect_actions"] == LEGACY_COLLECT_ACTIONS:  # as every run before the field existed did
            del settings["collect_actions"]
        if settings["noise_cap"] == NOISE_CAP:  # likewise
            del settings["noise_cap"]
        return {k: v for k, v in settings.items() if k not in ("steps", "max_steps", "eval_episodes", "keep_best")}
