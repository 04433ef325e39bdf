"""scripts/bench_own_teachers.py: which finished runs are reused, and how a curve's first point at 0.9 is read."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bench_own_teachers import cached, steps_to  # noqa: E402


def test_a_row_is_reused_only_for_the_same_teacher_file_budget_and_episodes(tmp_path: Path) -> None:
    teacher, folder = tmp_path / "teacher.zip", tmp_path / "run"
    teacher.write_bytes(b"first")
    folder.mkdir()
    trained: list[Path] = []

    def train(out: Path) -> dict:
        trained.append(out)
        return {"mean_return": float(len(trained))}

    assert cached(folder, [teacher], 100, 10, train)["mean_return"] == 1
    assert cached(folder, [teacher], 100, 10, train)["mean_return"] == 1  # finished: read back, not trained
    assert cached(folder, [teacher], 200, 10, train)["mean_return"] == 2  # another budget
    assert cached(folder, [teacher], 200, 20, train)["mean_return"] == 3  # other evaluation episodes
    teacher.write_bytes(b"trained again in place")
    assert cached(folder, [teacher], 200, 20, train)["mean_return"] == 4
    assert trained == [folder] * 4


def test_steps_to_reads_the_first_curve_point_at_the_level() -> None:
    row = {"curve_steps": [0, 15_000, 30_000, 45_000], "curve_returns": [-100.0, 70.0, 95.0, 70.0]}
    assert steps_to(row, teacher=100.0, random=-100.0) == "30k"  # 0.9 is a return of 80: 70 short, 95 past
    assert steps_to(row, teacher=200.0, random=-100.0) == "-"  # 0.9 would be 170: never
