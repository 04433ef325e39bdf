"""An SB3 actor-critic policy as distillation sees it: what it does to the environment, batched and fast.

:class:`Actor` gives, for a batch of (already normalised) observations, the policy's action
distribution in the environment's action units (one row per state: logits, or mean and log-std) and
the actions the environment receives, exactly as SB3's ``predict`` / rollout collection would send
them: Box actions clipped, or, for ``squash_output=True`` policies, tanh-squashed and rescaled to the
bounds. Plain MLP policies skip SB3's ``Distribution`` objects, which cost more than the network;
gSDE policies go through SB3 and redraw their exploration noise as SB3's PPO does.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.preprocessing import is_image_space, preprocess_obs
from torch import Tensor

from rl_distill.errors import InputError
from rl_distill.losses import ActionDistribution, Categorical, DiagGaussian

SQUASH_EPS = 1e-6
"""Keeps the log-std of a saturated tanh policy finite (the Jacobian 1 - tanh^2 reaches 0 in float32)."""


def check_supported_spaces(observation_space: gym.Space, action_space: gym.Space, what: str) -> None:
    """Refuse, before any work, the spaces students cannot represent (they have Box/Discrete in, Box/Discrete out)."""
    if not isinstance(observation_space, gym.spaces.Box | gym.spaces.Discrete):
        raise InputError(f"{what}: observation space {observation_space} is not supported (Box or Discrete only)")
    if is_image_space(observation_space, check_channels=False):  # SB3 would transpose and rescale these
        raise InputError(f"{what}: image observations {observation_space} are not supported (students are MLPs "
                         "on vector observations)")
    if not isinstance(action_space, gym.spaces.Box | gym.spaces.Discrete):
        raise InputError(f"{what}: action space {action_space} is not supported (Box or Discrete only)")
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) != 1:
        raise InputError(f"{what}: Box actions of shape {action_space.shape} are not supported (one-dimensional only)")


def decode_rows(rows: Tensor, discrete: bool) -> ActionDistribution:
    """Rows of :meth:`Actor.rows` back into the loss's distribution type."""
    return Categorical(rows) if discrete else DiagGaussian(*rows.chunk(2, dim=-1))


def sample_actions(rows: Tensor, discrete: bool, generator: torch.Generator) -> Tensor:
    """One action per row of logits, or of [mean | log-std], in the policy's own units (not clipped)."""
    if discrete:
        return torch.multinomial(torch.softmax(rows, dim=-1), 1, generator=generator).squeeze(-1)
    mean, log_std = rows.chunk(2, dim=-1)
    return mean + log_std.exp() * torch.randn(mean.shape, generator=generator)


def greedy_actions(rows: Tensor, space: gym.Space) -> np.ndarray:
    """The greedy env action of each row in env units (:meth:`Actor.rows`): the most likely action, or the mean
    clipped to the bounds, as SB3's ``predict(deterministic=True)`` acts."""
    if isinstance(space, gym.spaces.Discrete):
        return rows.argmax(dim=-1).numpy()
    return np.clip(rows.chunk(2, dim=-1)[0].numpy(), space.low, space.high)


