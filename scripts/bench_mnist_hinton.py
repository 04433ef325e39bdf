"""Hinton et al. 2015 §3 with our loss, and where soft targets help.

--part hinton -> results/mnist-hinton.{json,md}: the hinton-mlp teacher (784-1200-1200-10, dropout) with
  2-pixel jitter; the 800-800 student on labels, on the teacher's hard labels, and on soft targets at
  T = 20 and at --best-t, each with every label weight of --lams; with --student-mixup (default 1) the
  labels student and a soft-target student (T = 20, lam 0) on mixup blends of image pairs, the latter on the
  teacher's logits for each blend (function matching), for each of --mixup-epochs (with --mixup-jitter P, blends
  of images shifted by up to P pixels: both augmentations); one row per model, mean ± std
  over the seeds, beside the paper's figures and against labels-only on the same inputs. With --ensemble SEEDS
  every student learns from one teacher instead, the mean of those seeds' teachers' logits (the labels rows
  are unchanged); with --teacher-shifts P the teacher (or the ensemble) is averaged over its images shifted by
  up to P pixels (docs/mnist-hinton.md: a better teacher, not a better one to learn from). The JSON names the
  CPU: other float kernels train the same seeds to other weights.
--part grid -> results/mnist-grid.{json,md,png}: the default student (784-50-10) of the default teacher
  (cnn-wide) on soft targets for T in 1, 2.5, 4, 8, 20 and lam in 0.1, 0.5, against the same student on
  labels; 2 seeds; a table and a heat map of the change in test errors.
--part transfer -> results/mnist-transfer.{json,md}: §3's omitted-digit experiment: the 800-800 student
  trained without any 3 (on labels, and on the hinton teacher's soft targets at T = 20), its errors on the
  test set's 3s, and with the paper's correction: the 3's output bias raised by the amount that minimises
  test errors (chosen on the test set, as the paper did, so that row is an upper bound).
Every trained model's result (and each teacher's logits) is kept under runs/bench-mnist/<part>/, so a
stopped run continues where it was. Run, e.g.:
    .venv/bin/python scripts/bench_mnist_hinton.py --part grid --threads 2
    .venv/bin/python scripts/bench_mnist_hinton.py --part hinton --teacher-epochs 60 --student-epochs 40
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from mnist_runs import cpu_name, softness, student_run, teacher_run  # a sibling: scripts/ is on sys.path
from torch import nn

from rl_distill.io import atomic_write, atomic_write_json, atomic_write_text
from supervised.config import MAX_JITTER, MAX_MIXUP, SGD_LR, STUDENT_OPTIMIZERS, MnistConfig
from supervised.data import MnistData, load_mnist
from supervised.models import LogitEnsemble, ShiftAverage, default_dropout
from supervised.train import live_teacher, omitted_class_errors, predict_logits, report, stored_logits

ROOT = Path(__file__).resolve().parent.parent
RESULTS, RUNS = ROOT / "results", ROOT / "runs" / "bench-mnist"
PAPER = {"teacher": 67, "student-labels": 146, "student-soft-T20": 74}
STUDENT_EPOCHS = 40
TEACHER_RECIPE = "hidden-dropout"
"""The hinton-mlp teacher's regularisation: dropout on its hidden layers (0.5 unless --teacher-dropout), none on
its inputs."""


def mean_sd(values: list[float]) -> str:
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.1f}"


def hinton_seed(args: argparse.Namespace, seed: int) -> tuple[MnistConfig, Path]:
    """One seed of Hinton et al.'s setting: its config, and the folder its teacher and students share."""
    config = MnistConfig(teacher="hinton-mlp", epochs=args.teacher_epochs, jitter=2, mixup=args.teacher_mixup,
                         teacher_dropout=args.teacher_dropout,
                         student_hidden=(800, 800), student_epochs=args.student_epochs,
                         student_optimizer=args.student_optimizer, seed=seed)  # fmt: skip
    # The folder names the teacher's recipe: runs of an earlier hinton-mlp (20% input dropout) stay apart.
    return config, args.runs / "hinton" / f"teacher-{teacher_recipe(args)}" / f"seed-{seed}"


def teacher_recipe(args: argparse.Namespace) -> str:
    rate = f"{args.teacher_dropout:g}" if args.teacher_dropout is not None else ""
    mixup = f"-mixup{args.teacher_mixup:g}" if args.teacher_mixup else ""
    return f"{args.teacher_epochs}-epochs-{TEACHER_RECIPE}{rate}{mixup}"


