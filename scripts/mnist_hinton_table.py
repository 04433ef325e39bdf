"""The Hinton table of scripts/bench_mnist_hinton.py (``--part hinton``): each seed's hinton-mlp teacher (or
``--teacher``'s architecture, or one ensemble of them, or either averaged over shifts), the 800-800 students that
learn from it, and the table of their test errors beside Hinton et al. 2015's."""

from __future__ import annotations

import argparse
import re
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from mnist_runs import (  # a sibling: scripts/ is on sys.path
    TeacherRun,
    cpu_name,
    ensemble_run,
    shift_averaged_run,
    softness,
    student_run,
    teacher_run,
)

from rl_distill.io import atomic_write_json, atomic_write_text
from supervised.config import SGD_LR, MnistConfig
from supervised.data import MnistData
from supervised.models import default_dropout
from supervised.train import SoftTargets, live_teacher, stored_logits

PAPER = {"teacher": 67, "student-labels": 146, "student-soft-T20": 74}
HINTON_TEACHER = "hinton-mlp"
"""Hinton et al.'s teacher: 784-1200-1200-10 with dropout. ``--teacher`` can name another of
supervised.models.TEACHERS, trained the same way (2-pixel jitter), to see how much the teacher decides."""
STUDENT_EPOCHS = 40
TEACHER_RECIPE = "hidden-dropout"
"""The hinton-mlp teacher's regularisation: dropout on its hidden layers (0.5 unless --teacher-dropout), none on
its inputs."""


def mean_sd(values: list[float]) -> str:
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.1f}"


def hinton_seed(args: argparse.Namespace, seed: int) -> tuple[MnistConfig, Path]:
    """One seed of Hinton et al.'s setting: its config, and the folder its teacher and students share."""
    config = MnistConfig(teacher=args.teacher, epochs=args.teacher_epochs, jitter=2, mixup=args.teacher_mixup,
                         teacher_dropout=args.teacher_dropout,
                         student_hidden=(800, 800), student_epochs=args.student_epochs,
                         student_optimizer=args.student_optimizer, teacher_optimizer=args.teacher_optimizer,
                         seed=seed)  # fmt: skip
    # The folder names the teacher's recipe: runs of an earlier hinton-mlp (20% input dropout) stay apart.
    return config, args.runs / "hinton" / f"teacher-{teacher_recipe(args)}" / f"seed-{seed}"


def teacher_recipe(args: argparse.Namespace) -> str:
    """The teacher's folder name: hinton-mlp's keeps the name it had before other architectures could teach."""
    rate = f"{args.teacher_dropout:g}" if args.teacher_dropout is not None else ""
    mixup = f"-mixup{args.teacher_mixup:g}" if args.teacher_mixup else ""
    architecture = "" if args.teacher == HINTON_TEACHER else f"{args.teacher}-"
    optimiser = f"-sgd{SGD_LR:g}" if args.teacher_optimizer == "sgd" else ""
    return f"{architecture}{args.teacher_epochs}-epochs-{TEACHER_RECIPE}{rate}{mixup}{optimiser}"


def hinton_teachers(args: argparse.Namespace, data: MnistData,
                    rows: dict[str, list[dict[str, Any]]]) -> tuple[dict[int, TeacherRun], str]:  # fmt: skip
    """The teacher each seed's students learn from (its own, the --ensemble, either averaged over
    --teacher-shifts), its rows added to ``rows``, and the suffix that names the students' rows."""

    def seed_teacher(seed: int) -> TeacherRun:
        config, folder = hinton_seed(args, seed)
        return teacher_run(folder, config, data)

    teachers = {seed: seed_teacher(seed) for seed in args.seeds}
    rows["teacher"] = [{**row, **softness(logits)} for row, logits, _ in teachers.values()]
    suffix = ""
    if args.ensemble:  # every seed's students learn from one teacher: the mean of these seeds' teachers' logits
        ensemble = ensemble_run([teachers.get(seed) or seed_teacher(seed) for seed in args.ensemble], data)
        rows["teacher-ensemble"] = [ensemble[0]]
        teachers, suffix = dict.fromkeys(args.seeds, ensemble), f"-ensemble{''.join(map(str, args.ensemble))}"
    if args.teacher_shifts:  # each teacher's logits averaged over the shifts it was trained with
        name = f"teacher{suffix}-shifts{args.teacher_shifts}"
        averaged: dict[int, TeacherRun] = {}  # by the model's id: an ensemble is averaged once
        for run in teachers.values():
            if id(run[2]) not in averaged:
                averaged[id(run[2])] = shift_averaged_run(run, name, args.teacher_shifts, data)
                rows.setdefault(name, []).append(averaged[id(run[2])][0])
        teachers = {seed: averaged[id(model)] for seed, (_, _, model) in teachers.items()}
        suffix = f"{suffix}-shifts{args.teacher_shifts}"
    return teachers, suffix


