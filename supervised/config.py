"""Every setting of one MNIST teacher -> student run, checked: ``MnistConfig``."""

from __future__ import annotations

from dataclasses import dataclass

from rl_distill.errors import InputError
from rl_distill.losses import check_lam, check_temperature
from supervised.models import TEACHERS, default_dropout

MAX_JITTER = 8
"""Beyond this a shifted 28x28 digit loses strokes; Hinton et al. used 2."""
MAX_MIXUP = 100.0
"""Beta(a, a) with a larger a puts nearly every blend at half and half: no use as an augmentation."""
OPTIMIZERS = ("adam", "sgd")
SGD_LR, SGD_MOMENTUM = 0.01, 0.9
"""SGD for students and teachers: Nesterov momentum, as Hinton et al. trained their nets. The soft-target loss (T^2 KL)
on an 800-800 student starts about 20 times larger than cross-entropy at T = 20 (the teacher's logits spread
~9): at rate 0.05 it diverged in the first epoch, at 0.01 it did not."""


@dataclass(frozen=True)
class MnistConfig:
    """Every setting of one MNIST teacher -> student run."""

    epochs: int = 8
    """Teacher training epochs."""
    student_epochs: int = 30
    """Epochs for each student (a small MLP epoch costs under a second)."""
    teacher: str = "cnn-wide"
    """Teacher architecture, one of supervised.models.TEACHERS."""
    student_hidden: tuple[int, ...] = (50,)
    """Hidden layer sizes of the student MLP."""
    temperature: float = 2.5
    """Softmax temperature T of the soft-target term."""
    lam: float = 0.1
    """Weight of the label cross-entropy; 1 - lam weights T^2 * KL."""
    batch_size: int = 128
    """Minibatch size for every model."""
    lr: float = 1e-3
    """Adam learning rate (cosine-decayed to zero over the run)."""
    teacher_optimizer: str = "adam"
    """Teacher: adam (at ``lr``) or sgd (SGD_LR, Nesterov momentum SGD_MOMENTUM), cosine-decayed alike. Hinton et
    al. trained theirs with SGD; jittered hinton-mlp teachers trained so for 60 epochs made as many test errors as
    adam ones but taught 800-800 students more (0.681 of labels-only against 0.768), and for 120 epochs made the
    paper's errors (68.6) and taught them to 0.596 (docs/mnist-hinton.md, "Twice as long")."""
    student_optimizer: str = "adam"
    """Students: adam or sgd, as ``teacher_optimizer``."""
    seed: int = 0
    """Seeds weights, batch order and dropout."""
    train_subset: int | None = None
    """Use only the first N training images (quick runs and tests)."""
    jitter: int = 0
    """Teacher: shift each training image by up to this many pixels per axis, labels kept (0: none)."""
    teacher_dropout: float | None = None
    """Teacher: the rate of its dropout layers (None: the architecture's own, 0.5 for hinton-mlp, 0.3 for
    cnn-wide; the cnn has none)."""
    mixup: float = 0.0
    """Teacher: blend each (shifted) image with another of its batch, weight ~ Beta(a, a), labels blended alike
    (mixup, Zhang et al. 2018; 0: off). It makes a stronger teacher with smaller logits, whose soft targets
    teach a student less (docs/mnist-hinton.md: 62 ensemble errors, yet its students are worse)."""
    student_jitter: int = 0
    """Students: the same shifts; a soft-target student then learns the teacher's logits on the shifted image."""
    student_mixup: float = 0.0
    """Students: blend each image with another of its batch, weight ~ Beta(a, a) (mixup; 0: off); a soft-target
    student learns the teacher's logits on the blend ("function matching", Beyer et al. 2022), the others the
    same blend of the two labels."""

    def validate(self) -> None:
        if self.epochs <= 0 or self.student_epochs <= 0:
            raise InputError(f"--epochs and --student-epochs must be positive, got {self.epochs}, "
                             f"{self.student_epochs}")
        if self.teacher not in TEACHERS:
            raise InputError(f"unknown teacher {self.teacher!r}; choose one of {', '.join(TEACHERS)}")
        rate = self.teacher_dropout
        if rate is not None and not (default_dropout(self.teacher) is not None and 0.0 <= rate < 1.0):
            with_dropout = ", ".join(name for name in TEACHERS if default_dropout(name) is not None)
            raise InputError(f"--teacher-dropout must lie in [0, 1) for a teacher with dropout layers "
                             f"({with_dropout}), got {rate} for {self.teacher}")
        if not self.student_hidden or min(self.student_hidden) <= 0:
            raise InputError(f"--student-hidden sizes must be positive, got {list(self.student_hidden)}")
        try:
            check_temperature(self.temperature)
            check_lam(self.lam)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        for flag, pixels in (("--jitter", self.jitter), ("--student-jitter", self.student_jitter)):
            if not 0 <= pixels <= MAX_JITTER:
                raise InputError(f"{flag} must be a whole number of pixels from 0 to {MAX_JITTER}, got {pixels}")
        for flag, alpha in (("--mixup", self.mixup), ("--student-mixup", self.student_mixup)):
            if not 0.0 <= alpha <= MAX_MIXUP:
                raise InputError(f"{flag} must be a Beta parameter from 0 (off) to {MAX_MIXUP:g}, got {alpha}")
        for flag, name in (("--teacher-optimizer", self.teacher_optimizer),
                           ("--student-optimizer", self.student_optimizer)):
            if name not in OPTIMIZERS:
                raise InputError(f"{flag} must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
        if self.train_subset is not None and self.train_subset <= 0:
            raise InputError(f"--train-subset must be positive, got {self.train_subset}")
