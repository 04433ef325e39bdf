"""Distillation-guided RL: SB3's PPO on the environment's reward plus λ_t · D(teacher ‖ student).

Kickstarting (Schmitt et al. 2018), Proximal Policy Distillation (Spigler 2024) and QDagger
(Agarwal et al. 2022) add a distillation term to the student's RL loss, on the student's own
rollouts, with a weight λ_t that usually falls as the student learns. :class:`KickstartPPO` is SB3's
PPO with exactly that added, and nothing of PPO rewritten:

1. :class:`TeacherRolloutBuffer`: when a rollout is complete the teacher labels every stored state in
   one batched pass (rows in env action units, as ``distill`` stores them), and each minibatch the
   buffer hands to PPO keeps its teacher rows at hand.
2. In ``train``, SB3 calls ``optimizer.zero_grad()`` right before ``loss.backward()`` on each
   minibatch. Here ``zero_grad`` is followed by the backward pass of λ · D on that same minibatch, so
   the gradient SB3 clips and applies is the gradient of PPO's loss + λ · D.

D is :func:`rl_distill.losses.policy_divergence` (categorical, or Gaussian with the bound-aware
target), averaged over the minibatch; ``ppd`` weights each state's D by max(ratio, 1 − clip_range).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import RolloutBufferSamples

from rl_distill.errors import InputError
from rl_distill.losses import ActionBounds, ActionDistribution, Categorical, PolicyLossName, policy_divergence
from rl_distill.sb3.actor import Actor, decode_rows
from rl_distill.sb3.averaging import PolicyAverage
from rl_distill.sb3.policies import actor_parameters

DistillTerm = Literal["kl", "ppd"]
DISTILL_TERMS: tuple[str, ...] = ("kl", "ppd")


@dataclass(frozen=True)
class LambdaSchedule:
    """λ_t, the weight of the distillation term, parsed from ``KIND:ARGS``.

    - ``constant:L``: L throughout.
    - ``linear:L0,L1,STEPS``: from L0 to L1 over STEPS environment steps, then L1.
    - ``exp:L0,HALF_LIFE``: L0 halved every HALF_LIFE environment steps.
    - ``adaptive:L0``: QDagger's L0 · max(0, 1 − student / teacher), on scores: returns measured
      from the random policy's, so it also works when returns are negative. Both returns come from
      sampled actions: the student's training episodes, the teacher's measured at the start.
    """

    kind: str
    values: tuple[float, ...]

    ARITY = {"constant": 1, "linear": 3, "exp": 2, "adaptive": 1}

    @classmethod
    def parse(cls, text: str) -> LambdaSchedule:
        kind, _, raw = text.partition(":")
        if kind not in cls.ARITY:
            raise InputError(f"--lambda {text!r}: the kind must be one of {', '.join(cls.ARITY)} (e.g. exp:1,50000)")
        try:
            values = tuple(float(v) for v in raw.split(","))
        except ValueError:
            raise InputError(f"--lambda {text!r}: expected {cls.ARITY[kind]} comma-separated numbers") from None
        if len(values) != cls.ARITY[kind] or not all(math.isfinite(v) and v >= 0 for v in values):
            raise InputError(f"--lambda {text!r}: {kind} takes {cls.ARITY[kind]} finite numbers >= 0")
        if kind in ("linear", "exp") and values[-1] == 0:
            raise InputError(f"--lambda {text!r}: the step count must be positive")
        return cls(kind, values)

    def __call__(self, step: int, student_score: float | None = None) -> float:
        if self.kind == "constant":
            return self.values[0]
        if self.kind == "linear":
            start, end, steps = self.values
            return start + (end - start) * min(step / steps, 1.0)
        if self.kind == "exp":
            return self.values[0] * 0.5 ** (step / self.values[1])
        return self.values[0] * (1.0 if student_score is None else max(0.0, 1.0 - student_score))

    def __str__(self) -> str:
        return f"{self.kind}:{','.join(f'{v:g}' for v in self.values)}"


@dataclass(frozen=True)
class Guide:
    """The teacher and how it pulls the student: what :class:`KickstartPPO` adds to PPO."""

    teacher: Actor
    schedule: LambdaSchedule
    term: DistillTerm = "kl"
    loss: PolicyLossName = "forward-kl"
    temperature: float = 1.0
    bounds: ActionBounds | None = None
    reference: tuple[float, float] | None = None
    """For the ``adaptive`` schedule: the teacher's and the random policy's returns on the task, measured at
    the start with sampled actions, between which :meth:`score` places the student's."""

    def score(self, mean_return: float) -> float:
        """A return as a score: 0 at the random policy's, 1 at the teacher's (``reference``)."""
        assert self.reference is not None
        teacher, random = self.reference
        return (mean_return - random) / (teacher - random or 1.0)

    def divergence(self, policy: Any, samples: RolloutBufferSamples, teacher_rows: torch.Tensor,
                   clip_range: float) -> torch.Tensor:  # fmt: skip
        """The minibatch's distillation term D (before λ), with gradients for the student only."""
        student = Actor(policy)
        current = decode_rows(student.raw_rows(samples.observations), student.discrete)
        per_state = policy_divergence(decode_rows(teacher_rows, student.discrete), current, loss=self.loss,
                                      temperature=self.temperature, bounds=self.bounds)  # fmt: skip
        if self.term == "ppd":
            ratio = torch.exp(log_prob(current, samples.actions) - samples.old_log_prob)
            per_state = torch.clamp(ratio, min=1.0 - clip_range) * per_state
        return per_state.mean()


