"""scripts/bench_mnist_hinton.py --part hinton: the teacher it trains, where its runs live, what its table says."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from mnist_hinton_table import STUDENT_EPOCHS, hinton, teacher_recipe  # noqa: E402

from supervised.data import load_mnist  # noqa: E402


def hinton_args(tmp_path: Path, **changes: object) -> argparse.Namespace:
    """bench_mnist_hinton.py's defaults for the hinton part, cut to a smoke run's size."""
    args = argparse.Namespace(teacher="hinton-mlp", teacher_epochs=60, student_epochs=STUDENT_EPOCHS,
                              teacher_dropout=None, teacher_mixup=0.0, best_t=20.0, lams=[0.0], student_jitter=0,
                              student_mixup=0.0, mixup_epochs=[1], mixup_jitter=0, ensemble=None, teacher_shifts=0,
                              student_optimizer="adam", teacher_optimizer="adam", stem="smoke", seeds=[0],
                              runs=tmp_path / "runs", results=tmp_path / "results")  # fmt: skip
    for key, value in changes.items():
        setattr(args, key, value)
    args.results.mkdir(parents=True, exist_ok=True)
    return args


def test_the_paper_teacher_keeps_its_folder_and_other_architectures_get_their_own(tmp_path: Path) -> None:
    """hinton-mlp's runs, hours of training, stay where earlier sessions left them."""
    assert teacher_recipe(hinton_args(tmp_path)) == "60-epochs-hidden-dropout"
    cnn = hinton_args(tmp_path, teacher="cnn-wide", teacher_epochs=12)
    assert teacher_recipe(cnn) == "cnn-wide-12-epochs-hidden-dropout"
    sgd = hinton_args(tmp_path, teacher_optimizer="sgd")
    assert teacher_recipe(sgd) == "60-epochs-hidden-dropout-sgd0.01"


def test_another_teacher_trains_its_own_architecture_and_the_table_says_which(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    data = load_mnist().subset_train(300)
    args = hinton_args(tmp_path, teacher="cnn-wide", teacher_epochs=1, student_epochs=1)
    hinton(args, data)
    folder = args.runs / "hinton" / "teacher-cnn-wide-1-epochs-hidden-dropout" / "seed-0"
    table = json.loads((args.results / "smoke.json").read_text())
    assert table["teacher"] == "cnn-wide" and table["rows"]["teacher"][0]["params"] == 317_066  # not hinton-mlp's 2.4M
    assert (folder / "teacher.safetensors").exists()
    assert (folder / "students-1-epochs" / "student-soft-T20-lam0.json").exists()  # other lengths: their own folder
    text = (args.results / "smoke.md").read_text()
    assert "teacher cnn-wide (dropout 0.3, 2-pixel jitter, 1 epochs)" in text
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in text.splitlines() if line.startswith("| ")}
    assert rows["teacher"][5] == ""  # the paper's 67 errors were its MLP's, not this teacher's
    assert rows["student-labels"][5] == "146" and rows["student-soft-T20-lam0"][5] == "74"
