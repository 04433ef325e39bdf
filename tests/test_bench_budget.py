"""scripts/bench_budget.py: the replay of distill's --max-steps rule on logged action gaps, and how runs are filed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_budget  # noqa: E402
import pytest  # noqa: E402
from bench_budget import stop_round  # noqa: E402


def test_the_replay_stops_where_the_run_would_have_and_says_when_the_log_ends_first() -> None:
    falling = [0.9, 0.4, 0.3, 0.2, 0.15, 0.1]  # base 4 rounds, windows of 2
    assert stop_round([*falling, 0.12, 0.12], 4) == 8  # at 8 rounds 0.12 against 0.125 is a fall under 5%
    assert stop_round(falling, 4) is None
    assert stop_round([0.9, 0.4, 0.4, 0.4, 0.4], 4) == 4  # flat at the budget: no extra round


@pytest.mark.parametrize(("teacher", "asked", "key", "mode"), [
    ("td3-cheetah", "auto", "td3-cheetah, capped collection", "capped"),  # Box, student-driven: capped
    ("td3-cheetah", "greedy", "td3-cheetah, greedy collection", "greedy"),
    ("td3-cheetah", "sampled", "td3-cheetah", "sampled"),  # as every case made before modes were kept
    ("dqn-lunar", "auto", "dqn-lunar", "sampled"),
])  # fmt: skip
def test_each_collection_mode_is_its_own_case_and_reaches_every_run(monkeypatch: pytest.MonkeyPatch, teacher: str,
                                                                     asked: str, key: str, mode: str) -> None:
    modes = []
    monkeypatch.setattr(bench_budget, "teacher_files", lambda label: (Path("t.zip"), None))
    monkeypatch.setattr(bench_budget, "teacher_reference", lambda *args: {"teacher": {}, "random": 0.0})
    monkeypatch.setattr(bench_budget, "distilled", lambda *args, collect_actions: modes.append(collect_actions))
    monkeypatch.setattr(bench_budget, "budget_rows", lambda *args: modes.append(args[-1]) or {
        "fixed": {"mean_return": 0.0}, "max_steps": {"mean_return": 0.0, "env_steps": 1}})
    cases = bench_budget.runs([teacher], [], seeds=1, episodes=1, collect_actions=asked)
    assert list(cases) == [key] and cases[key]["collect_actions"] == mode
    assert modes == [mode] * 4  # distilled and budget_rows, for each of the two widths