class Actor:
    """Distribution rows and environment actions of one SB3 ``ActorCriticPolicy``.

    ``n_envs`` and ``sde_sample_freq`` matter only for gSDE policies, whose exploration noise is a
    matrix per env: it is redrawn every ``sde_sample_freq`` calls of :meth:`act` (SB3's setting,
    when > 0), and for each env whose episode has just ended.
    """

    def __init__(self, policy: ActorCriticPolicy, *, n_envs: int = 1, sde_sample_freq: int = -1) -> None:
        self.policy = policy
        space = policy.action_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        self.squash = bool(getattr(policy, "squash_output", False))
        self.low = None if self.discrete else torch.as_tensor(space.low, dtype=torch.float32)
        self.high = None if self.discrete else torch.as_tensor(space.high, dtype=torch.float32)
        self.use_sde = bool(policy.use_sde)
        self.n_envs, self.sde_sample_freq, self.calls = n_envs, sde_sample_freq, 0
        if self.use_sde:
            policy.reset_noise(n_envs)

    # ------------------------------------------------------------------ distribution rows
    def raw_rows(self, obs: Tensor) -> Tensor:
        """Logits, or [mean | log-std] before any squashing, with gradients when the policy has them."""
        policy = self.policy
        if self.use_sde:
            dist = policy.get_distribution(obs).distribution
            return torch.cat([dist.mean, dist.stddev.log()], dim=-1)
        # as SB3's get_distribution: the actor's own extractor (ActorCriticPolicy.extract_features would
        # return an (actor, critic) pair for share_features_extractor=False policies)
        features = policy.pi_features_extractor(preprocess_obs(obs, policy.observation_space, policy.normalize_images))
        out = policy.action_net(policy.mlp_extractor.forward_actor(features))
        if self.discrete:
            return out
        return torch.cat([out, policy.log_std.expand_as(out)], dim=-1)

    def rows(self, obs: Tensor) -> Tensor:
        """The distribution in environment action units: what the student is fitted to.

        For a squashed policy the mean is the rescaled tanh of the Gaussian mean (the greedy action
        ``predict`` returns) and the std its first-order image through the same map.
        """
        return self.in_env_units(self.raw_rows(obs))

    def in_env_units(self, raw: Tensor) -> Tensor:
        if self.discrete or not self.squash:
            return raw
        mean, log_std = raw.chunk(2, dim=-1)
        half_range = (self.high - self.low) / 2
        squashed = torch.tanh(mean)
        env_mean = self.low + (squashed + 1.0) * half_range
        env_log_std = log_std + torch.log1p(-(squashed**2) + SQUASH_EPS) + torch.log(half_range)
        return torch.cat([env_mean, env_log_std], dim=-1)

    # ------------------------------------------------------------------ actions
    def to_env(self, actions: Tensor) -> np.ndarray:
        """Actions in the policy's own units -> what the env receives (as SB3's ``predict`` sends them)."""
        array = actions.numpy()
        if self.discrete:
            return array
        if self.squash:
            return self.policy.unscale_action(array)
        return np.clip(array, self.policy.action_space.low, self.policy.action_space.high)

    @torch.no_grad()
    def greedy(self, obs: Tensor) -> np.ndarray:
        raw = self.raw_rows(obs)
        if self.discrete:
            return raw.argmax(dim=-1).numpy()
        mean = raw.chunk(2, dim=-1)[0]
        return self.to_env(torch.tanh(mean) if self.squash else mean)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator) -> tuple[Tensor, np.ndarray]:
        """One forward pass: (rows in env units, sampled env actions) for a batch of states."""
        if self.use_sde:
            if self.sde_sample_freq > 0 and self.calls % self.sde_sample_freq == 0 and self.calls:
                self.policy.reset_noise(self.n_envs)
            self.calls += 1
            dist = self.policy.get_distribution(obs)  # one pass gives both the rows and the noisy actions
            raw = torch.cat([dist.distribution.mean, dist.distribution.stddev.log()], dim=-1)
            return self.in_env_units(raw), self.to_env(dist.get_actions(deterministic=False))
        raw = self.raw_rows(obs)  # SB3 squashes only gSDE policies, so these rows are already in env units
        return raw, self.to_env(sample_actions(raw, self.discrete, generator))

    def episode_starts(self, dones: np.ndarray) -> None:
        """gSDE: envs that start a new episode get fresh exploration noise; the others keep theirs."""
        if not self.use_sde or not np.any(dones):
            return
        dist = self.policy.action_dist
        kept = dist.exploration_matrices.clone()
        self.policy.reset_noise(self.n_envs)
        fresh = torch.as_tensor(np.asarray(dones, dtype=bool))
        dist.exploration_matrices = torch.where(fresh.view(-1, 1, 1), dist.exploration_matrices, kept)
