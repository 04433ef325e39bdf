"""rl-distill: distil large teachers into small, fast students with one KL loss."""

from rl_distill.artifact import Student, load_student
from rl_distill.losses import (
    Categorical,
    DiagGaussian,
    LossTerms,
    categorical_kl,
    gaussian_kl,
    kd_loss,
    policy_distillation_loss,
)

__all__ = [
    "Categorical",
    "DiagGaussian",
    "LossTerms",
    "Student",
    "categorical_kl",
    "gaussian_kl",
    "kd_loss",
    "load_student",
    "policy_distillation_loss",
]
__version__ = "0.1.0"
