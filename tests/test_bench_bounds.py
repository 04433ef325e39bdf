"""scripts/bench_bounds.py: which earlier rows a section keeps, and where an earlier teacher's rows go."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bench_bounds import file_entry  # noqa: E402


def row(hidden: str, score: float, updates: int | None = 1000) -> dict[str, Any]:
    return {"collect": "dagger", "hidden": hidden, "bounds": "one-sided", "env_steps": 100_000, "seed": 0,
            "updates_per_round": updates, "score": score}  # fmt: skip


def entry(sha: str, teacher: float, *rows: dict[str, Any]) -> dict[str, Any]:
    return {"teacher_sha256": sha, "teacher_return": teacher, "rows": list(rows)}


def test_the_same_teacher_keeps_rows_not_run_again_and_replaces_those_run_again() -> None:
    report = {"Hopper-v5": entry("a", 1779.0, row("8x8", 0.4), row("16x16", 0.7))}
    file_entry(report, "Hopper-v5", entry("a", 1779.0, row("16x16", 0.8)))
    assert [(r["hidden"], r["score"]) for r in report["Hopper-v5"]["rows"]] == [("8x8", 0.4), ("16x16", 0.8)]
    assert list(report) == ["Hopper-v5"]


def test_another_teacher_at_the_same_path_moves_the_earlier_section_aside_and_back() -> None:
    old = entry("a", 2547.2, row("16x16", 1.18, None))
    report = {"Hopper-v5": old}
    file_entry(report, "Hopper-v5", entry("b", 1779.0, row("16x16", 0.7)))
    assert report["Hopper-v5 (earlier teacher, 2547.2)"] == old
    assert report["Hopper-v5"]["rows"] == [row("16x16", 0.7)]  # none of the other teacher's rows
    file_entry(report, "Hopper-v5", entry("a", 2547.2, row("8x8", 0.5, None)))  # the first teacher again
    assert [r["hidden"] for r in report["Hopper-v5"]["rows"]] == ["16x16", "8x8"]
    assert report["Hopper-v5 (earlier teacher, 1779.0)"]["teacher_sha256"] == "b"
    assert "Hopper-v5 (earlier teacher, 2547.2)" not in report


def test_a_section_written_before_digests_were_kept_is_the_same_teacher_by_its_return() -> None:
    legacy = {"teacher_return": 1779.0, "rows": [row("8x8", 0.4, None)]}
    report = {"Hopper-v5": legacy}
    file_entry(report, "Hopper-v5", entry("b", 1779.0, row("8x8", 0.5)))  # other updates per round: both kept
    assert [r["score"] for r in report["Hopper-v5"]["rows"]] == [0.4, 0.5] and len(report) == 1
    file_entry(report, "Hopper-v5", entry("c", 1800.0, row("8x8", 0.6)))
    assert len(report["Hopper-v5 (earlier teacher, 1779.0)"]["rows"]) == 2
