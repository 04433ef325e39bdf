"""rl-distill: distil large teachers into small, fast students with one KL loss."""

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
    "categorical_kl",
    "gaussian_kl",
    "kd_loss",
    "policy_distillation_loss",
]
__version__ = "0.1.0"
