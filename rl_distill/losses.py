"""One family of distillation losses, shared by the MNIST pipeline and RL policy distillation.

Every loss is a divergence between a *target* distribution (the teacher's) and the student's,
averaged over the batch. Classes and discrete actions use :func:`categorical_kl`; continuous
actions use :func:`gaussian_kl`. :func:`kd_loss` (Hinton et al. 2015) and
:func:`policy_distillation_loss` (Rusu et al. 2016) are thin front ends over those two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

PolicyLossName = Literal["forward-kl", "reverse-kl", "mse"]
POLICY_LOSSES: tuple[str, ...] = ("forward-kl", "reverse-kl", "mse")
BoundMode = Literal["one-sided", "band", "censored", "clamp", "ignore"]
BOUND_MODES: tuple[str, ...] = ("one-sided", "band", "censored", "clamp", "ignore")
DEFAULT_BOUND_MODE: BoundMode = "one-sided"
"""Chosen by scripts/bench_bounds.py (results/bound-aware.md): the only mode whose DAgger-driven Hopper-v5
16x16 and Walker2d-v5 32x32 (plain SB3 teacher) students stayed at score >= 0.95 on every seed."""


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
    return categorical_kl_per_sample(target_logits, student_logits, temperature).mean()


def categorical_kl_per_sample(target_logits: Tensor, student_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """KL(softmax(target/T) || softmax(student/T)) for each row."""
    check_temperature(temperature)
    log_p = F.log_softmax(target_logits / temperature, dim=-1)
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    return F.kl_div(log_q, log_p, reduction="none", log_target=True).sum(dim=-1)


def _gaussian_kl_per_dim(mean_gap: Tensor, p_log_std: Tensor, q_log_std: Tensor) -> Tensor:
    """KL(p || q) per dimension; ``mean_gap`` is p's mean minus q's (its sign does not matter)."""
    var_ratio = torch.exp(2.0 * (p_log_std - q_log_std))
    mean_term = (mean_gap / torch.exp(q_log_std)) ** 2
    return 0.5 * (var_ratio + mean_term - 1.0) - (p_log_std - q_log_std)


def gaussian_kl(p: DiagGaussian, q: DiagGaussian) -> Tensor:
    """Closed-form KL(p || q) of diagonal Gaussians, summed over dimensions, mean over the batch."""
    return _gaussian_kl_per_dim(p.mean - q.mean, p.log_std, q.log_std).sum(dim=-1).mean()


@dataclass(frozen=True)
class ActionBounds:
    """The box an environment clips continuous actions to, and how a loss treats it.

    SB3's Gaussian policies are not squashed: the env receives ``clip(action, low, high)``, so any
    mean beyond a bound acts like the bound itself. ``mode`` says what the loss makes of that:

    - ``ignore``: plain Gaussian KL on the raw means (matches out-of-bound values exactly).
    - ``clamp``: the teacher's mean is clamped to the bounds first, then plain KL.
    - ``one-sided``: as ``clamp``, but where the teacher is past a bound the student is only
      pulled back to that bound, never from beyond it (any value past it acts the same).
    - ``band``: as ``one-sided``, but the student is free only between the bound and the teacher's
      mean; past the teacher's mean it is pulled back to it (no drift beyond what the teacher does).
    - ``censored``: KL between the clipped ("censored") Gaussians: the probability mass on each
      bound plus the density between them. Far from the bounds it is the plain KL.
    """

    low: Tensor
    high: Tensor
    mode: BoundMode = DEFAULT_BOUND_MODE

    def __post_init__(self) -> None:
        if self.mode not in BOUND_MODES:
            raise ValueError(f"unknown bound mode {self.mode!r}; choose one of {', '.join(BOUND_MODES)}")


def bound_aware_gap(student_mean: Tensor, teacher_mean: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """student - clamp(teacher), with no pull back from beyond a bound the teacher is also past.

    With infinite bounds this is exactly ``student_mean - teacher_mean``.
    """
    gap = student_mean - torch.clamp(teacher_mean, low, high)
    gap = torch.where(teacher_mean >= high, gap.clamp(max=0.0), gap)
    return torch.where(teacher_mean <= low, gap.clamp(min=0.0), gap)


def band_gap(student_mean: Tensor, teacher_mean: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """student - the nearest point of the interval between the teacher's mean and its clamp to the bounds.

    Inside the bounds the interval is the teacher's mean itself, so this is ``student - teacher``.
    """
    clamped = torch.clamp(teacher_mean, low, high)
    nearest = torch.clamp(student_mean, torch.minimum(teacher_mean, clamped), torch.maximum(teacher_mean, clamped))
    return student_mean - nearest


def mean_gap(student_mean: Tensor, teacher_mean: Tensor, bounds: ActionBounds | None) -> Tensor:
    """student - target mean under ``bounds.mode`` (censored, which has no single target, uses one-sided)."""
    if bounds is None or bounds.mode == "ignore":
        return student_mean - teacher_mean
    if bounds.mode == "clamp":
        return student_mean - torch.clamp(teacher_mean, bounds.low, bounds.high)
    if bounds.mode == "band":
        return band_gap(student_mean, teacher_mean, bounds.low, bounds.high)
    return bound_aware_gap(student_mean, teacher_mean, bounds.low, bounds.high)


_STANDARD_LIMIT = 40.0  # |z| past this has Phi(z) or 1 - Phi(z) below 1e-300: the mass on that bound is nil


def censored_gaussian_kl(p: DiagGaussian, q: DiagGaussian, low: Tensor, high: Tensor) -> Tensor:
    """KL(clip(P) || clip(Q)) for X ~ N(mean, std) clipped to [low, high], summed over dims, mean over batch."""
    return _censored_kl_per_dim(p, q, low, high).sum(dim=-1).mean()


def _censored_kl_per_dim(p: DiagGaussian, q: DiagGaussian, low: Tensor, high: Tensor) -> Tensor:
    """KL(clip(P) || clip(Q)) per dimension.

    The clipped variable has a point mass Phi(alpha) at ``low``, 1 - Phi(beta) at ``high`` and the
    Gaussian density between them, so the KL is the two masses' log-ratio terms plus the integral of
    p log(p/q) over (low, high), which has a closed form in the truncated moments of P. Where both
    bounds lie more than 40 standard deviations from both means (infinite or very wide bounds), it
    is the plain Gaussian KL, computed as such.
    """
    p_std, q_std = p.log_std.exp(), q.log_std.exp()
    alpha_p = ((low - p.mean) / p_std).clamp(-_STANDARD_LIMIT, _STANDARD_LIMIT)
    beta_p = ((high - p.mean) / p_std).clamp(-_STANDARD_LIMIT, _STANDARD_LIMIT)
    alpha_q = ((low - q.mean) / q_std).clamp(-_STANDARD_LIMIT, _STANDARD_LIMIT)
    beta_q = ((high - q.mean) / q_std).clamp(-_STANDARD_LIMIT, _STANDARD_LIMIT)
    log_p_low, log_q_low = torch.special.log_ndtr(alpha_p), torch.special.log_ndtr(alpha_q)
    log_p_high, log_q_high = torch.special.log_ndtr(-beta_p), torch.special.log_ndtr(-beta_q)
    masses = log_p_low.exp() * (log_p_low - log_q_low) + log_p_high.exp() * (log_p_high - log_q_high)
    # Truncated moments of P over (low, high): M0 = mass, M1 = E[(x - mu_p) 1], M2 = E[(x - mu_p)^2 1].
    pdf_a, pdf_b = torch.exp(-0.5 * alpha_p**2), torch.exp(-0.5 * beta_p**2)
    pdf_a, pdf_b = pdf_a / math.sqrt(2 * math.pi), pdf_b / math.sqrt(2 * math.pi)
    m0 = (torch.special.ndtr(beta_p) - torch.special.ndtr(alpha_p)).clamp(min=0.0)
    m1 = p_std * (pdf_a - pdf_b)
    m2 = p_std**2 * (m0 + alpha_p * pdf_a - beta_p * pdf_b)
    d = p.mean - q.mean
    inside = (m0 * (q.log_std - p.log_std) - m2 / (2 * p_std**2)
              + (m2 + 2 * d * m1 + d**2 * m0) / (2 * q_std**2))  # fmt: skip
    per_dim = masses + inside
    # Where neither distribution reaches a bound (infinite or very wide bounds), clipping changes nothing:
    # use the plain Gaussian KL there, so such actions are distilled exactly as without bounds.
    limit = _STANDARD_LIMIT
    unclipped = (alpha_p <= -limit) & (beta_p >= limit) & (alpha_q <= -limit) & (beta_q >= limit)
    if bool(unclipped.any()):
        per_dim = torch.where(unclipped, _gaussian_kl_per_dim(p.mean - q.mean, p.log_std, q.log_std), per_dim)
    return per_dim


def gaussian_divergence_per_sample(
    target: DiagGaussian, student: DiagGaussian, bounds: ActionBounds | None, *, reverse: bool = False
) -> Tensor:
    """KL(target || student) (or the reverse) per state, treating the action bounds per ``bounds.mode``."""
    p, q = (student, target) if reverse else (target, student)
    if bounds is not None and bounds.mode == "censored":
        return _censored_kl_per_dim(p, q, bounds.low, bounds.high).sum(dim=-1)
    # ignore, clamp and one-sided: the Gaussian KL, with the mode's mean gap for (student - target)
    gap = mean_gap(student.mean, target.mean, bounds)
    return _gaussian_kl_per_dim(gap, p.log_std, q.log_std).sum(dim=-1)


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
    supervised training; ``labels=None`` is pure distillation (``lam`` must then be 0). ``labels`` are class
    indices, or class probabilities (a blend of labels, as mixup makes).
    """
    check_temperature(temperature)
    check_lam(lam)
    if labels is None and lam > 0:
        raise ValueError("lam > 0 weights a label term, but no labels were given")
    ce = F.cross_entropy(student_logits, labels) if labels is not None else student_logits.new_zeros(())
    kl = categorical_kl(teacher_logits, student_logits, temperature)
    total = lam * ce + (1.0 - lam) * temperature**2 * kl
    return LossTerms(total=total, ce=ce, divergence=kl)


