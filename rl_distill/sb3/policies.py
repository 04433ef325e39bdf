"""Teachers and students as Stable-Baselines3 policies.

A student is an SB3 ``ActorCriticPolicy`` with a small ``net_arch``, saved as a PPO model, so
``PPO.load`` and ``evaluate_policy`` work on it as on any SB3 agent. Observation-normalisation
statistics travel beside each model as ``vecnormalize.pkl`` (the rl-baselines3-zoo layout).
"""

from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from stable_baselines3.dqn.policies import DQNPolicy
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy
from torch import Tensor, nn

from rl_distill.errors import InputError, note_once
from rl_distill.sb3.actor import TEACHER_POLICIES, Actor, check_supported_spaces, greedy_actions
from rl_distill.sb3.envs import load_vecnormalize, make_env, spaces_match

VECNORMALIZE_NAME = "vecnormalize.pkl"


@dataclass(frozen=True)
class LoadedPolicy:
    """An SB3 model and the observation statistics its inputs must be normalised with."""

    model: BaseAlgorithm
    path: Path
    normalization: VecNormalize | None

    @property
    def policy(self) -> BasePolicy:
        return self.model.policy

    def predict(self, obs: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True) -> Any:
        return self.model.predict(obs, state, episode_start, deterministic)

    def make_env(self, env_id: str, *, n_envs: int, seed: int) -> VecEnv:
        """An env whose observations look to this policy as they did in training."""
        venv = make_env(env_id, n_envs=n_envs, seed=seed, normalize=self.normalization)
        check_supported_spaces(venv.observation_space, venv.action_space, f"{self.path} on {env_id}")
        check_spaces(self.model, venv, self.path, env_id)
        return venv

    def visited_rows(self, env_id: str, *, vector_steps: int, n_envs: int, seed: int,
                     generator: torch.Generator | None = None) -> Tensor:  # fmt: skip
        """The policy's distribution rows (``Actor.rows``) on the states of its own rollouts, one row per env and
        vector step: it acts with sampled actions drawn from ``generator``, or greedily without one."""
        venv = self.make_env(env_id, n_envs=n_envs, seed=seed)
        actor, obs, rows = Actor(self.policy, n_envs=n_envs), venv.reset(), []
        with torch.no_grad():
            for _ in range(vector_steps):
                obs_t = torch.as_tensor(obs, dtype=torch.float32).reshape(n_envs, -1)
                if generator is None:
                    rows.append(actor.rows(obs_t))
                    actions = greedy_actions(rows[-1], venv.action_space)
                else:
                    step_rows, actions = actor.act(obs_t, generator)
                    rows.append(step_rows)
                obs = venv.step(actions)[0]
        venv.close()
        return torch.cat(rows)


def statistics_path(model_path: Path) -> Path:
    """Where a model's own statistics live: ``<dir>/<stem>/vecnormalize.pkl`` (ours, and the zoo's)."""
    return model_path.parent / model_path.stem / VECNORMALIZE_NAME


