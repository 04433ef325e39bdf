"""The runs of scripts/bench_mnist_hinton.py, each trained once: a teacher's or student's report is kept
under runs/ and read back instead of training again, so a stopped benchmark continues where it was."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from rl_distill.io import atomic_write, atomic_write_json
from supervised.config import MnistConfig
from supervised.data import MnistData
from supervised.models import LogitEnsemble, ShiftAverage, build_teacher, student_mlp
from supervised.train import SoftTargets, predict_logits, report, train_model, train_teacher

TeacherRun = tuple[dict[str, Any], torch.Tensor, nn.Module | None]
"""A teacher's report (with its ``softness``), its logits on the training images, and the model (None for a
teacher kept from before its weights were saved)."""


def teacher_run(folder: Path, config: MnistConfig, data: MnistData) -> TeacherRun:
    """Train (or reload) the teacher; its report, its logits on the training images and the model itself
    (None for a teacher kept from before its weights were saved)."""
    if (folder / "teacher.json").exists():
        teacher = None
        if (folder / "teacher.safetensors").exists():
            teacher = build_teacher(config.teacher, config.teacher_dropout)
            teacher.load_state_dict(load_file(folder / "teacher.safetensors"))
            teacher.eval()
        return json.loads((folder / "teacher.json").read_text()), torch.load(folder / "logits.pt"), teacher
    teacher, seconds = train_teacher(config, data)
    logits = predict_logits(teacher, data.train_x)
    atomic_write(folder / "logits.pt", lambda tmp: torch.save(logits, tmp))
    atomic_write(folder / "teacher.safetensors", lambda tmp: save_file(teacher.state_dict(), str(tmp)))
    result = asdict(report("teacher", teacher, data, seconds))
    atomic_write_json(folder / "teacher.json", result)
    return result, logits, teacher


def kept_models(runs: list[TeacherRun], option: str) -> list[nn.Module]:
    models = [model for _, _, model in runs if model is not None]
    if len(models) < len(runs):
        raise SystemExit(f"{option}: a teacher's weights were not kept; move its folder away to retrain it")
    return models


def ensemble_run(members: list[TeacherRun], data: MnistData) -> TeacherRun:
    """One teacher whose logits are the mean of the members' (its train time: theirs summed)."""
    ensemble = LogitEnsemble(kept_models(members, "--ensemble"))
    seconds = sum(row["train_seconds"] for row, _, _ in members)
    logits = predict_logits(ensemble, data.train_x)
    return {**asdict(report("teacher-ensemble", ensemble, data, seconds)), **softness(logits)}, logits, ensemble


def shift_averaged_run(run: TeacherRun, name: str, pixels: int, data: MnistData) -> TeacherRun:
    """``run``'s teacher averaged over its images shifted by up to ``pixels`` (test-time augmentation)."""
    row, _, _ = run
    average = ShiftAverage(kept_models([run], "--teacher-shifts")[0], pixels)
    start = time.perf_counter()
    logits = predict_logits(average, data.train_x)
    return ({**asdict(report(name, average, data, row["train_seconds"])), **softness(logits),
             "averaging_seconds": time.perf_counter() - start}, logits, average)  # fmt: skip


def student_run(path: Path, config: MnistConfig, data: MnistData, labels: torch.Tensor, soft: SoftTargets | None,
                extra: Callable[[nn.Module], dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """Train (or reload) one student from the seed's shared initialisation; ``extra`` adds measurements."""
    if path.exists():
        return json.loads(path.read_text())
    torch.manual_seed(config.seed + 1)  # the same initialisation for every student of a seed
    student = student_mlp(config.student_hidden)
    seconds = train_model(student, data.train_x, labels, config, name=path.stem, epochs=config.student_epochs,
                          soft_targets=soft, max_shift=config.student_jitter, mixup_alpha=config.student_mixup,
                          optimizer_name=config.student_optimizer)  # fmt: skip
    result = {**asdict(report(path.stem, student, data, seconds)), "temperature": config.temperature,
              "lam": config.lam, "epochs": config.student_epochs, "mixup": config.student_mixup,
              "optimizer": config.student_optimizer,
              **(extra(student) if extra else {})}  # fmt: skip
    atomic_write_json(path, result)
    return result


def cpu_name() -> str:
    """The CPU a table was computed on: the same seeds train to other weights on another CPU's float kernels."""
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def softness(logits: torch.Tensor) -> dict[str, float]:
    """How much a teacher's soft targets say beyond its answer, over the training images: the spread (std) of
    its 10 logits, and the probability its top class keeps at T = 20. Mixup shrinks the logits, and T = 20
    then leaves nearly uniform targets."""
    top = torch.softmax(logits / 20.0, dim=1).max(dim=1).values
    return {"logit_std": float(logits.std(dim=1).mean()), "top_probability_t20": float(top.mean())}