def policy_divergence(
    teacher: ActionDistribution,
    student: ActionDistribution,
    *,
    loss: PolicyLossName = "forward-kl",
    temperature: float = 1.0,
    bounds: ActionBounds | None = None,
) -> Tensor:
    """Divergence between the teacher's and the student's action distributions, one value per state.

    ``forward-kl`` is KL(teacher || student), ``reverse-kl`` is KL(student || teacher) and ``mse``
    the squared error of the distribution parameters (logits, or mean and log-std). For categorical
    actions the temperature divides the teacher's logits only, as in Rusu et al. 2016: T < 1 sharpens
    the target, T > 1 softens it; the student is trained at T = 1, so it acts as trained.
    Gaussian targets ignore the temperature and treat the action bounds as ``bounds`` says (see
    :class:`ActionBounds`; ``None`` is plain KL); ``mse`` with bounds uses the bound-aware mean gap.
    The teacher's side is always detached.
    """
    check_temperature(temperature)
    if loss not in POLICY_LOSSES:
        raise ValueError(f"unknown policy loss {loss!r}; choose one of {', '.join(POLICY_LOSSES)}")
    if isinstance(teacher, Categorical) and isinstance(student, Categorical):
        target = teacher.logits.detach() / temperature
        if loss == "mse":
            return ((student.logits - target) ** 2).mean(dim=-1)
        p, q = (student.logits, target) if loss == "reverse-kl" else (target, student.logits)
        return categorical_kl_per_sample(p, q)
    if isinstance(teacher, DiagGaussian) and isinstance(student, DiagGaussian):
        target = DiagGaussian(teacher.mean.detach(), teacher.log_std.detach())
        if loss == "mse":
            return (mean_gap(student.mean, target.mean, bounds) ** 2).mean(dim=-1) + (
                (student.log_std - target.log_std) ** 2).mean(dim=-1)  # fmt: skip
        return gaussian_divergence_per_sample(target, student, bounds, reverse=loss == "reverse-kl")
    raise TypeError(f"teacher {type(teacher).__name__} and student {type(student).__name__} differ")


def policy_distillation_loss(
    teacher: ActionDistribution,
    student: ActionDistribution,
    *,
    loss: PolicyLossName = "forward-kl",
    temperature: float = 1.0,
    bounds: ActionBounds | None = None,
) -> LossTerms:
    """:func:`policy_divergence` averaged over the batch (Rusu et al. 2016's policy distillation loss)."""
    div = policy_divergence(teacher, student, loss=loss, temperature=temperature, bounds=bounds).mean()
    return LossTerms(total=div, ce=div.new_zeros(()), divergence=div)