def find_vecnormalize(model_path: Path, env_id: str | None = None) -> Path | None:
    """The statistics that belong to a model, or a visible fallback found beside it.

    A model's own statistics win: ``<stem>/vecnormalize.pkl``, or a file beside it named after it
    (``<stem>_vecnormalize.pkl``, ``<stem>_vec_normalize.pkl``, ``-`` for ``_`` too: what plain SB3 scripts
    write with ``env.save(f"{name}_vecnormalize.pkl")``). A student artifact ``<stem>.safetensors`` beside the
    zip says for itself whether its model was normalised, so a student saved without statistics never
    picks up a teacher's. Otherwise a file beside it as the zoo, SB3's docs and the Hugging Face Hub name it
    (``<dir>/vecnormalize.pkl``, ``<dir>/vec_normalize.pkl``, ``<dir>/<env>/vecnormalize.pkl``) is used, with a
    note on stderr, since nothing ties it to this model.
    """
    own = statistics_path(model_path)
    named = [model_path.with_name(f"{model_path.stem}{sep}{name}.pkl")
             for name in ("vecnormalize", "vec_normalize") for sep in "_-"]  # fmt: skip
    if found := next((c for c in (own, *named) if c.is_file()), None):
        return found
    artifact = model_path.with_suffix(".safetensors")
    if artifact.is_file():
        from rl_distill.artifacts.student import load_student

        if load_student(artifact).header.get("normalization") is None:
            return None
    folder = model_path.parent
    candidates = [folder / VECNORMALIZE_NAME, folder / "vec_normalize.pkl"]
    candidates += [folder / env_id / VECNORMALIZE_NAME] if env_id else []
    found = next((c for c in candidates if c.is_file()), None)
    if found is not None:
        note_once(f"statistics of {model_path}", f"{model_path} has no statistics of its own ({own}); using {found} "
                  "found beside it (pass --vecnormalize to choose)")  # fmt: skip
    elif others := sorted(folder.glob("*vec*norm*.pkl")):  # without its statistics a model sees inputs it never saw
        note_once(f"statistics of {model_path}", f"{model_path}: no statistics read (none at {own}); if "
                  f"{others[0].name} beside it is this model's, pass --vecnormalize {others[0]} (multitask: --task "
                  f"ENV={model_path},{others[0]}), or copy it to {own}")  # fmt: skip
    return found


ALGORITHMS: dict[str, tuple[type[BaseAlgorithm], ...]] = {
    "stable_baselines3.common.policies": (PPO, A2C), "stable_baselines3.ppo.policies": (PPO,),
    "stable_baselines3.a2c.policies": (A2C,), "stable_baselines3.dqn.policies": (DQN,),
    "stable_baselines3.sac.policies": (SAC,), "stable_baselines3.td3.policies": (TD3, DDPG),
}  # fmt: skip
"""The SB3 algorithms that may have saved a zip, by the module of the policy class it names."""


