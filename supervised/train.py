"""Train an MNIST teacher, then the same student three ways, and report the comparison."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from rl_distill.errors import InputError
from rl_distill.io import atomic_write, atomic_write_json, atomic_write_text
from rl_distill.losses import kd_loss
from rl_distill.progress import Progress
from supervised.config import OPTIMIZERS, SGD_LR, SGD_MOMENTUM, MnistConfig
from supervised.data import MnistData, jitter, load_mnist, mixup
from supervised.models import build_teacher, count_params, student_mlp


@dataclass(frozen=True)
class ModelReport:
    name: str
    test_accuracy: float
    test_errors: int
    params: int
    images_per_second: float
    train_seconds: float


@dataclass(frozen=True)
class MnistResult:
    config: MnistConfig
    models: list[ModelReport] = field(default_factory=list)


SoftTargets = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""The teacher's logits for one batch, given the batch's indices and its images as the student sees them."""


def stored_logits(logits: torch.Tensor) -> SoftTargets:
    """Logits computed once on the unshifted training images: right for students that see those images."""
    return lambda batch, _images: logits[batch]


def live_teacher(teacher: nn.Module) -> SoftTargets:
    """The teacher's logits on exactly the (shifted) images the student sees, one teacher pass per batch:
    a stored target for the unshifted image would teach the student a wrong answer where the shift matters."""
    teacher.eval()

    def targets(_batch: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # not inference_mode: the loss keeps these probabilities for its backward pass
            return teacher(images)

    return targets


def build_optimizer(model: nn.Module, name: str, adam_lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM, nesterov=True)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=adam_lr)
    raise ValueError(f"unknown optimiser {name!r}; one of {', '.join(OPTIMIZERS)}")  # a caller's bug


