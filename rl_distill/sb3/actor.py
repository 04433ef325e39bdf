"""An SB3 policy as distillation sees it: what it does to the environment, batched and fast.

:class:`Actor` gives, for a batch of (already normalised) observations, the policy's action
distribution in the environment's action units (one row per state: logits, or mean and log-std) and
the actions the environment receives, exactly as SB3's ``predict`` / rollout collection would send
them: Box actions clipped, or, for squashing policies (SAC, gSDE with ``squash_output=True``),
tanh-squashed and rescaled to the bounds. Plain MLP policies skip SB3's ``Distribution`` objects, which
cost more than the network; gSDE policies go through SB3 and redraw their exploration noise as SB3 does.

Teachers may also come from SB3's off-policy algorithms, each read as a distribution of the same two kinds:
a DQN's policy is softmax(Q / :data:`Q_TEMPERATURE`) (Rusu et al. 2016), a SAC actor is its squashed
Gaussian, and a TD3/DDPG actor, deterministic, is a Gaussian around its action with the std
:data:`DETERMINISTIC_STD` of TD3's exploration noise. Students are always actor-critic (PPO) policies.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.preprocessing import is_image_space, preprocess_obs
from stable_baselines3.dqn.policies import DQNPolicy
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy
from torch import Tensor

from rl_distill.errors import InputError
from rl_distill.losses import ActionDistribution, Categorical, DiagGaussian

SQUASH_EPS = 1e-6
"""Keeps the log-std of a saturated tanh policy finite (the Jacobian 1 - tanh^2 reaches 0 in float32)."""
Q_TEMPERATURE = 0.01
"""A DQN teacher's logits are its Q-values / 0.01, Rusu et al.'s tau: greedy where actions' values differ by
more than a few hundredths, soft where they tie (``--temperature`` divides these logits further)."""
DETERMINISTIC_STD = 0.1
"""A TD3/DDPG teacher's std, as a fraction of each action's half-range: SB3's and the zoo's usual TD3 noise."""
TEACHER_POLICIES = (ActorCriticPolicy, DQNPolicy, SACPolicy, TD3Policy)
"""Policy classes :class:`Actor` reads (PPO and A2C: ActorCriticPolicy; DDPG uses TD3's)."""


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


def greedy_gap(student_rows: Tensor, teacher_rows: Tensor, space: gym.Space) -> float:
    """How far the student's greedy actions are from the teacher's on the same states: for discrete actions the
    share of states where they differ; for Box actions the mean absolute difference as a share of each action's
    range (the raw difference where a bound is infinite). 0 is a perfect copy of what the teacher does."""
    student, teacher = greedy_actions(student_rows, space), greedy_actions(teacher_rows, space)
    if isinstance(space, gym.spaces.Discrete):
        return float(np.mean(student != teacher))
    span = np.asarray(space.high, dtype=np.float64) - np.asarray(space.low, dtype=np.float64)
    span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
    return float(np.mean(np.abs(student - teacher) / span))


class Actor:
    """Distribution rows and environment actions of one SB3 policy (see the module's note on off-policy ones).

    ``n_envs`` and ``sde_sample_freq`` matter only for gSDE policies, whose exploration noise is a
    matrix per env: it is redrawn every ``sde_sample_freq`` calls of :meth:`act` (SB3's setting,
    when > 0), and for each env whose episode has just ended.
    """

    def __init__(self, policy: BasePolicy, *, n_envs: int = 1, sde_sample_freq: int = -1) -> None:
        if not isinstance(policy, TEACHER_POLICIES):
            raise InputError(f"policy {type(policy).__name__} is not one of SB3's PPO, A2C, DQN, SAC, TD3 or DDPG")
        self.policy = policy
        space = policy.action_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        # a TD3 actor's tanh is inside its network: its rows are already in env units
        self.squash = bool(getattr(policy, "squash_output", False)) and not isinstance(policy, TD3Policy)
        self.low = None if self.discrete else torch.as_tensor(space.low, dtype=torch.float32)
        self.high = None if self.discrete else torch.as_tensor(space.high, dtype=torch.float32)
        # gSDE's noise lives in the action distribution: the policy's own (PPO) or its actor's (SAC)
        self.noise_owner = policy.actor if isinstance(policy, SACPolicy) else policy
        self.use_sde = bool(getattr(self.noise_owner, "use_sde", False))
        self.n_envs, self.sde_sample_freq, self.calls = n_envs, sde_sample_freq, 0
        if self.use_sde:
            policy.reset_noise(n_envs)

    # ------------------------------------------------------------------ distribution rows
    def raw_rows(self, obs: Tensor) -> Tensor:
        """Logits, or [mean | log-std] before any squashing, with gradients when the policy has them."""
        policy = self.policy
        if self.use_sde:
            dist = self.sde_distribution(obs).distribution
            return torch.cat([dist.mean, dist.stddev.log()], dim=-1)
        if isinstance(policy, DQNPolicy):
            return policy.q_net(obs) / Q_TEMPERATURE
        if isinstance(policy, SACPolicy):
            mean, log_std, _ = policy.actor.get_action_dist_params(obs)
            return torch.cat([mean, log_std], dim=-1)
        if isinstance(policy, TD3Policy):
            half_range = (self.high - self.low) / 2
            mean = self.low + (policy.actor(obs) + 1.0) * half_range
            return torch.cat([mean, torch.log(DETERMINISTIC_STD * half_range).expand_as(mean)], dim=-1)
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
            dist = self.sde_distribution(obs)  # one pass gives both the rows and the noisy actions
            raw = torch.cat([dist.distribution.mean, dist.distribution.stddev.log()], dim=-1)
            return self.in_env_units(raw), self.to_env(dist.get_actions(deterministic=False))
        raw = self.raw_rows(obs)
        actions = sample_actions(raw, self.discrete, generator)
        return self.in_env_units(raw), self.to_env(torch.tanh(actions) if self.squash else actions)

    def sde_distribution(self, obs: Tensor) -> Distribution:
        """SB3's gSDE distribution for ``obs`` (PPO/A2C: the policy's; SAC: its actor's)."""
        if isinstance(self.policy, ActorCriticPolicy):
            return self.policy.get_distribution(obs)
        actor = self.policy.actor
        mean, log_std, kwargs = actor.get_action_dist_params(obs)
        return actor.action_dist.proba_distribution(mean, log_std, **kwargs)

    def episode_starts(self, dones: np.ndarray) -> None:
        """gSDE: envs that start a new episode get fresh exploration noise; the others keep theirs."""
        if not self.use_sde or not np.any(dones):
            return
        dist = self.noise_owner.action_dist
        kept = dist.exploration_matrices.clone()
        self.policy.reset_noise(self.n_envs)
        fresh = torch.as_tensor(np.asarray(dones, dtype=bool))
        dist.exploration_matrices = torch.where(fresh.view(-1, 1, 1), dist.exploration_matrices, kept)
