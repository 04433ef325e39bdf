"""Hinton et al. 2015 §3 with our loss, and where soft targets help.

--part hinton -> results/<stem>.{json,md} (default mnist-hinton): the hinton-mlp teacher (784-1200-1200-10,
  dropout; --teacher: another architecture) with 2-pixel jitter; the 800-800 student on labels, on the teacher's
  hard labels, and on soft targets at T = 20 and at --best-t, each with every label weight of --lams; with
  --student-mixup (default 1) the labels student and a soft-target student (T = 20, lam 0) on mixup blends of
  image pairs, the latter on the teacher's logits for each blend (function matching), for each of --mixup-epochs
  (with --mixup-jitter P, blends of images shifted by up to P pixels: both augmentations); one row per model, mean
  ± std over the seeds, beside the paper's figures and against labels-only on the same inputs. With --ensemble
  SEEDS every student learns from one teacher instead, the mean of those seeds' teachers' logits (the labels rows
  are unchanged); with --teacher-shifts P the teacher (or the ensemble) is averaged over its images shifted by up
  to P pixels (docs/mnist-hinton.md: a better teacher, not a better one to learn from). The JSON names the CPU:
  other float kernels train the same seeds to other weights.
--part grid -> results/mnist-grid.{json,md,png}: the default student (784-50-10) of the default teacher
  (cnn-wide) on soft targets for T in 1, 2.5, 4, 8, 20 and lam in 0.1, 0.5, against the same student on
  labels; 2 seeds; a table and a heat map of the change in test errors.
--part transfer -> results/<stem>.{json,md} (default mnist-transfer): §3's omitted-digit experiment: the 800-800
  student trained without any 3 (on labels, and on the teacher's soft targets at T = 20), its errors on the
  test set's 3s, and with the paper's correction: the 3's output bias raised by the amount that minimises
  test errors (chosen on the test set, as the paper did, so that row is an upper bound).
Every trained model's result (and each teacher's logits) is kept under runs/bench-mnist/<part>/, so a
stopped run continues where it was. Run, e.g.:
    .venv/bin/python scripts/bench_mnist_hinton.py --part grid --threads 2
    .venv/bin/python scripts/bench_mnist_hinton.py --part hinton --teacher-epochs 60 --student-epochs 40
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from mnist_hinton_table import HINTON_TEACHER, STUDENT_EPOCHS, hinton, hinton_seed, teacher_recipe  # scripts/: siblings
from mnist_runs import student_run, teacher_run
from torch import nn

from rl_distill.io import atomic_write, atomic_write_json, atomic_write_text
from supervised.config import MAX_JITTER, MAX_MIXUP, OPTIMIZERS, MnistConfig
from supervised.data import MnistData, load_mnist
from supervised.models import TEACHERS, default_dropout
from supervised.train import omitted_class_errors, predict_logits, stored_logits

ROOT = Path(__file__).resolve().parent.parent
RESULTS, RUNS = ROOT / "results", ROOT / "runs" / "bench-mnist"
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
    atomic_write_json(args.results / f"{args.stem}.json", {
        "seeds": args.seeds, "omitted": omitted, "teacher": args.teacher, "teacher_epochs": args.teacher_epochs,
        "teacher_mixup": args.teacher_mixup, "teacher_dropout": args.teacher_dropout,
        "teacher_optimizer": args.teacher_optimizer, "rows": rows})  # fmt: skip
    lines = [f"Hinton et al. 2015 §3, digit {omitted} omitted from the students' training set (784-800-800-10, "
             f"{args.student_epochs} epochs; teacher {args.teacher} ({teacher_recipe(args)}), "
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
    atomic_write_text(args.results / f"{args.stem}.md", "\n".join(lines) + "\n")
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
    parser.add_argument("--teacher", choices=list(TEACHERS), default=HINTON_TEACHER, help="hinton, transfer: the "
                        "teacher's architecture, trained with 2-pixel jitter (default hinton-mlp, the paper's; others "
                        "get their own folder)")
    parser.add_argument("--teacher-epochs", type=int, default=60, help="hinton: the teacher's epochs (120 with "
                        "--teacher-optimizer sgd: the paper's teacher errors, results/mnist-hinton-sgd120.md)")
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
    parser.add_argument("--teacher-optimizer", choices=OPTIMIZERS, default="adam", help="hinton, transfer: the "
                        "teacher's optimiser (sgd: Nesterov momentum, as Hinton et al.; teachers of each recipe get "
                        "their own folder)")
    parser.add_argument("--student-optimizer", choices=OPTIMIZERS, default="adam", help="hinton: the "
                        "students' optimiser (sgd: every student, labels-only too, in a folder of its own)")
    parser.add_argument("--stem", default=None, help="hinton, transfer: write results/<stem>.{json,md} "
                        "(default: mnist-hinton, mnist-transfer)")
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
    if args.teacher_dropout is not None and default_dropout(args.teacher) is None:
        parser.error(f"--teacher-dropout: teacher {args.teacher} has no dropout layers")
    if not 0.0 <= args.teacher_mixup <= MAX_MIXUP:
        parser.error(f"--teacher-mixup must lie in [0, {MAX_MIXUP:g}], got {args.teacher_mixup}")
    if not 0.0 <= args.student_mixup <= MAX_MIXUP or min(args.mixup_epochs) <= 0:
        parser.error(f"--student-mixup must lie in [0, {MAX_MIXUP:g}] and --mixup-epochs be positive, got "
                     f"{args.student_mixup}, {args.mixup_epochs}")
    args.seeds = args.seeds or ([0, 1] if args.part == "grid" else [0, 1, 2])
    args.stem = args.stem or ("mnist-transfer" if args.part == "transfer" else "mnist-hinton")
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
