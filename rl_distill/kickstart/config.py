"""Every setting of one kickstarted run, checked: ``KickstartConfig``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from rl_distill.errors import InputError
from rl_distill.kickstart.ppo import DISTILL_TERMS, DistillTerm, LambdaSchedule
from rl_distill.losses import BOUND_MODES, DEFAULT_BOUND_MODE, BoundMode, check_temperature
from rl_distill.sb3.training import BEST_EPISODES, CURVE_EPISODES, CURVE_INTERVALS

KL_DIRECTIONS = {"forward": "forward-kl", "reverse": "reverse-kl"}
CRITIC_INITS = ("fresh", "teacher")


@dataclass(frozen=True)
class KickstartConfig:
    """Every setting of one kickstarted run (PPO's own come from the env's preset)."""

    env_id: str
    """The task: a Gymnasium id, or ``ID:{json kwargs}`` for changed dynamics."""
    student_hidden: tuple[int, ...] = (16, 16)
    """Student policy (and value) MLP hidden sizes."""
    critic_hidden: tuple[int, ...] | None = None
    """Value-function MLP hidden sizes; None: the student's. The critic serves PPO's training only (the artifact and
    the parameter count are the policy's), so it can be larger than the policy it trains. On HalfCheetah-v5 a 256x256
    critic fitted the returns 2-5 times sooner than a 16x16 one, though its students ended no surer to reach 0.95,
    and on Hopper-v5 lower (docs/kickstart.md)."""
    critic_init: str = "fresh"
    """fresh: the value function starts untrained (of ``critic_hidden`` sizes); teacher: it starts as the
    teacher's (its sizes and weights; an SB3 actor-critic teacher of the student's activation), and PPO sees the
    rewards as the teacher's PPO saw them (raw, or scaled from the teacher's running statistics), the scale of its
    values. From the imperfect LunarLander-v3 teacher it took 16x16 students to score 0.9 after 250,000 steps
    instead of 350,000, as a fresh critic of its size did; from Hopper-v5's preset teacher it lifted ten distilled
    16x16 students from 1.083 (two seeds under 0.95) to 1.206 (none) (docs/kickstart.md)."""
    timesteps: int = 300_000
    """Environment steps of PPO."""
    schedule: str = "adaptive:1"
    """λ_t: constant:L, linear:L0,L1,STEPS, exp:L0,HALF_LIFE or adaptive:L0 (see LambdaSchedule)."""
    distill_term: DistillTerm = "kl"
    """kl: mean D over the minibatch; ppd: each state's D weighted by max(ratio, 1 - clip_range)."""
    kl: str = "forward"
    """forward: KL(teacher || student); reverse: KL(student || teacher)."""
    temperature: float = 1.0
    """Divides the teacher's logits (discrete actions)."""
    bounds: BoundMode = DEFAULT_BOUND_MODE
    """Box actions: the bound mode of D, as in distill."""
    seed: int = 0
    """Seeds PPO (student initialisation, envs, sampling)."""
    init: str | None = None
    """Start from this student (.zip or .safetensors, e.g. from distill) instead of a fresh one."""
    critic_warmup: int = 0
    """Environment steps at the start in which PPO trains only the value function, the policy held (no
    distillation term either): with ``init`` the critic starts fresh and its first advantages are noise."""
    learning_rate: float | None = None
    """PPO's learning rate; None keeps the preset's (tuned for the teacher's network, not the student's)."""
    lr_decay: bool = False
    """Decay PPO's learning rate linearly to 0 over ``timesteps`` (a preset's ``lin_`` rate already does)."""
    log_std_init: float | None = None
    """Box actions: the student's Gaussian log std at the start (after ``init``); None keeps the init's (distill
    copies the teacher's) or a fresh student's. A small student can be far less robust to the teacher's
    exploration noise than the teacher is, and PPO then spends its updates on failures its greedy policy
    rarely meets (on HalfCheetah-v5, -3.5 moved seeds both ways: docs/kickstart.md)."""
    reference_episodes: int = 100
    """``adaptive`` schedule: episodes (the same seeded ones each run) of the teacher's and the random policy's
    sampled returns that the student's score runs between; as many as the window of the student's training
    episodes it is compared with (SB3's ``stats_window_size``). Few episodes of a teacher whose returns vary a
    lot give a reference off by a fixed amount for the whole run (10, the default until 2026-12, held a weak
    A2C teacher's students at its level: docs/kickstart.md)."""
    scale_rewards: bool | None = True
    """PPO learns from rewards divided by a running estimate of the discounted return's std (SB3's VecNormalize;
    observations stay the teacher's); False: raw rewards; None: as the teacher's PPO did (see run.scales_rewards; the
    default until 2026-12, kept by the benchmarks for their finished runs). A small critic is slow to fit raw
    returns in the hundreds (LunarLander-v3, 16x16: explained variance first 0.5 after 311k-606k steps, 82k-115k
    when scaled), and its advantages are noise until then; on the raw-reward tasks measured, kickstart on scaled
    rewards ended level with raw ones (within 0.001 of score) or higher (docs/kickstart.md). PPO from scratch on
    such a task wants the same setting (train_ppo's scale_rewards)."""
    average_steps: int | None = None
    """Evaluate, keep and save an exponential moving average of PPO's iterates (the actor's weights) with a time
    constant of this many environment steps, PPO training its own iterate (rl_distill.sb3.averaging); None: the
    iterate itself. Meant for PPO's noisy iterates near a good policy; with 30,000 the averaged HalfCheetah-v5 and
    Hopper-v5 students scored lower than the iterates (0.916 against 0.941, 0.959 against 1.124; docs/kickstart.md):
    their gains come in jumps an average lags."""
    keep_best: bool = True
    """Write the policy of the best learning-curve point (validation episodes, apart from evaluation's) instead
    of the last (see rl_distill.sb3.training.BestPolicy). After ``init`` its own point is a candidate, so that a
    fine-tuned student never validates below the one it started from. On by default since 2026-12 (after ``init``
    first, then for fresh students too): it raised the mean score on every teacher measured from a distilled
    student, and on fresh ones moved it by +0.07 to -0.01 (docs/kickstart.md)."""
    eval_every: int | None = None
    """Environment steps between greedy evaluations for the learning curve; None: a twentieth of ``timesteps``
    (21 points with the start, as the benchmarks draw them), which bounds what BEST_EPISODES per point cost. A point
    whose policy has had no update since the last one is skipped (a preset's rollout longer than the interval)."""
    eval_episodes: int | None = None
    """Episodes per learning-curve evaluation; None: BEST_EPISODES when the run keeps its best point (few make
    the choice noisy), CURVE_EPISODES otherwise."""
    checkpoint_every: int = 50_000
    """Environment steps between checkpoints (and one on Ctrl-C)."""

    def resolved(self) -> KickstartConfig:
        """This config with the curve's settings as the run uses them (None defaults decided)."""
        episodes = self.eval_episodes or (BEST_EPISODES if self.keep_best else CURVE_EPISODES)
        every = self.eval_every or max(self.timesteps // CURVE_INTERVALS, 1)
        return replace(self, eval_episodes=episodes, eval_every=every)

    def validate(self) -> LambdaSchedule:
        for name in ("timesteps", "eval_every", "eval_episodes", "checkpoint_every", "reference_episodes",
                     "average_steps"):
            if (value := getattr(self, name)) is not None and value <= 0:  # None: decided by resolved()
                raise InputError(f"{name} must be positive, got {value}")
        if self.learning_rate is not None and not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise InputError(f"--learning-rate must be a positive number, got {self.learning_rate}")
        if self.log_std_init is not None and not math.isfinite(self.log_std_init):
            raise InputError(f"--log-std-init must be a finite number, got {self.log_std_init}")
        if self.critic_init not in CRITIC_INITS:
            raise InputError(f"--critic-init must be one of {', '.join(CRITIC_INITS)}, got {self.critic_init!r}")
        if self.critic_init == "teacher" and self.critic_hidden is not None:
            raise InputError("--critic-hidden and --critic-init teacher: the teacher's critic comes with its own "
                             "sizes; give one of the two")  # fmt: skip
        if self.critic_warmup < 0:
            raise InputError(f"--critic-warmup must be >= 0, got {self.critic_warmup}")
        if self.distill_term not in DISTILL_TERMS:
            raise InputError(f"--distill-term must be one of {', '.join(DISTILL_TERMS)}, got {self.distill_term!r}")
        if self.kl not in KL_DIRECTIONS:
            raise InputError(f"--kl must be forward or reverse, got {self.kl!r}")
        if self.bounds not in BOUND_MODES:
            raise InputError(f"--bounds must be one of {', '.join(BOUND_MODES)}, got {self.bounds!r}")
        try:
            check_temperature(self.temperature)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return LambdaSchedule.parse(self.schedule)

    def identity(self) -> dict[str, Any]:
        settings = json.loads(json.dumps(asdict(self)))
        return {k: v for k, v in settings.items() if k not in ("timesteps", "eval_every", "eval_episodes",
                                                                "checkpoint_every")}  # fmt: skip
