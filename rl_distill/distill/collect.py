"""Collection: roll out one task's vectorised env, the teacher labelling every state visited.

One :class:`Collector` per task serves ``distill`` (an SB3 student, on the env's normalised
observations) and ``multitask`` (a student artifact net, which normalises inside, on raw ones).
Who acts is decided per env and step: the teacher with probability ``beta``, else the student
(``beta`` = 1 teacher-driven, 0 student-driven, decaying for DAgger).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch import Tensor

from rl_distill.distill.buffer import DistillationBuffer
from rl_distill.distill.config import NOISE_CAP, action_noise, std_limit
from rl_distill.sb3.actor import Actor, greedy_actions, sample_actions
from rl_distill.sb3.envs import StepTimer


class Acting(Protocol):
    """What collection and training need from a student: distribution rows, with gradients, and sampled actions."""

    discrete: bool

    def raw_rows(self, obs: Tensor) -> Tensor: ...

    def act(self, obs: Tensor, generator: torch.Generator) -> tuple[Tensor, np.ndarray]: ...


class NetActor:
    """A student artifact net (``artifacts.student.StudentNet``) as an :class:`Actor`; it takes raw observations."""

    def __init__(self, net: torch.nn.Module) -> None:
        self.net = net
        self.discrete: bool = net.discrete

    def raw_rows(self, obs: Tensor) -> Tensor:
        params = self.net.distribution_params(obs)
        return params if self.discrete else torch.cat([params, self.net.log_std.expand_as(params)], dim=-1)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator) -> tuple[Tensor, np.ndarray]:
        rows = self.raw_rows(obs)
        actions = sample_actions(rows, self.discrete, generator)
        if not self.discrete:
            actions = torch.maximum(torch.minimum(actions, self.net.high), self.net.low)
        return rows, actions.numpy()


class Collector:
    """One task's envs, its teacher, the student acting in it and the buffer its labelled states go to.

    With ``raw_inputs`` the student and the buffer get the env's raw observations (the student
    normalises them itself); otherwise both get what the teacher sees. Whoever acts picks its actions as the
    resolved mode ``collect_actions`` says: ``noise`` is each env's share of the sampling noise it keeps (1
    sampling, 0 taking its greedy action: ``config.action_noise``), ``max_std`` the largest std it samples with, in
    half-ranges of an action (``config.std_limit``: ``noise_cap`` for capped).
    """

    def __init__(self, venv: VecEnv, teacher: Actor, student: Acting, *, capacity: int, raw_inputs: bool,
                 collect_actions: str = "sampled", noise_cap: float = NOISE_CAP) -> None:  # fmt: skip
        self.venv, self.teacher, self.student, self.raw_inputs = venv, teacher, student, raw_inputs
        self.n_envs = venv.num_envs
        self.noise, self.max_std = action_noise(collect_actions, self.n_envs), std_limit(collect_actions, noise_cap)
        space = venv.action_space
        self.half_range = ((np.asarray(space.high, dtype=np.float64) - np.asarray(space.low, dtype=np.float64)) / 2
                           if isinstance(space, gym.spaces.Box) else None)  # fmt: skip
        self.env_steps = 0
        self.timer = StepTimer(venv)  # steps go through it; ``venv`` itself stays reachable for get_original_obs
        self.obs = venv.reset()
        with torch.no_grad():
            target_dim = teacher.rows(self.flat(self.obs)).shape[1]
        self.buffer = DistillationBuffer(capacity, self.flat(self.student_obs()).shape[1], target_dim)

    @property
    def env_seconds(self) -> float:
        """Seconds spent inside the envs' ``step`` (a resumed run sets the checkpoint's total)."""
        return self.timer.seconds

    @env_seconds.setter
    def env_seconds(self, seconds: float) -> None:
        self.timer.seconds = seconds

    def flat(self, obs: np.ndarray) -> Tensor:
        return torch.as_tensor(obs, dtype=torch.float32).reshape(self.n_envs, -1)

    def student_obs(self) -> np.ndarray:
        if self.raw_inputs and isinstance(self.venv, VecNormalize):
            return self.venv.get_original_obs()
        return self.obs

    def restart(self, seed: int) -> None:
        """Fresh episodes (a resumed run: env state is not checkpointed)."""
        self.venv.seed(seed)
        self.obs = self.venv.reset()

    @staticmethod
    def per_env(values: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """One value per env, shaped to broadcast over a batch of actions."""
        return values.reshape(-1, *[1] * (actions.ndim - 1))

    def with_noise(self, rows: Tensor, sampled: np.ndarray) -> np.ndarray:
        """Each env's action at its share of the sampling noise: ``sampled`` moved that far from the greedy action of
        ``rows`` (for a Gaussian policy the mean plus the scaled noise; inside the bounds when both ends are), the
        share cut further where the std passes ``max_std`` half-ranges. Discrete actions keep sampled ones where the
        share is 1 and greedy ones elsewhere."""
        if np.all(self.noise == 1.0) and np.isinf(self.max_std):
            return sampled
        greedy = greedy_actions(rows, self.venv.action_space)
        share = self.per_env(self.noise, sampled)
        if np.issubdtype(sampled.dtype, np.integer):
            return np.where(share == 1.0, sampled, greedy)
        if not np.isinf(self.max_std):
            std = rows.chunk(2, dim=-1)[1].exp().numpy()
            with np.errstate(divide="ignore", invalid="ignore"):  # an unbounded action (infinite range) keeps its noise
                share = share * np.minimum(1.0, np.nan_to_num(self.max_std * self.half_range / std, nan=1.0))
        return np.where(share == 1.0, sampled, greedy + share * (sampled - greedy)).astype(sampled.dtype)

    def collect(self, end: int, *, budget: int, beta: float, rng: np.random.Generator,
                generator: torch.Generator, on_steps: Callable[[int], None] | None = None) -> None:  # fmt: skip
        """Step until ``end`` env steps in total; the last vector step is cut so no more than ``budget`` count."""
        while self.env_steps < end:
            take = min(self.n_envs, budget - self.env_steps)
            obs_t = self.flat(self.obs)
            student_t = self.flat(self.student_obs()) if self.raw_inputs else obs_t
            with torch.no_grad():
                rows, actions = self.teacher.act(obs_t, generator)  # the one teacher pass per state
                actions = self.with_noise(rows, actions)
                use_student = rng.random(self.n_envs) >= beta
                if use_student.any():
                    student_rows, student_actions = self.student.act(student_t, generator)
                    actions = np.where(self.per_env(use_student, actions), self.with_noise(student_rows,
                                       student_actions), actions)  # fmt: skip
            self.buffer.add(student_t[:take], rows[:take])
            self.obs, _, dones, _ = self.timer.step(actions)
            self.teacher.episode_starts(dones)
            self.env_steps += take
            if on_steps:
                on_steps(take)