def train_model(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: MnistConfig,
    *,
    name: str,
    epochs: int,
    soft_targets: SoftTargets | None = None,
    max_shift: int = 0,
    mixup_alpha: float = 0.0,
    optimizer_name: str = "adam",
) -> float:
    """Train in place; cross-entropy on ``labels``, or soft KD when ``soft_targets`` is given;
    ``max_shift`` > 0 jitters every batch (see :func:`supervised.data.jitter`), ``mixup_alpha`` > 0 then
    blends its images in pairs, labels too (:func:`supervised.data.mixup`); ``optimizer_name`` is one of
    OPTIMIZERS.

    Batches are drawn by index from in-memory tensors with a generator seeded from the config,
    so the three students see the same batch order. Returns wall seconds.
    """
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = build_optimizer(model, optimizer_name, config.lr)
    steps_per_epoch = -(-len(images) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    start = time.perf_counter()
    model.train()
    progress = Progress(epochs * steps_per_epoch, name, line_every=1 / epochs)  # a line per epoch in a log file
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for batch in order.split(config.batch_size):
            inputs, targets = jitter(images[batch], max_shift, generator), labels[batch]
            if mixup_alpha:
                inputs, targets = mixup(inputs, targets, mixup_alpha, generator)  # targets: class probabilities
            logits = model(inputs)
            if soft_targets is None:
                loss = F.cross_entropy(logits, targets)
            else:
                terms = kd_loss(
                    logits, soft_targets(batch, inputs), targets, temperature=config.temperature, lam=config.lam
                )
                loss = terms.total
            if not torch.isfinite(loss):  # a diverged run would go on to report chance-level errors
                raise InputError(f"{name}: the loss became {loss.item()} at step {progress.count + 1:,} of "
                                 f"{epochs * steps_per_epoch:,}; lower the learning rate or use another optimiser")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            progress.update(1, loss=f"{loss.item():.4f}")
    progress.close()
    model.eval()
    return time.perf_counter() - start


@torch.inference_mode()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    model.eval()
    return torch.cat([model(chunk) for chunk in images.split(batch_size)])


@torch.inference_mode()
def images_per_second(model: nn.Module, images: torch.Tensor, batch_size: int = 1024, repeats: int = 5) -> float:
    batch = images[:batch_size]
    model.eval()
    model(batch)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        model(batch)
    return repeats * len(batch) / (time.perf_counter() - start)


def report(name: str, model: nn.Module, data: MnistData, seconds: float) -> ModelReport:
    predictions = predict_logits(model, data.test_x).argmax(dim=1)
    errors = int((predictions != data.test_y).sum())
    return ModelReport(
        name=name,
        test_accuracy=1.0 - errors / len(data.test_y),
        test_errors=errors,
        params=count_params(model),
        images_per_second=images_per_second(model, data.test_x),
        train_seconds=seconds,
    )


def train_teacher(config: MnistConfig, data: MnistData) -> tuple[nn.Module, float]:
    """The config's teacher, seeded by it and trained on labels with its augmentations; and its wall seconds."""
    torch.manual_seed(config.seed)
    teacher = build_teacher(config.teacher, config.teacher_dropout)
    seconds = train_model(teacher, data.train_x, data.train_y, config, name="teacher", epochs=config.epochs,
                          max_shift=config.jitter, mixup_alpha=config.mixup,
                          optimizer_name=config.teacher_optimizer)  # fmt: skip
    return teacher, seconds


def run_mnist(config: MnistConfig, data: MnistData) -> tuple[MnistResult, dict[str, nn.Module]]:
    """Teacher on labels; then one student initialisation trained on labels, hard and soft targets."""
    config.validate()
    if config.train_subset is not None:
        data = data.subset_train(config.train_subset)
    teacher, seconds = train_teacher(config, data)
    reports = [report("teacher", teacher, data, seconds)]
    teacher_logits = predict_logits(teacher, data.train_x)  # once, not per batch
    changed_inputs = config.student_jitter or config.student_mixup  # stored logits are for the unchanged images
    soft = live_teacher(teacher) if changed_inputs else stored_logits(teacher_logits)

    torch.manual_seed(config.seed + 1)
    initial = student_mlp(config.student_hidden)
    models: dict[str, nn.Module] = {"teacher": teacher}
    variants = {
        "student-labels": (data.train_y, None),
        "student-hard": (teacher_logits.argmax(dim=1), None),
        "student-soft": (data.train_y, soft),
    }
    for name, (labels, targets) in variants.items():
        student = copy.deepcopy(initial)
        seconds = train_model(student, data.train_x, labels, config, name=name, epochs=config.student_epochs,
                              soft_targets=targets, max_shift=config.student_jitter,
                              mixup_alpha=config.student_mixup, optimizer_name=config.student_optimizer)  # fmt: skip
        reports.append(report(name, student, data, seconds))
        models[name] = student
    return MnistResult(config=config, models=reports), models


def omitted_class_errors(logits: torch.Tensor, labels: torch.Tensor, omitted: int) -> dict[str, float]:
    """Errors on the ``omitted`` class (one the model never saw in training); then, overall and on that class,
    after raising its output's bias by the amount (on a 0.1 grid up to 20) that minimises the overall errors,
    Hinton et al. 2015's correction for a class missing from the transfer set."""

    def errors(bias: float) -> tuple[int, int]:
        shifted = logits.clone()
        shifted[:, omitted] += bias
        wrong = shifted.argmax(dim=1) != labels
        return int(wrong.sum()), int(wrong[labels == omitted].sum())

    best = min((b / 10 for b in range(201)), key=lambda b: errors(b)[0])
    corrected, corrected_omitted = errors(best)
    return {"errors_omitted": errors(0.0)[1], "bias": best, "corrected": corrected,
            "corrected_omitted": corrected_omitted}  # fmt: skip


def markdown_table(reports: Sequence[ModelReport]) -> str:
    lines = [
        "| model | test accuracy | test errors | params | images/s (batch 1024) | train s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        lines.append(
            f"| {r.name} | {100 * r.test_accuracy:.2f}% | {r.test_errors} | {r.params:,} "
            f"| {r.images_per_second:,.0f} | {r.train_seconds:.1f} |"
        )
    return "\n".join(lines) + "\n"


def save_run(result: MnistResult, models: dict[str, nn.Module], out: Path, data_source: str) -> None:
    """Write results.json, results.md and each model's weights (safetensors) to ``out``, atomically."""
    out.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
        atomic_write(out / f"{name}.safetensors", lambda tmp, t=tensors: save_file(t, str(tmp)))
    payload = {"config": asdict(result.config), "data": data_source, "models": [asdict(r) for r in result.models]}
    atomic_write_json(out / "results.json", payload)
    atomic_write_text(out / "results.md", markdown_table(result.models))


def mnist_main(config: MnistConfig, *, data_dir: str | None, out: Path) -> MnistResult:
    config.validate()
    data = load_mnist(data_dir)
    result, models = run_mnist(config, data)
    save_run(result, models, out, data.source)
    print(markdown_table(result.models))
    print(f"wrote {out}/results.json")
    return result
