"""scripts/bench_budget.py: the replay of distill's --max-steps rule on logged action gaps."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bench_budget import stop_round  # noqa: E402


def test_the_replay_stops_where_the_run_would_have_and_says_when_the_log_ends_first() -> None:
    falling = [0.9, 0.4, 0.3, 0.2, 0.15, 0.1]  # base 4 rounds, windows of 2
    assert stop_round([*falling, 0.12, 0.12], 4) == 8  # at 8 rounds 0.12 against 0.125 is a fall under 5%
    assert stop_round(falling, 4) is None
    assert stop_round([0.9, 0.4, 0.4, 0.4, 0.4], 4) == 4  # flat at the budget: no extra round
