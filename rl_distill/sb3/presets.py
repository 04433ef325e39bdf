"""Per-environment PPO teacher presets, after rl-baselines3-zoo's ``hyperparams/ppo.yml``.

Each preset names the zoo values it keeps and says where it departs from them (a larger teacher
network, always, and a few budgets); the departures are listed in ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from rl_distill.errors import InputError

TEACHER_NET = (256, 256)
"""The teacher is large on purpose: it is what gets compressed."""


def linear_schedule(initial: float) -> Callable[[float], float]:
    """The zoo's ``lin_<value>``: decays linearly from ``initial`` to 0 over training, then stays at 0."""

    def schedule(progress_remaining: float) -> float:
        # SB3 collects whole rollouts, so the last one can end past the budget and progress_remaining below 0:
        # unclamped, that update would run at a negative rate (gradient ascent) or clip range.
        return max(progress_remaining, 0.0) * initial

    return schedule


@dataclass(frozen=True)
class Preset:
    """How to train a teacher on one environment, and the defaults for distilling it."""

    env_id: str
    timesteps: int
    """PPO teacher training budget in environment steps."""
    n_envs: int
    """Parallel environments for PPO and for distillation roll-outs."""
    ppo: dict[str, Any]
    """Keyword arguments to SB3's PPO (zoo values), ``policy_kwargs`` excluded."""
    normalize: bool = False
    """Wrap the env in VecNormalize (observations; rewards during teacher training only)."""
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra SB3 policy kwargs (activation, log_std_init, ortho_init) beside ``net_arch``."""
    student_hidden: tuple[int, ...] = (16, 16)
    """Default student hidden sizes, far (> 10x) smaller than the teacher's 2x256."""
    distill_steps: int = 50_000
    """Default environment steps of distillation."""
    notes: str = ""
    """Where this preset departs from the zoo, and why."""

    def policy_kwargs_for(self, hidden: tuple[int, ...] = TEACHER_NET) -> dict[str, Any]:
        """SB3 ``policy_kwargs`` for an actor and critic of ``hidden`` sizes (the teacher's by default)."""
        net = list(hidden)
        return {**self.policy_kwargs, "net_arch": {"pi": net, "vf": net}}

    def ppo_kwargs(self) -> dict[str, Any]:
        """The PPO kwargs with ``lin_`` schedules turned into callables."""
        kwargs = dict(self.ppo)
        for key in ("learning_rate", "clip_range"):
            value = kwargs.get(key)
            if isinstance(value, str) and value.startswith("lin_"):
                kwargs[key] = linear_schedule(float(value[4:]))
        return kwargs


_MUJOCO_POLICY = {"log_std_init": -2.0, "ortho_init": False, "activation_fn": nn.ReLU}

PRESETS: dict[str, Preset] = {
    p.env_id: p
    for p in [
        Preset("CartPole-v1", 100_000, 8, dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
               n_epochs=20, ent_coef=0.0, learning_rate="lin_0.001", clip_range="lin_0.2"),
               distill_steps=20_000),
        Preset("Acrobot-v1", 300_000, 16, dict(n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4,
               ent_coef=0.0), normalize=True, distill_steps=30_000,
               notes="300k teacher steps instead of the zoo's 1M: returns plateau near -80 well before."),
        Preset("LunarLander-v3", 1_000_000, 16, dict(n_steps=1024, batch_size=64, gae_lambda=0.98,
               gamma=0.999, n_epochs=4, ent_coef=0.01), distill_steps=50_000,
               notes="Zoo values for LunarLander-v2; v3 fixes bugs in v2's physics, same task."),
        Preset("Pendulum-v1", 100_000, 4, dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10,
               ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4),
               normalize=True, distill_steps=30_000,
               notes="normalize=True added (the zoo trains Pendulum without it)."),
        Preset("LunarLanderContinuous-v3", 1_000_000, 16, dict(n_steps=1024, batch_size=64, gae_lambda=0.98,
               gamma=0.999, n_epochs=4, ent_coef=0.01), distill_steps=50_000),
        Preset("MountainCarContinuous-v0", 20_000, 1, dict(batch_size=8, n_steps=8, gamma=0.9999,
               learning_rate=7.77e-05, ent_coef=0.00429, clip_range=0.1, n_epochs=10, gae_lambda=0.9,
               max_grad_norm=5, vf_coef=0.19, use_sde=True), normalize=True,
               policy_kwargs={"log_std_init": -3.29, "ortho_init": False}, distill_steps=20_000,
               notes="The zoo's values but batch_size 8, not 256: a rollout holds 8 steps, and SB3 trains on those 8 "
               "either way (with 256 it warns at every model it builds)."),
        Preset("HalfCheetah-v5", 1_000_000, 1, dict(batch_size=64, n_steps=512, gamma=0.98,
               learning_rate=2.0633e-05, ent_coef=0.000401762, clip_range=0.1, n_epochs=20, gae_lambda=0.92,
               max_grad_norm=0.8, vf_coef=0.58096), normalize=True, policy_kwargs=_MUJOCO_POLICY,
               distill_steps=100_000, notes="Zoo values for HalfCheetah-v3."),
        # The zoo's Hopper-v3 values (batch 32, n_steps 512, gamma 0.999, lr 9.8e-5, log_std_init -2) learned
        # to stand still on Hopper-v5 (returns 102-1,041 for seeds 0-2 at 1M steps, 1,026 at 1.4M); SB3's
        # defaults with VecNormalize hop (2,642 at 1M steps, seed 0): results/teachers-Hopper-v5.md.
        Preset("Hopper-v5", 1_000_000, 1, {}, normalize=True, distill_steps=100_000,
               notes="Departs from the zoo: SB3's PPO defaults with VecNormalize, because the zoo's "
                     "Hopper-v3 values stood still on Hopper-v5 (about 1,000) for three seeds."),
    ]
}  # fmt: skip

GENERIC = Preset("", 100_000, 8, {}, notes="No tuned preset: SB3's PPO defaults.")


def preset_for(env_id: str) -> Preset:
    """The tuned preset for ``env_id`` (a task: changed dynamics keep their env's preset), or SB3 defaults."""
    from rl_distill.sb3.envs import split_env

    name = split_env(env_id)[0]
    if name in PRESETS:
        return PRESETS[name]
    return replace(GENERIC, env_id=name)


def require_preset(env_id: str) -> Preset:
    if env_id not in PRESETS:
        raise InputError(f"no preset for {env_id}; presets: {', '.join(PRESETS)}")
    return PRESETS[env_id]