def students_folder(args: argparse.Namespace, folder: Path) -> Path:
    """Students of another length or optimiser (the labels row too, so ratios compare equal training) keep apart."""
    students = folder if args.student_epochs == STUDENT_EPOCHS else folder / f"students-{args.student_epochs}-epochs"
    students = students / f"students-sgd{SGD_LR:g}" if args.student_optimizer == "sgd" else students
    students.mkdir(parents=True, exist_ok=True)
    return students


Variant = tuple[torch.Tensor, SoftTargets | None, MnistConfig]
"""A student's labels, its soft targets (None: labels only) and its config."""


def student_variants(args: argparse.Namespace, config: MnistConfig, labels: torch.Tensor, teacher: TeacherRun,
                     suffix: str) -> dict[str, Variant]:  # fmt: skip
    """Every student of one seed, by row name. Rows named with ``suffix`` learn from the ensemble or the
    averaged teacher; the labels rows, the same for any teacher, do not."""
    _, logits, model = teacher
    stored = stored_logits(logits)
    variants: dict[str, Variant] = {"student-labels": (labels, None, config),
                                    f"student-hard{suffix}": (logits.argmax(dim=1), None, config)}
    for t in dict.fromkeys((20.0, args.best_t)):
        for lam in args.lams:
            variants[f"student-soft-T{t:g}-lam{lam:g}{suffix}"] = (labels, stored,
                                                                   replace(config, temperature=t, lam=lam))
    if (args.student_jitter or args.student_mixup) and model is None:
        raise SystemExit(f"seed {config.seed}: teacher weights were not kept; move its folder away to retrain it")
    if args.student_jitter:  # the same shifts for both, so the soft targets' share of the gain shows
        pixels, shifted = args.student_jitter, f"-jitter{args.student_jitter}"
        best = replace(config, temperature=args.best_t, lam=args.lams[0], student_jitter=pixels)
        variants[f"student-labels{shifted}"] = (labels, None, replace(config, student_jitter=pixels))
        variants[f"student-soft-T{args.best_t:g}-lam{args.lams[0]:g}{shifted}{suffix}"] = (
            labels, live_teacher(model), best)  # fmt: skip
    if args.student_mixup:  # function matching: the teacher labels each blend; labels blended alike
        on_blends = live_teacher(model)
        for epochs in args.mixup_epochs:
            mixed = replace(config, student_mixup=args.student_mixup, student_epochs=epochs,
                            student_jitter=args.mixup_jitter)  # fmt: skip
            shift = f"-jitter{args.mixup_jitter}" if args.mixup_jitter else ""
            blend = f"{shift}-mixup{args.student_mixup:g}-{epochs}ep"
            # The soft student first: the row the target is about, kept if a run is stopped.
            variants[f"student-soft-T20-lam0{blend}{suffix}"] = (labels, on_blends,
                                                                 replace(mixed, temperature=20.0, lam=0.0))
            variants[f"student-labels{blend}"] = (labels, None, mixed)
    return variants


