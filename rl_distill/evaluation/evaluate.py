"""Episode-return evaluation on fixed seeds, through SB3's ``evaluate_policy``.

Seeds start at :data:`rl_distill.sb3.envs.EVAL_SEED`, far from training seeds. Anyone can reproduce a
figure with plain SB3: ``PPO.load(zip)``, ``make_vec_env(env_id, n_envs=EVAL_ENVS, seed=EVAL_SEED)``
(wrapped in the model's frozen VecNormalize if it has one) and ``evaluate_policy(...,
return_episode_rewards=True)``. Learning curves use other seeds (:data:`rl_distill.sb3.envs.VALIDATION_SEED`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from rl_distill.errors import InputError
from rl_distill.progress import Progress
from rl_distill.sb3.actor import Actor
from rl_distill.sb3.envs import EVAL_SEED, VALIDATION_SEED, make_env
from rl_distill.sb3.policies import LoadedPolicy, load_policy

EVAL_ENVS = 10
Z_95 = 1.959964


@dataclass(frozen=True)
class EvalResult:
    """Returns of ``episodes`` evaluation episodes and their summary."""

    mean_return: float
    std_return: float
    min_return: float
    max_return: float
    ci95: tuple[float, float]
    """Normal-approximation 95% confidence interval of the mean return."""
    episodes: int
    deterministic: bool
    returns: list[float]
    mean_length: float

    @classmethod
    def from_returns(cls, returns: list[float], lengths: list[int], deterministic: bool) -> EvalResult:
        values = np.asarray(returns, dtype=np.float64)
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        half = Z_95 * std / math.sqrt(len(values))
        mean = float(values.mean())
        return cls(mean_return=mean, std_return=std, min_return=float(values.min()),
                   max_return=float(values.max()), ci95=(mean - half, mean + half), episodes=len(values),
                   deterministic=deterministic, returns=[float(r) for r in values],
                   mean_length=float(np.mean(lengths)))  # fmt: skip


class RandomAgent:
    """A uniformly random policy with SB3's ``predict`` signature: the score's zero point."""

    def __init__(self, action_space: gym.Space, seed: int) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, None]:  # fmt: skip
        return np.stack([self.action_space.sample() for _ in range(len(observation))]), None


class EpisodeProgress(VecEnvWrapper):
    """Moves ``progress`` by one for each episode that ends, up to its total (``evaluate_policy`` lets an env that
    has run its share of episodes go on stepping); the env steps taken show beside it, so an episode that never
    ends shows as steps that grow while the count stands still."""

    def __init__(self, venv: VecEnv, progress: Progress) -> None:
        super().__init__(venv)
        self.progress, self.env_steps = progress, 0

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        self.env_steps += self.num_envs
        ended = min(int(np.sum(dones)), self.progress.total - self.progress.count)
        self.progress.update(ended, env_steps=f"{self.env_steps:,}")
        return obs, rewards, dones, infos


def run_episodes(agent: Any, venv: Any, episodes: int, deterministic: bool, progress: str | None = None) -> EvalResult:
    """``episodes`` episodes of ``agent`` in ``venv`` (closed after); ``progress`` names a bar of the episodes."""
    bar = Progress(episodes, progress or "", enabled=progress is not None, line_every=0.25, unit="episode")
    try:
        returns, lengths = evaluate_policy(agent, EpisodeProgress(venv, bar) if progress else venv,
                                           n_eval_episodes=episodes, deterministic=deterministic,
                                           return_episode_rewards=True, warn=False)  # fmt: skip
    finally:
        bar.close()
        venv.close()
    return EvalResult.from_returns(list(returns), list(lengths), deterministic)


class Agent(Protocol):
    """Anything that acts like an SB3 model and knows which env view (raw or normalised) it expects."""

    path: Path

    def predict(self, obs: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> Any: ...  # fmt: skip

    def make_env(self, env_id: str, *, n_envs: int, seed: int) -> VecEnv: ...


@dataclass(frozen=True)
class RawObservationAgent:
    """A student that normalises inside (a .safetensors artifact or an ONNX export): it sees raw envs."""

    policy: Any
    path: Path
    observation_shape: tuple[int, ...]

    def predict(self, obs: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True) -> Any:
        return self.policy.predict(obs, state, episode_start, deterministic)

    def make_env(self, env_id: str, *, n_envs: int, seed: int) -> VecEnv:
        venv = make_env(env_id, n_envs=n_envs, seed=seed)
        if tuple(venv.observation_space.shape) != self.observation_shape:
            raise InputError(f"{self.path}: observations of shape {self.observation_shape} do not match "
                             f"{env_id}'s {venv.observation_space.shape}")  # fmt: skip
        return venv


def load_agent(path: Path, env_id: str, *, vecnormalize: Path | None = None, task: str | None = None) -> Agent:
    """An SB3 zip, a ``.safetensors`` student (of a multi-task student, the ``task``) or an exported
    ``.onnx`` student, by file suffix."""
    if path.suffix.lower() == ".safetensors":
        from rl_distill.artifacts.student import load_student, observation_shape

        student = load_student(path).for_task(task)
        return RawObservationAgent(student, path, observation_shape(student.header["observation_space"]))
    if path.suffix.lower() == ".onnx":
        from rl_distill.artifacts.export import load_onnx

        onnx = load_onnx(path)
        return RawObservationAgent(onnx, path, tuple(int(d) for d in onnx.obs_shape))
    return load_policy(path, env_id, vecnormalize=vecnormalize)


def evaluate(policy: Agent, env_id: str, *, episodes: int = 100, deterministic: bool = True,
             seed: int = EVAL_SEED, progress: str | None = None) -> EvalResult:  # fmt: skip
    """``episodes`` evaluation episodes; ``progress`` names a bar of them (the command line's long evaluations)."""
    venv = policy.make_env(env_id, n_envs=min(EVAL_ENVS, episodes), seed=seed)
    return run_episodes(policy, venv, episodes, deterministic, progress)


def evaluate_random(env_id: str, *, episodes: int = 100, seed: int = EVAL_SEED) -> EvalResult:
    venv = make_env(env_id, n_envs=min(EVAL_ENVS, episodes), seed=seed)
    return run_episodes(RandomAgent(venv.action_space, seed), venv, episodes, deterministic=False)


def predict_latency_us(policy: Agent, env_id: str, repeats: int = 300) -> float:
    """Median microseconds per ``predict`` on one observation (batch 1), what a deployer pays."""
    venv = policy.make_env(env_id, n_envs=1, seed=EVAL_SEED)
    obs = venv.reset()
    venv.close()
    for _ in range(20):
        policy.predict(obs, deterministic=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        policy.predict(obs, deterministic=True)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e6)


class GreedyActor:
    """A model's greedy actions through :class:`rl_distill.sb3.actor.Actor` (no SB3 ``predict`` overhead),
    with ``predict``'s signature so ``evaluate_policy`` runs it; the actions are the same."""

    def __init__(self, model: Any) -> None:
        self.actor = Actor(model.policy)

    def predict(self, obs: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:  # fmt: skip
        batch = torch.as_tensor(obs, dtype=torch.float32).reshape(len(obs), -1)
        with torch.no_grad():
            return self.actor.greedy(batch), None


def greedy_return_of(policy: LoadedPolicy, env_id: str, episodes: int) -> Any:
    """A callable giving a model's mean greedy return in ``policy``'s observation space (learning curves): the
    same validation episodes each call, so points differ by the model alone."""

    def mean_return(model: Any) -> float:
        venv = policy.make_env(env_id, n_envs=min(EVAL_ENVS, episodes), seed=VALIDATION_SEED)
        return run_episodes(GreedyActor(model), venv, episodes, deterministic=True).mean_return

    return mean_return
