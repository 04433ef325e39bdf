"""Environment construction: id checks, vectorised envs, frozen observation normalisation."""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from rl_distill.errors import InputError, note_once

EVAL_SEED = 1_000_003
"""Evaluation episodes are seeded from here; training seeds are small integers, so they never meet."""
VALIDATION_SEED = 2_000_003
"""Learning-curve episodes are seeded from here, apart from evaluation's: a run that keeps its best curve point
(``keep_best``) is chosen on episodes its reported figure never sees."""


def split_env(env: str) -> tuple[str, dict[str, Any]]:
    """``"LunarLander-v3"`` or ``'LunarLander-v3:{"enable_wind": true}'`` -> (id, kwargs for ``gymnasium.make``).

    One string names a task everywhere (commands, sweeps, artifacts), changed dynamics included.
    """
    env_id, sep, raw = env.partition(":{")
    if not sep:
        return env, {}
    try:
        kwargs = json.loads("{" + raw)
    except ValueError:
        raise InputError(f"{env}: the env kwargs after ':' are not valid JSON") from None
    if not isinstance(kwargs, dict):
        raise InputError(f"{env}: the env kwargs must be a JSON object")
    return env_id, kwargs


def join_env(env_id: str, kwargs: dict[str, Any] | None) -> str:
    """The task string of :func:`split_env`, with the kwargs in one canonical form (sorted keys)."""
    return f"{env_id}:{json.dumps(kwargs, sort_keys=True)}" if kwargs else env_id


def check_env_id(env: str) -> gym.envs.registration.EnvSpec:
    """The registered spec of the task's env id, or an InputError listing close matches.

    A user's own env is named as ``gymnasium.make`` names it, ``"my_package.envs:MyEnv-v0"``: the module
    is imported first, so that its ``register`` calls run.
    """
    env_id, _ = split_env(env)
    module, _, registered_id = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise InputError(f"{env_id}: cannot import {module!r}, the module that registers it ({exc})") from None
    try:
        return gym.spec(registered_id)
    except Exception:  # gymnasium raises several error types for unknown or deprecated ids
        close = difflib.get_close_matches(registered_id, list(gym.registry), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown environment id {env_id!r}{hint}") from None


@functools.cache
def action_space(env: str) -> gym.Space:
    """The task's action space, from one env made and closed (what a run's settings resolve against before it
    makes its own envs)."""
    check_env_id(env)
    name, kwargs = split_env(env)
    made = gym.make(name, **kwargs)
    try:
        return made.action_space
    finally:
        made.close()


def make_env(
    env_id: str,
    *,
    n_envs: int,
    seed: int,
    normalize: VecNormalize | Path | None = None,
) -> VecEnv:
    """A vectorised env of the task ``env_id`` (see :func:`split_env`); ``normalize`` (statistics or a
    saved ``.pkl``) is applied frozen.

    Frozen means observations are normalised with fixed statistics and rewards are left alone,
    which is what a teacher, its students and every evaluation must all see.
    """
    spec = check_env_id(env_id)
    name, kwargs = split_env(env_id)
    if spec.max_episode_steps is None and "max_episode_steps" not in kwargs:
        note_once(f"time limit {env_id}", f"{name} sets no time limit: an episode lasts until the env ends it, so "
                  "evaluating a policy that never ends one does not finish; --env-kwargs "
                  "'{\"max_episode_steps\": 1000}' sets one")  # fmt: skip
    try:
        venv = make_vec_env(name, n_envs=n_envs, seed=seed, env_kwargs=without_rendering(spec, kwargs))
    except gym.error.DependencyNotInstalled as exc:
        raise InputError(f"{name} needs an extra dependency: {exc}") from None
    except TypeError as exc:  # gymnasium.make passes unknown kwargs on to the env's constructor
        raise InputError(f"{name} does not accept the env kwargs {kwargs}: {exc}") from None
    if normalize is None:
        return venv
    if isinstance(normalize, Path):
        normalize = load_vecnormalize(normalize, venv)
    return freeze_normalization(normalize, venv)


def without_rendering(spec: gym.envs.registration.EnvSpec, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` plus ``render_mode=None`` where the env takes a render mode and the user named none.

    SB3's ``make_vec_env`` asks for ``render_mode="rgb_array"`` otherwise, and some envs then simulate
    decorations: LunarLander adds a Box2D body per engine particle, which makes its steps about 4x slower
    with bit-identical trajectories. Nothing here renders.
    """
    if "render_mode" in kwargs:
        return kwargs
    creator = spec.entry_point if callable(spec.entry_point) else load_env_creator(spec.entry_point)
    try:
        takes_render_mode = "render_mode" in inspect.signature(creator).parameters
    except (TypeError, ValueError):  # a builtin or C extension without a signature
        takes_render_mode = False
    return {"render_mode": None, **kwargs} if takes_render_mode else kwargs


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


class StepTimer(VecEnvWrapper):
    """Adds up the seconds spent inside the wrapped envs' ``step``, so a run's time splits into the
    environment's and its own (the states a policy visits can cost very different amounts to simulate)."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.seconds = 0.0
        self._started = 0.0

    def reset(self) -> Any:
        return self.venv.reset()

    def step_async(self, actions: np.ndarray) -> None:
        self._started = time.perf_counter()
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        out = self.venv.step_wait()
        self.seconds += time.perf_counter() - self._started
        return out
