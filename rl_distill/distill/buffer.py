"""The distillation buffer: a bounded FIFO ring of (observation, teacher distribution row)."""

from __future__ import annotations

import torch


class DistillationBuffer:
    """States and the teacher's distribution rows for them, kept as tensors; oldest dropped first."""

    def __init__(self, capacity: int, obs_dim: int, target_dim: int) -> None:
        self.obs = torch.zeros(capacity, obs_dim)
        self.targets = torch.zeros(capacity, target_dim)
        self.capacity, self.size, self.next = capacity, 0, 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: torch.Tensor, targets: torch.Tensor) -> None:
        n = len(obs)
        if n == 0:
            return
        if n > self.capacity:  # only the newest fit
            obs, targets, n = obs[-self.capacity :], targets[-self.capacity :], self.capacity
        end = self.next + n
        if end <= self.capacity:
            self.obs[self.next : end], self.targets[self.next : end] = obs, targets
        else:
            split = self.capacity - self.next
            self.obs[self.next :], self.targets[self.next :] = obs[:split], targets[:split]
            self.obs[: n - split], self.targets[: n - split] = obs[split:], targets[split:]
        self.next = end % self.capacity
        self.size = min(self.size + n, self.capacity)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        # clone(): a slice shares the whole pre-allocated storage, and torch.save would write all of it
        return {"obs": self.obs[: self.size].clone(), "targets": self.targets[: self.size].clone(), "next": self.next}

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        size = len(state["obs"])
        if size > self.capacity or state["obs"].shape[1:] != self.obs.shape[1:]:
            raise ValueError(f"buffer of {size} x {tuple(state['obs'].shape[1:])} does not fit "
                             f"{self.capacity} x {tuple(self.obs.shape[1:])}")  # fmt: skip
        self.obs[:size], self.targets[:size] = state["obs"], state["targets"]
        self.size, self.next = size, int(state["next"])

    def newest(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``n`` states added last (all of them if fewer are kept), oldest first."""
        n = min(n, self.size)
        index = (torch.arange(self.next - n, self.next) % self.capacity) if n else torch.zeros(0, dtype=torch.long)
        return self.obs[index], self.targets[index]

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, self.size, (batch_size,), generator=generator)
        return self.obs[index], self.targets[index]
