"""Environment construction: id checks, vectorised envs, frozen observation normalisation."""

from __future__ import annotations

import difflib
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rl_distill.errors import InputError

EVAL_SEED = 1_000_003
"""Evaluation episodes are seeded from here; training seeds are small integers, so they never meet."""


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec:
    """The registered spec of ``env_id``, or an InputError listing close matches."""
    try:
        return gym.spec(env_id)
    except Exception:  # gymnasium raises several error types for unknown or deprecated ids
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown environment id {env_id!r}{hint}") from None


def make_env(
    env_id: str,
    *,
    n_envs: int,
    seed: int,
    normalize: VecNormalize | Path | None = None,
) -> VecEnv:
    """A vectorised env; ``normalize`` (statistics or a saved ``.pkl``) is applied frozen.

    Frozen means observations are normalised with fixed statistics and rewards are left alone,
    which is what a teacher, its students and every evaluation must all see.
    """
    check_env_id(env_id)
    try:
        venv = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    except gym.error.DependencyNotInstalled as exc:
        raise InputError(f"{env_id} needs an extra dependency: {exc}") from None
    if normalize is None:
        return venv
    if isinstance(normalize, Path):
        normalize = load_vecnormalize(normalize, venv)
    return freeze_normalization(normalize, venv)


def load_vecnormalize(path: Path, venv: VecEnv) -> VecNormalize:
    try:
        return VecNormalize.load(str(path), venv)
    except Exception as exc:
        raise InputError(f"{path}: not a loadable VecNormalize file ({type(exc).__name__})") from None


def freeze_normalization(stats: VecNormalize, venv: VecEnv) -> VecNormalize:
    """A VecNormalize around ``venv`` sharing ``stats``' observation statistics, never updating them."""
    if stats.observation_space.shape != venv.observation_space.shape:
        raise InputError(
            f"normalisation statistics are for observations of shape {stats.observation_space.shape}, "
            f"the env has {venv.observation_space.shape}"
        )
    frozen = VecNormalize(venv, training=False, norm_obs=stats.norm_obs, norm_reward=False,
                          clip_obs=stats.clip_obs, epsilon=stats.epsilon, gamma=stats.gamma)  # fmt: skip
    frozen.obs_rms = stats.obs_rms
    return frozen


def spaces_match(a: gym.Space, b: gym.Space) -> bool:
    """Same kind and shape (and number of actions); bounds may differ in float precision."""
    if type(a) is not type(b):
        return False
    if isinstance(a, gym.spaces.Discrete):
        return int(a.n) == int(b.n)
    if isinstance(a, gym.spaces.Box):
        return a.shape == b.shape and np.allclose(a.low, b.low) and np.allclose(a.high, b.high)
    return a == b