def hinton(args: argparse.Namespace, data: MnistData) -> None:
    rows: dict[str, list[dict[str, Any]]] = {}
    teachers, suffix = hinton_teachers(args, data, rows)
    for seed in args.seeds:
        config, folder = hinton_seed(args, seed)
        students = students_folder(args, folder)
        variants = student_variants(args, config, data.train_y, teachers[seed], suffix)
        for name, (labels, soft, variant) in variants.items():
            rows.setdefault(name, []).append(student_run(students / f"{name}.json", variant, data, labels, soft))
    table = {"seeds": args.seeds, "cpu": cpu_name(), "teacher": args.teacher, "teacher_epochs": args.teacher_epochs,
             "teacher_mixup": args.teacher_mixup, "teacher_dropout": args.teacher_dropout, "ensemble": args.ensemble,
             "student_epochs": args.student_epochs, "student_optimizer": args.student_optimizer,
             "teacher_optimizer": args.teacher_optimizer,
             "teacher_shifts": args.teacher_shifts,
             "lams": args.lams, "paper_errors": PAPER, "rows": rows}  # fmt: skip
    atomic_write_json(args.results / f"{args.stem}.json", table)
    text = hinton_markdown(args, rows, suffix)
    atomic_write_text(args.results / f"{args.stem}.md", text)
    print(text, end="", flush=True)


def hinton_markdown(args: argparse.Namespace, rows: dict[str, list[dict[str, Any]]], suffix: str) -> str:
    labels_errors = statistics.fmean(r["test_errors"] for r in rows["student-labels"])
    mixup = f", mixup α = {args.teacher_mixup:g}" if args.teacher_mixup else ""
    ensemble = f"; rows ending {suffix}: one teacher, the mean logits of those seeds' teachers" if suffix else ""
    if args.teacher_shifts:
        ensemble = (f"; rows ending {suffix}: the teacher{' ensemble' if args.ensemble else ''}'s logits averaged "
                    f"over its images shifted by up to {args.teacher_shifts} pixels")
    optimiser = f"SGD at {SGD_LR:g}, Nesterov momentum" if args.student_optimizer == "sgd" else "Adam"
    teacher_optimiser = f", SGD at {SGD_LR:g}, Nesterov momentum" if args.teacher_optimizer == "sgd" else ""
    rate = default_dropout(args.teacher) if args.teacher_dropout is None else args.teacher_dropout
    dropout = "no dropout" if rate is None else f"dropout {rate:g}"
    lines = [f"Hinton et al. 2015 §3 with rl-distill's loss: teacher {args.teacher} ({dropout}, 2-pixel "
             f"jitter{mixup}, {args.teacher_epochs} epochs{teacher_optimiser}{ensemble}), students 784-800-800-10 "
             f"({args.student_epochs} epochs, {optimiser}; lam: the label term's weight); test errors, mean ± std "
             f"over seeds {args.seeds}.", "",
             "| model | params | test errors | × labels-only errors | × labels-only on the same inputs | "
             "paper's errors | train s |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, runs in rows.items():
        errors = [r["test_errors"] for r in runs]
        own = name.removesuffix(suffix) if suffix else name  # the name of the same row with a single teacher
        changed = re.search(r"-(jitter|mixup).*$", own)  # students on shifted or blended images
        same_inputs = rows.get("student-labels" + (changed.group(0) if changed else ""))
        ratio = same = ""
        if not name.startswith("teacher"):
            ratio = f"{statistics.fmean(errors) / labels_errors:.3f}"
        if not name.startswith("teacher") and same_inputs:
            same = f"{statistics.fmean(errors) / statistics.fmean(r['test_errors'] for r in same_inputs):.3f}"
        other_teacher = name.startswith("teacher") and args.teacher != HINTON_TEACHER
        paper = "" if changed or own != name or other_teacher else PAPER.get(name.split("-lam")[0], "")  # one per T
        lines.append(f"| {name} | {runs[0]['params']:,} | {mean_sd(errors)} | {ratio} | {same} | {paper} | "
                     f"{statistics.fmean(r['train_seconds'] for r in runs):.0f} |")  # fmt: skip
    return "\n".join(lines) + "\n"
