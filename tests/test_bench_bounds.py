"""scripts/bench_bounds.py: which earlier rows a section keeps, where an earlier teacher's rows go, how modes
are compared, and what the report and plot show."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import pytest  # noqa: E402
from bench_bounds import (  # noqa: E402
    ROOT,
    comparisons,
    env_value,
    file_entry,
    markdown,
    mode_summary,
    plot,
    plot_series,
    shown_path,
)


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


def test_a_teacher_trained_again_to_the_same_weights_is_the_same_teacher_by_its_return() -> None:
    report = {"Hopper-v5": entry("a", 1779.0, row("8x8", 0.4))}
    file_entry(report, "Hopper-v5", entry("b", 1779.0, row("16x16", 0.5)))  # another zip, the same episodes' return
    assert list(report) == ["Hopper-v5"] and report["Hopper-v5"]["teacher_sha256"] == "b"
    assert [r["hidden"] for r in report["Hopper-v5"]["rows"]] == ["8x8", "16x16"]


def scored(hidden: str, bounds: str, seed: int, score: float, updates: int = 1000) -> dict[str, Any]:
    return {**row(hidden, score, updates), "bounds": bounds, "seed": seed}


def test_the_mode_summary_compares_modes_on_the_seeds_they_share() -> None:
    rows = [scored("8x8", mode, seed, score) for mode, score in
            (("one-sided", 0.5), ("censored", 0.6), ("clamp", 0.7), ("ignore", 0.8)) for seed in (0, 1)]
    rows += [scored("8x8", "one-sided", 2, 0.9), scored("16x16", "ignore", 0, 0.9)]  # no partner: left out
    rows += [scored("8x8", "one-sided", seed, 0.9, 250) for seed in (0, 1)]
    rows += [scored("8x8", "ignore", seed, 0.6, 250) for seed in (0, 1)]
    report = {"Hopper-v5": {"rows": rows}, "Pendulum-v1": {"rows": [scored("4x4", "ignore", 0, 0.3)]}}
    assert comparisons(report, ("one-sided", "censored", "clamp", "ignore")) == {
        (1000, "sampled"): [{"one-sided": 0.5, "censored": 0.6, "clamp": 0.7, "ignore": 0.8}]}  # seed 2: one-sided's
    assert comparisons(report, ("one-sided", "ignore")) == {(250, "sampled"): [{"one-sided": 0.9, "ignore": 0.6}],
                                                            (1000, "sampled"): [{"one-sided": 0.5, "ignore": 0.8}]}
    text = "\n".join(mode_summary(report))
    cells = "0.300 (0.300); best 0 | 0.200 (0.200); best 0 | 0.100 (0.100); best 0 | 0.000 (0.000); best 1"
    assert f"| 1,000 | sampled | 1 | {cells} |" in text
    assert "| 250 | sampled | 1 | +0.300 | 1 | 0 |" in text and "| 1,000 | sampled | 1 | -0.300 | 0 | 1 |" in text


def test_env_value_splits_at_the_first_equals_sign_and_refuses_a_missing_part() -> None:
    assert env_value("Walker2d-v5=runs/a=b/teacher.zip") == ("Walker2d-v5", "runs/a=b/teacher.zip")
    for bad in ("runs/teacher.zip", "=runs/teacher.zip", "Walker2d-v5="):
        with pytest.raises(argparse.ArgumentTypeError, match="expected ENV=VALUE"):
            env_value(bad)


def test_the_plot_keeps_each_budget_apart_and_leaves_scratch_out() -> None:
    """Walker2d-v5 ran at 250 and 1,000 updates per round: averaging the two into one point hid both."""
    rows = [{**scored("16x16", "one-sided", seed, score, updates), "policy_params": 668}
            for seed, score, updates in ((0, 0.2, 250), (1, 0.4, 250), (0, 0.9, 1000))]
    rows.append({**scored("16x16", "one-sided", 0, 0.1), "collect": "scratch", "policy_params": 668})
    series = plot_series({"rows": rows})
    assert {key: dict(points) for key, points in series.items()} == {
        ("one-sided", "dagger", 250): {668: [0.2, 0.4]}, ("one-sided", "dagger", 1000): {668: [0.9]}}


def section(teacher_path: str, *rows: dict[str, Any]) -> dict[str, Any]:
    return {"teacher_path": teacher_path, "teacher_return": 100.0, "random_return": 0.0, "episodes": 100,
            "out_of_bounds": {"fraction": 0.5, "fraction_per_dim": [0.5], "max_abs_mean": 2.0, "bound": 1.0},
            "rows": [{**r, "policy_params": 668, "mean_return": 100 * r["score"]} for r in rows]}  # fmt: skip


def test_a_section_names_its_teacher_and_the_plot_draws_every_section(tmp_path: Path) -> None:
    inside = str(ROOT / "runs" / "sb3-teachers" / "Walker2d-v5-seed1" / "teacher.zip")
    assert shown_path(inside) == "runs/sb3-teachers/Walker2d-v5-seed1/teacher.zip"
    assert shown_path("/elsewhere/teacher.zip") == "/elsewhere/teacher.zip"
    report = {name: section(path, scored("16x16", "one-sided", 0, 0.8), scored("16x16", "ignore", 0, 0.6))
              for name, path in (("Walker2d-v5", inside), ("Walker2d-v5-seed1", "/elsewhere/teacher.zip"))}
    text = markdown(report)
    assert "### Walker2d-v5-seed1" in text and "Teacher `/elsewhere/teacher.zip`: 100.0" in text
    assert "Teacher `runs/sb3-teachers/Walker2d-v5-seed1/teacher.zip`" in text
    assert "| dagger | 16x16 | 100,000 | 1,000 | one-sided | 1 | 0.800 ± 0.000 | 0.800 | 80.0 |" in text
    plot(report, tmp_path / "bounds.png")
    assert (tmp_path / "bounds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_greedy_collected_rows_are_kept_and_compared_apart_from_sampled_ones() -> None:
    sampled = {**row("16x16", 0.7), "policy_params": 484, "mean_return": 1.0}  # no mode kept: sampled
    greedy = {**sampled, "score": 0.9, "collect_actions": "greedy"}
    report = {"Hopper-v5": entry("a", 1779.0, sampled)}
    file_entry(report, "Hopper-v5", entry("a", 1779.0, greedy))
    assert report["Hopper-v5"]["rows"] == [sampled, greedy]  # not a re-run of the sampled row
    ignore = [{**r, "bounds": "ignore", "score": r["score"] - 0.1} for r in (sampled, greedy)]
    report["Hopper-v5"]["rows"] += ignore
    found = comparisons(report, ("one-sided", "ignore"))
    assert found == {(1000, "sampled"): [{"one-sided": 0.7, "ignore": 0.6}],
                     (1000, "greedy"): [{"one-sided": 0.9, "ignore": 0.8}]}  # one per collection, summarised apart
    assert "| 1,000 | greedy | 1 | +0.100 | 1 | 0 |" in "\n".join(mode_summary(report))
    lines = markdown({"Hopper-v5": {**report["Hopper-v5"], "teacher_path": "t.zip", "random_return": 0.0,
                                    "episodes": 3, "out_of_bounds": {"fraction_per_dim": [0.5], "fraction": 0.5,
                                                                     "max_abs_mean": 2.0, "bound": 1.0}}})
    assert "| dagger, greedy | 16x16 |" in lines and "| dagger | 16x16 |" in lines
