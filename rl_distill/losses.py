"""One family of distillation losses, shared by the MNIST pipeline and RL policy distillation.

Every loss is a divergence between a *target* distribution (the teacher's) and the student's,
averaged over the batch. Classes and discrete actions use :func:`categorical_kl`; continuous
actions use :func:`gaussian_kl`. :func:`kd_loss` (Hinton et al. 2015) and
:func:`policy_distillation_loss` (Rusu et al. 2016) are thin front ends over those two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

PolicyLossName = Literal["forward-kl", "reverse-kl", "mse"]
POLICY_LOSSES: tuple[str, ...] = ("forward-kl", "reverse-kl", "mse")


@dataclass(frozen=True)
class LossTerms:
    """Everything a loss computed, so every term can be logged.

    ``total`` is what to backpropagate; ``ce`` is the label cross-entropy (zero when no labels
    were given) and ``divergence`` the teacher-student term before weighting.
    """

    total: Tensor
    ce: Tensor
    divergence: Tensor

    def as_floats(self) -> dict[str, float]:
        return {"loss": float(self.total), "ce": float(self.ce), "divergence": float(self.divergence)}


@dataclass(frozen=True)
class Categorical:
    """A batch of categorical distributions given by unnormalised logits, shape (batch, n)."""

    logits: Tensor


@dataclass(frozen=True)
class DiagGaussian:
    """A batch of diagonal Gaussians, ``mean`` and ``log_std`` of shape (batch, dims)."""

    mean: Tensor
    log_std: Tensor


ActionDistribution = Categorical | DiagGaussian


def check_temperature(temperature: float) -> None:
    if not temperature > 0 or temperature != temperature or temperature == float("inf"):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")


def check_lam(lam: float) -> None:
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam}")


def categorical_kl(target_logits: Tensor, student_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """KL(softmax(target/T) || softmax(student/T)), summed over classes, mean over the batch.

    Both sides go through log-softmax, so logits of any magnitude give a finite result.
    """
    check_temperature(temperature)
    log_p = F.log_softmax(target_logits / temperature, dim=-1)
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)


def gaussian_kl(p: DiagGaussian, q: DiagGaussian) -> Tensor:
    """Closed-form KL(p || q) of diagonal Gaussians, summed over dimensions, mean over the batch."""
    var_ratio = torch.exp(2.0 * (p.log_std - q.log_std))
    mean_term = ((p.mean - q.mean) / torch.exp(q.log_std)) ** 2
    per_dim = 0.5 * (var_ratio + mean_term - 1.0) - (p.log_std - q.log_std)
    return per_dim.sum(dim=-1).mean()


def kd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor | None = None,
    *,
    temperature: float = 1.0,
    lam: float = 0.0,
) -> LossTerms:
    """Soft-target knowledge distillation (Hinton et al. 2015).

    ``lam * CE(labels, student) + (1 - lam) * T^2 * KL(softmax(teacher/T) || softmax(student/T))``.
    The T^2 factor keeps the soft term's gradients the same size as T changes. ``lam=1`` is plain
    supervised training; ``labels=None`` is pure distillation (``lam`` must then be 0).
    """
    check_temperature(temperature)
    check_lam(lam)
    if labels is None and lam > 0:
        raise ValueError("lam > 0 weights a label term, but no labels were given")
    ce = F.cross_entropy(student_logits, labels) if labels is not None else student_logits.new_zeros(())
    kl = categorical_kl(teacher_logits, student_logits, temperature)
    total = lam * ce + (1.0 - lam) * temperature**2 * kl
    return LossTerms(total=total, ce=ce, divergence=kl)


def policy_distillation_loss(
    teacher: ActionDistribution,
    student: ActionDistribution,
    *,
    loss: PolicyLossName = "forward-kl",
    temperature: float = 1.0,
) -> LossTerms:
    """Divergence between the teacher's and the student's action distributions.

    ``forward-kl`` is KL(teacher || student), ``reverse-kl`` is KL(student || teacher) and ``mse``
    the squared error of the distribution parameters (logits, or mean and log-std). For categorical
    actions the temperature divides the teacher's logits only, as in Rusu et al. 2016: T < 1 sharpens
    the target, T > 1 softens it; the student is trained at T = 1, so it acts as trained.
    Gaussian targets ignore the temperature.
    """
    check_temperature(temperature)
    if loss not in POLICY_LOSSES:
        raise ValueError(f"unknown policy loss {loss!r}; choose one of {', '.join(POLICY_LOSSES)}")
    if isinstance(teacher, Categorical) and isinstance(student, Categorical):
        target = teacher.logits.detach() / temperature
        if loss == "forward-kl":
            div = categorical_kl(target, student.logits)
        elif loss == "reverse-kl":
            div = categorical_kl(student.logits, target)
        else:
            div = F.mse_loss(student.logits, target)
    elif isinstance(teacher, DiagGaussian) and isinstance(student, DiagGaussian):
        target = DiagGaussian(teacher.mean.detach(), teacher.log_std.detach())
        if loss == "forward-kl":
            div = gaussian_kl(target, student)
        elif loss == "reverse-kl":
            div = gaussian_kl(student, target)
        else:
            div = F.mse_loss(student.mean, target.mean) + F.mse_loss(student.log_std, target.log_std)
    else:
        raise TypeError(f"teacher {type(teacher).__name__} and student {type(student).__name__} differ")
    return LossTerms(total=div, ce=div.new_zeros(()), divergence=div)
