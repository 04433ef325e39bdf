"""Teachers and students for MNIST, selectable by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch
from torch import nn

from supervised.data import shift


def article_cnn() -> nn.Module:
    """The seed article's CNN: conv 1->10 k5, pool, conv 10->20 k5, pool, fc 320->50->10, ReLU."""
    return nn.Sequential(
        nn.Conv2d(1, 10, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(10, 20, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10),
    )  # fmt: skip


def wide_cnn(dropout: float = 0.3) -> nn.Module:
    """The article's CNN widened (32/64 channels, fc 1024->256) with dropout: the larger teacher."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(1024, 256), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(256, 10),
    )  # fmt: skip


def hinton_mlp(dropout: float = 0.5) -> nn.Module:
    """Hinton et al. 2015's teacher: 784-1200-1200-10 with dropout (their 2-pixel jitter: ``--jitter 2``).

    Dropout on the hidden layers only: with the jitter, a further 20% on the pixels cost test errors
    (seed 0, 60 epochs: 86 with it, 80 without). With mixup as well, 0.5 over-regularises (seeds 0/1, 60
    epochs: 118/120 errors) and 0.2 suits (``--teacher-dropout 0.2``: 76/79/71 at 40 epochs).
    """
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 1200), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(1200, 1200), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(1200, 10),
    )  # fmt: skip


TEACHERS: dict[str, Callable[..., nn.Module]] = {
    "cnn": article_cnn,
    "cnn-wide": wide_cnn,
    "hinton-mlp": hinton_mlp,
}
"""Teacher architectures by name; those with dropout layers take its rate as ``dropout``."""


def default_dropout(name: str) -> float | None:
    """The named teacher's own dropout rate, or None for an architecture without dropout layers."""
    parameter = inspect.signature(TEACHERS[name]).parameters.get("dropout")
    return None if parameter is None else parameter.default


def build_teacher(name: str, dropout: float | None = None) -> nn.Module:
    """The named teacher, untrained; ``dropout`` overrides the architecture's own rate (None: keep it)."""
    return TEACHERS[name]() if dropout is None else TEACHERS[name](dropout=dropout)


class LogitEnsemble(nn.Module):
    """Trained models as one teacher whose logits are the mean of theirs: at every temperature its softmax is
    the normalised geometric mean of the members' softened probabilities (Hinton et al. 2015 distil ensembles
    by a mean of their predictions)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(images) for member in self.members]).mean(dim=0)


class ShiftAverage(nn.Module):
    """A teacher whose logits for an image are the mean of its logits on every copy of the image shifted by up
    to ``max_shift`` pixels along each axis ((2 max_shift + 1)^2 copies): test-time augmentation with the shifts
    a jittered teacher was trained on, an ensemble of the teacher with itself (see :class:`LogitEnsemble`)."""

    def __init__(self, teacher: nn.Module, max_shift: int) -> None:
        super().__init__()
        self.teacher, self.max_shift = teacher, max_shift
        span = range(-max_shift, max_shift + 1)
        self.offsets = [(dy, dx) for dy in span for dx in span]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(())
        for dy, dx in self.offsets:
            offsets = torch.tensor([[dy], [dx]]).expand(2, len(images))
            total = total + self.teacher(shift(images, offsets, self.max_shift))
        return total / len(self.offsets)


def student_mlp(hidden: Sequence[int]) -> nn.Module:
    """An MLP on the flattened 784 pixels (the article's student, made runnable)."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 784
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
