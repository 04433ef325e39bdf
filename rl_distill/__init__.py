"""rl-distill: distil large teachers into small, fast students with one KL loss."""

from rl_distill.artifacts.student import Student, load_student
from rl_distill.losses import (
    ActionBounds,
    Categorical,
    DiagGaussian,
    LossTerms,
    categorical_kl,
    censored_gaussian_kl,
    gaussian_kl,
    kd_loss,
    policy_distillation_loss,
    policy_divergence,
)

__all__ = [
    "ActionBounds",
    "Categorical",
    "DiagGaussian",
    "LossTerms",
    "Student",
    "categorical_kl",
    "censored_gaussian_kl",
    "gaussian_kl",
    "kd_loss",
    "load_student",
    "policy_distillation_loss",
    "policy_divergence",
]
__version__ = "0.1.0"