def policy_module(path: Path) -> str | None:
    """The module of the policy class a zip names (``stable_baselines3.sac.policies``, ``sb3_contrib.tqc.policies``
    ...), or None when the zip does not say."""
    try:
        with zipfile.ZipFile(path) as archive:
            return str(json.loads(archive.read("data"))["policy_class"]["__module__"])
    except (KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return None


def load_policy(path: str | Path, env_id: str, *, vecnormalize: str | Path | None = None) -> LoadedPolicy:
    """Load an SB3 zip (teacher or student: PPO or A2C; a teacher may also be DQN, SAC, TD3 or DDPG) and its
    normalisation statistics."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not an SB3 model (.zip) file; truncated or wrong file?")
    note_once("pickle", f"SB3 .zip files run pickle when loaded; load only files from a trusted source ({path})")
    module = policy_module(path)
    model = None
    # a policy class of the user's own module may still be an actor-critic one PPO or A2C can load
    for algo in ALGORITHMS.get(module or "", (PPO, A2C)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = algo.load(str(path), device="cpu")
            break
        except Exception as exc:  # SB3 raises many types for a foreign or damaged zip
            error = exc
    if model is None:
        if module is not None and module not in ALGORITHMS:
            raise InputError(f"{path}: its policy comes from {module}; rl-distill reads models of SB3's PPO, A2C, "
                             "DQN, SAC, TD3 and DDPG")  # fmt: skip
        raise InputError(f"{path}: cannot load as an SB3 model ({type(error).__name__}: {error})")
    if not isinstance(model.policy, TEACHER_POLICIES):
        raise InputError(f"{path}: policy {type(model.policy).__name__} is not one rl-distill reads")
    stats_path = Path(vecnormalize) if vecnormalize else find_vecnormalize(path, env_id)
    normalization = None
    if stats_path is not None:
        normalization = load_vecnormalize(stats_path, make_env(env_id, n_envs=1, seed=0))
    return LoadedPolicy(model=model, path=path, normalization=normalization)


def check_actor_critic(loaded: LoadedPolicy, what: str) -> ActorCriticPolicy:
    """A student's policy: refuse a DQN, SAC or TD3 model where only a PPO/A2C (actor-critic) one can serve."""
    if not isinstance(loaded.policy, ActorCriticPolicy):
        raise InputError(f"{loaded.path}: {what} must be an SB3 PPO or A2C (actor-critic) model, not "
                         f"{type(loaded.model).__name__}")  # fmt: skip
    return loaded.policy


def check_spaces(model: BaseAlgorithm, venv: VecEnv, path: Path, env_id: str) -> None:
    for kind in ("observation_space", "action_space"):
        ours, theirs = getattr(model, kind), getattr(venv, kind)
        if not spaces_match(ours, theirs):
            frames = stacked_frames(ours, theirs) if kind == "observation_space" else 0
            hint = (f" (it looks like {frames} stacked frames: rl-distill runs the env as gymnasium.make builds it, "
                    "without VecFrameStack or other wrappers)") if frames > 1 else ""
            raise InputError(f"{path}: {kind.replace('_', ' ')} {describe_space(ours)} does not match {env_id}'s "
                             f"{describe_space(theirs)}{hint}")  # fmt: skip


def describe_space(space: gym.Space) -> str:
    """A space in a few words: a Box's shape and bounds' range, not every bound (a long one fills a screen)."""
    if isinstance(space, gym.spaces.Box):
        return (f"Box(shape={space.shape}, low={space.low.min():.3g}..{space.low.max():.3g}, "
                f"high={space.high.min():.3g}..{space.high.max():.3g})")
    return str(space)


def stacked_frames(model_space: gym.Space, env_space: gym.Space) -> int:
    """How many of the env's observations the model's holds, when it is a whole number of them (else 0)."""
    if not (isinstance(model_space, gym.spaces.Box) and isinstance(env_space, gym.spaces.Box)):
        return 0
    ours, theirs = int(np.prod(model_space.shape)), int(np.prod(env_space.shape))
    return ours // theirs if theirs and ours % theirs == 0 else 0


def actor_parameters(policy: BasePolicy) -> list[nn.Parameter]:
    """Parameters used to compute an action: features, policy MLP, action head (not the critic); a DQN's
    Q-network (not its target copy); a SAC or TD3 actor."""
    if isinstance(policy, DQNPolicy):
        return list(policy.q_net.parameters())
    if isinstance(policy, SACPolicy | TD3Policy):
        return list(policy.actor.parameters())
    modules = [policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net]
    params = [p for module in modules for p in module.parameters()]
    log_std = getattr(policy, "log_std", None)
    if isinstance(log_std, nn.Parameter):
        params.append(log_std)
    return params


def policy_parameters(policy: BasePolicy) -> int:
    return sum(p.numel() for p in actor_parameters(policy))


def make_student(
    env: VecEnv, hidden: tuple[int, ...], *, seed: int, activation: type[nn.Module] = nn.Tanh,
    algorithm: type[PPO] = PPO, critic_hidden: tuple[int, ...] | None = None, **ppo_kwargs: Any,
) -> PPO:
    """A PPO model whose policy is a small MLP: the distillation student (or the scratch baseline). Its value
    function has ``critic_hidden`` sizes (default: ``hidden``); it is used in training only."""
    for what, sizes in (("student", hidden), ("critic", critic_hidden or hidden)):
        if not sizes or min(sizes) <= 0:
            raise InputError(f"{what} hidden sizes must be positive, got {list(sizes)}")
    policy_kwargs = {"net_arch": {"pi": list(hidden), "vf": list(critic_hidden or hidden)},
                     "activation_fn": activation}  # fmt: skip
    if isinstance(env.action_space, gym.spaces.Box):
        policy_kwargs["log_std_init"] = ppo_kwargs.pop("log_std_init", -0.5)
    return algorithm("MlpPolicy", env, policy_kwargs=policy_kwargs, seed=seed, device="cpu", **ppo_kwargs)
