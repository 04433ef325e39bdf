"""An exponential moving average of a policy's actor weights over PPO's updates: ``PolicyAverage``.

PPO's iterates near a good policy wander: on the MuJoCo benchmarks a kickstarted student's greedy return moves by
hundreds between neighbouring curve points, and its last updates can undo what its first ones gained. Averaging
the weights of successive iterates (Nikishin et al. 2018, "Improving Stability in Deep Reinforcement Learning
with Weight Averaging") gives a policy that follows the trend and not the noise. PPO keeps training its own
iterate; only what is evaluated, kept and saved is the average.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from stable_baselines3.common.policies import BasePolicy

from rl_distill.errors import InputError
from rl_distill.io import atomic_write
from rl_distill.sb3.policies import actor_parameters


class PolicyAverage:
    """The average of ``policy``'s actor parameters (policy MLP, action head, log std; not the critic), updated
    after each PPO update with weight ``1 - exp(-rollout_steps / horizon_steps)`` on the new iterate: a time
    constant of ``horizon_steps`` environment steps, whatever the env's rollout size. It starts at the policy's
    weights when made (a fresh student, or ``--init``'s)."""

    def __init__(self, policy: BasePolicy, *, horizon_steps: int, rollout_steps: int) -> None:
        if horizon_steps <= 0:
            raise InputError(f"--average-steps must be positive, got {horizon_steps}")
        self.params = actor_parameters(policy)
        self.weight = 1.0 - math.exp(-rollout_steps / horizon_steps)
        """How much of each new iterate enters the average."""
        self.average = [p.detach().clone() for p in self.params]

    def update(self) -> None:
        """Move the average toward the policy's current weights (call after each update)."""
        with torch.no_grad():
            for mean, param in zip(self.average, self.params, strict=True):
                mean.lerp_(param.detach(), self.weight)

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The policy holds the average inside the block (to evaluate or save it), its own iterate after."""
        live = [p.detach().clone() for p in self.params]
        self.apply()
        try:
            yield
        finally:
            with torch.no_grad():
                for param, own in zip(self.params, live, strict=True):
                    param.copy_(own)

    def apply(self) -> None:
        """Put the average into the policy for good (the run's end)."""
        with torch.no_grad():
            for param, mean in zip(self.params, self.average, strict=True):
                param.copy_(mean)

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        tensors = {str(i): mean.contiguous() for i, mean in enumerate(self.average)}
        atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))

    def load(self, path: Path) -> None:
        """The average a checkpoint saved (``save``), so a resumed run goes on averaging where it stopped."""
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        if len(tensors) != len(self.average) or any(tensors[str(i)].shape != mean.shape
                                                     for i, mean in enumerate(self.average)):  # fmt: skip
            raise InputError(f"{path}: a weight average of another network")
        self.average = [tensors[str(i)].clone() for i in range(len(self.average))]