def hinton(args: argparse.Namespace, data: MnistData) -> None:
    rows: dict[str, list[dict[str, Any]]] = {}

    def seed_teacher(seed: int) -> tuple[dict[str, Any], torch.Tensor, nn.Module | None]:
        config, folder = hinton_seed(args, seed)
        return teacher_run(folder, config, data)

    teachers = {seed: seed_teacher(seed) for seed in args.seeds}
    rows["teacher"] = [{**report, **softness(logits)} for report, logits, _ in teachers.values()]
    suffix = ""
    if args.ensemble:  # every seed's students learn from one teacher: the mean of these seeds' teachers' logits
        member_runs = [teachers.get(seed) or seed_teacher(seed) for seed in args.ensemble]
        members = [model for _, _, model in member_runs]
        if any(model is None for model in members):
            raise SystemExit("--ensemble: a teacher's weights were not kept; move its folder away to retrain it")
        ensemble, suffix = LogitEnsemble(members), f"-ensemble{''.join(map(str, args.ensemble))}"
        seconds = sum(report["train_seconds"] for report, _, _ in member_runs)
        logits = predict_logits(ensemble, data.train_x)
        rows["teacher-ensemble"] = [{**asdict(report("teacher-ensemble", ensemble, data, seconds)), **softness(logits)}]
        teachers = dict.fromkeys(args.seeds, (rows["teacher-ensemble"][0], logits, ensemble))
    if args.teacher_shifts:  # each teacher's logits averaged over the shifts it was trained with
        averaged: dict[int, tuple[dict[str, Any], torch.Tensor, nn.Module | None]] = {}  # by id: one ensemble
        for row, _, model in teachers.values():
            if model is None:
                raise SystemExit("--teacher-shifts: a teacher's weights were not kept; move its folder away")
            if id(model) not in averaged:
                name, average = f"teacher{suffix}-shifts{args.teacher_shifts}", ShiftAverage(model, args.teacher_shifts)
                start = time.perf_counter()
                logits = predict_logits(average, data.train_x)
                row = {**asdict(report(name, average, data, row["train_seconds"])), **softness(logits),
                       "averaging_seconds": time.perf_counter() - start}  # fmt: skip
                rows.setdefault(name, []).append(row)
                averaged[id(model)] = (row, logits, average)
        teachers = {seed: averaged[id(model)] for seed, (_, _, model) in teachers.items()}
        suffix = f"{suffix}-shifts{args.teacher_shifts}"
    for seed in args.seeds:
        config, folder = hinton_seed(args, seed)
        _, logits, model = teachers[seed]
        stored = stored_logits(logits)
        # students of another length or optimiser (the labels row too, so ratios compare equal training) keep apart
        own_length = args.student_epochs == STUDENT_EPOCHS
        students = folder if own_length else folder / f"students-{args.student_epochs}-epochs"
        students = students / f"students-sgd{SGD_LR:g}" if args.student_optimizer == "sgd" else students
        students.mkdir(parents=True, exist_ok=True)
        # rows named with the suffix learn from the ensemble; the labels rows, the same for any teacher, do not
        variants = {"student-labels": (data.train_y, None, config),
                    f"student-hard{suffix}": (logits.argmax(dim=1), None, config)}
        for t in dict.fromkeys((20.0, args.best_t)):
            for lam in args.lams:
                variants[f"student-soft-T{t:g}-lam{lam:g}{suffix}"] = (data.train_y, stored,
                                                                       replace(config, temperature=t, lam=lam))
        if (args.student_jitter or args.student_mixup) and model is None:
            raise SystemExit(f"{folder}: teacher weights were not kept; move the folder away to retrain it")
        if args.student_jitter:  # the same shifts for both, so the soft targets' share of the gain shows
            pixels, shifted = args.student_jitter, f"-jitter{args.student_jitter}"
            best = replace(config, temperature=args.best_t, lam=args.lams[0], student_jitter=pixels)
            variants[f"student-labels{shifted}"] = (data.train_y, None, replace(config, student_jitter=pixels))
            variants[f"student-soft-T{args.best_t:g}-lam{args.lams[0]:g}{shifted}{suffix}"] = (
                data.train_y, live_teacher(model), best)  # fmt: skip
        if args.student_mixup:  # function matching: the teacher labels each blend; labels blended alike
            on_blends = live_teacher(model)
            for epochs in args.mixup_epochs:
                mixed = replace(config, student_mixup=args.student_mixup, student_epochs=epochs,
                                student_jitter=args.mixup_jitter)  # fmt: skip
                shift = f"-jitter{args.mixup_jitter}" if args.mixup_jitter else ""
                blend = f"{shift}-mixup{args.student_mixup:g}-{epochs}ep"
                # The soft student first: the row the target is about, kept if a run is stopped.
                variants[f"student-soft-T20-lam0{blend}{suffix}"] = (data.train_y, on_blends,
                                                                     replace(mixed, temperature=20.0, lam=0.0))
                variants[f"student-labels{blend}"] = (data.train_y, None, mixed)
        for name, (labels, soft, variant) in variants.items():
            rows.setdefault(name, []).append(student_run(students / f"{name}.json", variant, data, labels, soft))
    table = {"seeds": args.seeds, "cpu": cpu_name(), "teacher_epochs": args.teacher_epochs,
             "teacher_mixup": args.teacher_mixup, "teacher_dropout": args.teacher_dropout, "ensemble": args.ensemble,
             "student_epochs": args.student_epochs, "student_optimizer": args.student_optimizer,
             "teacher_shifts": args.teacher_shifts,
             "lams": args.lams, "paper_errors": PAPER, "rows": rows}  # fmt: skip
    atomic_write_json(args.results / f"{args.stem}.json", table)
    labels_errors = statistics.fmean(r["test_errors"] for r in rows["student-labels"])
    mixup = f", mixup α = {args.teacher_mixup:g}" if args.teacher_mixup else ""
    ensemble = f"; rows ending {suffix}: one teacher, the mean logits of those seeds' teachers" if suffix else ""
    if args.teacher_shifts:
        ensemble = (f"; rows ending {suffix}: the teacher{' ensemble' if args.ensemble else ''}'s logits averaged "
                    f"over its images shifted by up to {args.teacher_shifts} pixels")
    optimiser = f"SGD at {SGD_LR:g}, Nesterov momentum" if args.student_optimizer == "sgd" else "Adam"
    lines = [f"Hinton et al. 2015 §3 with rl-distill's loss: teacher hinton-mlp (hidden-layer dropout "
             f"{default_dropout('hinton-mlp') if args.teacher_dropout is None else args.teacher_dropout:g}, 2-pixel "
             f"jitter{mixup}, {args.teacher_epochs} epochs{ensemble}), students 784-800-800-10 "
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
        paper = "" if changed or own != name else PAPER.get(name.split("-lam")[0], "")  # one soft figure per T
        lines.append(f"| {name} | {runs[0]['params']:,} | {mean_sd(errors)} | {ratio} | {same} | {paper} | "
                     f"{statistics.fmean(r['train_seconds'] for r in runs):.0f} |")  # fmt: skip
    atomic_write_text(args.results / f"{args.stem}.md", "\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def grid(args: argparse.Namespace, data: MnistData) -> None:
    temperatures, lams = [1.0, 2.5, 4.0, 8.0, 20.0], [0.1, 0.5]
    cells: dict[str, list[float]] = {}
    baseline: list[float] = []
    for seed in args.seeds:
        config = MnistConfig(seed=seed)
        folder = args.runs / "grid" / f"seed-{seed}"
        _, logits, _ = teacher_run(folder, config, data)
        baseline.append(student_run(folder / "student-labels.json", config, data, data.train_y, None)["test_errors"])
        for t in temperatures:
            for lam in lams:
                run = student_run(folder / f"soft-T{t:g}-lam{lam:g}.json", replace(config, temperature=t, lam=lam),
                                  data, data.train_y, stored_logits(logits))  # fmt: skip
                cells.setdefault(f"{t:g},{lam:g}", []).append(run["test_errors"])
    base = statistics.fmean(baseline)
    atomic_write_json(args.results / "mnist-grid.json", {"seeds": args.seeds, "labels_only_errors": baseline,
                                                     "soft_errors": cells})  # fmt: skip
    lines = [f"Default student (784-50-10, cnn-wide teacher): test errors on soft targets by T and lam, mean over "
             f"seeds {args.seeds}; labels only: {base:.1f}. Negative change = soft targets help.", "",
             "| T | " + " | ".join(f"lam {lam:g}" for lam in lams) + " |", "|---:|" + "---:|" * len(lams)]  # fmt: skip
    for t in temperatures:
        values = [statistics.fmean(cells[f"{t:g},{lam:g}"]) for lam in lams]
        lines.append(f"| {t:g} | " + " | ".join(f"{v:.1f} ({v - base:+.1f})" for v in values) + " |")
    atomic_write_text(args.results / "mnist-grid.md", "\n".join(lines) + "\n")
    heat_map(temperatures, lams, cells, base, args.results / "mnist-grid.png")
    print("\n".join(lines), flush=True)


def transfer(args: argparse.Namespace, data: MnistData, omitted: int = 3) -> None:
    rows: dict[str, list[dict[str, Any]]] = {}

    def measure(model: nn.Module) -> dict[str, float]:
        return omitted_class_errors(predict_logits(model, data.test_x), data.test_y, omitted)

    for seed in args.seeds:
        config, folder = hinton_seed(args, seed)
        _, logits, _ = teacher_run(folder, config, data)
        keep = data.train_y != omitted
        kept = MnistData(data.train_x[keep], data.train_y[keep], data.test_x, data.test_y, data.source)
        variants = {"student-labels": None, "student-soft-T20": stored_logits(logits[keep])}
        for name, soft in variants.items():
            run = student_run(folder / f"{name}-no{omitted}.json", replace(config, temperature=20.0), kept,
                              kept.train_y, soft, extra=measure)  # fmt: skip
            rows.setdefault(name, []).append(run)
    atomic_write_json(args.results / "mnist-transfer.json", {
        "seeds": args.seeds, "omitted": omitted, "teacher_epochs": args.teacher_epochs,
        "teacher_mixup": args.teacher_mixup, "teacher_dropout": args.teacher_dropout, "rows": rows})  # fmt: skip
    lines = [f"Hinton et al. 2015 §3, digit {omitted} omitted from the students' training set (784-800-800-10, "
             f"{args.student_epochs} epochs; teacher hinton-mlp ({teacher_recipe(args)}), "
             f"trained on every digit); test errors, mean over seeds {args.seeds}; "
             f"{int((data.test_y == omitted).sum())} test {omitted}s. Paper (soft targets, T = 20): 206 errors, "
             "133 on 3s; with the bias raised by 3.5: 109, 14 on 3s.", "",
             f"| student | test errors | on {omitted}s | bias raised by | test errors then | on {omitted}s then |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, runs in rows.items():
        keys = ("test_errors", "errors_omitted", "bias", "corrected", "corrected_omitted")
        cells = [statistics.fmean(r[key] for r in runs) for key in keys]
        lines.append(f"| {name} | {cells[0]:.1f} | {cells[1]:.1f} | {cells[2]:.1f} | {cells[3]:.1f} | "
                     f"{cells[4]:.1f} |")
    atomic_write_text(args.results / "mnist-transfer.md", "\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def heat_map(temperatures: list[float], lams: list[float], cells: dict[str, list[float]], base: float,
             path: Path) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    change = np.array([[statistics.fmean(cells[f"{t:g},{lam:g}"]) - base for lam in lams] for t in temperatures])
    limit = float(np.abs(change).max()) or 1.0
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    image = ax.imshow(change, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(lams)), [f"{lam:g}" for lam in lams])
    ax.set_yticks(range(len(temperatures)), [f"{t:g}" for t in temperatures])
    for i in range(len(temperatures)):
        for j in range(len(lams)):
            ax.text(j, i, f"{change[i, j]:+.0f}", ha="center", va="center", fontsize=9)
    ax.set_xlabel("lam (weight of the label term)")
    ax.set_ylabel("temperature T")
    ax.set_title(f"test errors vs labels only ({base:.0f})")
    fig.colorbar(image, ax=ax, shrink=0.8, label="change in test errors (blue: fewer)")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("hinton", "grid", "transfer"), required=True,
                        help="hinton: the paper's table; grid: (T, lam) for the small student; transfer: no 3s")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="default: 0 1 2 (hinton, transfer), 0 1 (grid)")
    parser.add_argument("--teacher-epochs", type=int, default=60, help="hinton: the teacher's epochs")
    parser.add_argument("--student-epochs", type=int, default=STUDENT_EPOCHS, help="hinton: epochs of every "
                        "student but the mixup rows (another value trains all of them, labels-only too, in a folder "
                        "of its own)")
    parser.add_argument("--teacher-dropout", type=float, default=None, metavar="RATE", help="hinton, transfer: "
                        "the teacher's hidden-layer dropout (default 0.5, Hinton et al.'s; teachers of each recipe get "
                        "their own folder)")
    parser.add_argument("--teacher-mixup", type=float, default=0.0, help="hinton, transfer: also blend the "
                        "teacher's shifted images in pairs, weight ~ Beta(ALPHA, ALPHA) (mixup; 0: jitter only, as "
                        "the paper; teachers of each recipe get their own folder)")
    parser.add_argument("--best-t", type=float, default=4.0, help="the second soft-target temperature (hinton)")
    parser.add_argument("--lams", type=float, nargs="+", default=[0.1, 0.0],
                        help="hinton: label-term weights of the soft-target students, one row per T and lam "
                             "(transfer: 0.1)")
    parser.add_argument("--student-jitter", type=int, default=2, help="hinton: also train the labels and best-T "
                        "students on images shifted by up to this many pixels, the latter on the teacher's logits "
                        "for each shifted image (0: skip these rows)")
    parser.add_argument("--student-mixup", type=float, default=1.0, help="hinton: also train the labels student "
                        "and a soft-target student (T = 20, lam 0) on mixup blends of pairs of images, weight ~ "
                        "Beta(ALPHA, ALPHA), the latter on the teacher's logits for each blend (function matching; "
                        "0: skip these rows)")
    parser.add_argument("--mixup-epochs", type=int, nargs="+", default=[100, 200], help="hinton: epochs of the "
                        "mixup rows, two rows per value (blends keep giving new inputs, so they train longer than "
                        "the others)")
    parser.add_argument("--mixup-jitter", type=int, default=0, help="hinton: shift the mixup rows' images by up "
                        "to this many pixels before blending (both augmentations at once; 0: blends only)")
    parser.add_argument("--ensemble", type=int, nargs="+", default=None, metavar="SEED", help="hinton: the "
                        "students of every --seeds seed learn from one teacher, the mean of the logits of these seeds' "
                        "teachers (rows named -ensemble<SEEDS>; the labels rows are shared with single-teacher runs)")
    parser.add_argument("--teacher-shifts", type=int, default=0, metavar="PIXELS", help="hinton: every student "
                        "learns from its teacher (or the ensemble) averaged over its images shifted by up to PIXELS "
                        "along each axis: the mean of its logits on (2 PIXELS + 1)^2 copies, the shifts a jittered "
                        "teacher was trained on (rows named -shifts<PIXELS>; 0: off)")
    parser.add_argument("--student-optimizer", choices=STUDENT_OPTIMIZERS, default="adam", help="hinton: the "
                        "students' optimiser (sgd: every student, labels-only too, in a folder of its own)")
    parser.add_argument("--stem", default="mnist-hinton", help="hinton: write results/<stem>.{json,md}")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--train-subset", type=int, default=None,
                        help="first N training images only (smoke runs; runs and tables go to "
                             "runs/bench-mnist/subset-N/)")
    args = parser.parse_args()
    if not all(0.0 <= lam <= 1.0 for lam in args.lams):
        parser.error(f"--lams: each label weight must lie in [0, 1], got {args.lams}")
    if not 0 <= args.teacher_shifts <= MAX_JITTER:
        parser.error(f"--teacher-shifts must lie in [0, {MAX_JITTER}] pixels, got {args.teacher_shifts}")
    if not 0 <= args.mixup_jitter <= MAX_JITTER:
        parser.error(f"--mixup-jitter must lie in [0, {MAX_JITTER}] pixels, got {args.mixup_jitter}")
    if min(args.teacher_epochs, args.student_epochs) <= 0:
        parser.error(f"--teacher-epochs and --student-epochs must be positive, got {args.teacher_epochs}, "
                     f"{args.student_epochs}")
    if args.teacher_dropout is not None and not 0.0 <= args.teacher_dropout < 1.0:
        parser.error(f"--teacher-dropout must lie in [0, 1), got {args.teacher_dropout}")
    if not 0.0 <= args.teacher_mixup <= MAX_MIXUP:
        parser.error(f"--teacher-mixup must lie in [0, {MAX_MIXUP:g}], got {args.teacher_mixup}")
    if not 0.0 <= args.student_mixup <= MAX_MIXUP or min(args.mixup_epochs) <= 0:
        parser.error(f"--student-mixup must lie in [0, {MAX_MIXUP:g}] and --mixup-epochs be positive, got "
                     f"{args.student_mixup}, {args.mixup_epochs}")
    args.seeds = args.seeds or ([0, 1] if args.part == "grid" else [0, 1, 2])
    torch.set_num_threads(args.threads)
    data = load_mnist()
    args.runs, args.results = RUNS, RESULTS
    if args.train_subset:  # a smoke run: its models and tables never mix with the real ones
        data = data.subset_train(args.train_subset)
        args.runs = args.results = RUNS / f"subset-{args.train_subset}"
        args.results.mkdir(parents=True, exist_ok=True)
    {"hinton": hinton, "grid": grid, "transfer": transfer}[args.part](args, data)


if __name__ == "__main__":
    main()