def log_prob(dist: ActionDistribution, actions: torch.Tensor) -> torch.Tensor:
    """log pi(a | s) of the rollout's actions, as SB3's (unsquashed) PPO policy computes it."""
    if isinstance(dist, Categorical):
        return torch.log_softmax(dist.logits, dim=-1).gather(-1, actions.long().reshape(-1, 1)).squeeze(-1)
    return torch.distributions.Normal(dist.mean, dist.log_std.exp()).log_prob(actions).sum(dim=-1)


class TeacherRolloutBuffer(RolloutBuffer):
    """SB3's rollout buffer plus the teacher's distribution row for every stored state."""

    teacher_rows: np.ndarray
    last_batch: tuple[RolloutBufferSamples, torch.Tensor] | None = None

    def label(self, teacher: Actor) -> None:
        """One batched teacher pass over the whole rollout, once per stored state."""
        obs = torch.as_tensor(self.observations.reshape(self.buffer_size * self.n_envs, -1), dtype=torch.float32)
        with torch.no_grad():
            rows = teacher.rows(obs)
        self.teacher_rows = rows.numpy().reshape(self.buffer_size, self.n_envs, -1)

    def get(self, batch_size: int | None = None):  # noqa: ANN201  (SB3's generator type)
        if not self.generator_ready:  # SB3 flattens its arrays (env-major) on the first call; same order here
            self.teacher_rows = self.swap_and_flatten(self.teacher_rows)
        yield from super().get(batch_size)

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> RolloutBufferSamples:
        samples = super()._get_samples(batch_inds, env)
        self.last_batch = (samples, self.to_torch(self.teacher_rows[batch_inds]))
        return samples


class KickstartPPO(PPO):
    """SB3's PPO whose loss gains λ_t · D(teacher ‖ student) on each minibatch of its own rollouts."""

    def __init__(self, *args: Any, guide: Guide | None = None, critic_warmup: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, rollout_buffer_class=TeacherRolloutBuffer, **kwargs)
        self.guide = guide
        self.critic_warmup = critic_warmup
        """Environment steps at the start whose updates train only the value function (the policy is held)."""
        self.update_log: list[dict[str, float]] = []
        self.average: PolicyAverage | None = None
        """The average of the policy's iterates, updated after each update (``--average-steps``)."""

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "guide", "update_log", "average"]

    def collect_rollouts(self, env: Any, callback: Any, rollout_buffer: Any, n_rollout_steps: int) -> bool:
        complete = super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        if complete and self.guide is not None:
            rollout_buffer.label(self.guide.teacher)
        return complete

    def distill_weight(self) -> tuple[float, float | None]:
        """λ now, and the student's score it came from (adaptive schedule: its recent training episodes)."""
        assert self.guide is not None
        episodes = self.ep_info_buffer or []
        score = None
        if self.guide.reference is not None and episodes:
            score = self.guide.score(float(np.mean([e["r"] for e in episodes])))
        return self.guide.schedule(self.num_timesteps, score), score

    def train(self) -> None:
        # num_timesteps already counts the rollout this update learns from
        held = actor_parameters(self.policy) if self.num_timesteps <= self.critic_warmup else []
        for param in held:  # no gradient reaches the policy, so PPO's step moves only the critic
            param.requires_grad_(False)
        try:
            self.guided_train(warming_up=bool(held))
        finally:
            for param in held:
                param.requires_grad_(True)
        if self.average is not None:
            self.average.update()

    def guided_train(self, *, warming_up: bool) -> None:
        """SB3's PPO update, its gradient plus λ · D's (λ = 0 while only the critic warms up)."""
        if self.guide is None:
            return super().train()
        weight, score = (0.0, None) if warming_up else self.distill_weight()
        clip_range = float(self.clip_range(self._current_progress_remaining))
        optimizer, terms = self.policy.optimizer, []

        def zero_grad_then_distil(set_to_none: bool = True) -> None:
            type(optimizer).zero_grad(optimizer, set_to_none=set_to_none)
            samples, rows = self.rollout_buffer.last_batch
            term = self.guide.divergence(self.policy, samples, rows, clip_range)
            if weight > 0:
                (weight * term).backward()
            terms.append(float(term.detach()))

        optimizer.zero_grad = zero_grad_then_distil  # only for this update; SB3's own method comes back below
        try:
            super().train()
        finally:
            del optimizer.zero_grad
        record = {"env_steps": self.num_timesteps, "lambda": weight, "distill_term": float(np.mean(terms))}
        if score is not None:
            record["student_score"] = score
            self.logger.record("train/distill_student_score", score)
        record.update({key.split("/")[1]: float(value) for key, value in self.logger.name_to_value.items()
                       if key.startswith("train/")})  # fmt: skip
        self.logger.record("train/distill_lambda", weight)
        self.logger.record("train/distill_term", record["distill_term"])
        self.update_log.append(record)
