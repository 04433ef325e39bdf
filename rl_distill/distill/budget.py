"""How long ``distill --max-steps`` collects: past ``--steps``, round by round, while the action gap still falls.

The action gap (``RoundLog.action_gap``) is the student's imitation error on each round's new states before it
trains on them, so it needs no evaluation episodes. A budget that is enough for one teacher is short for another:
after the HalfCheetah-v5 preset's 100,000 steps a SAC teacher's 16x16 students were still closing the gap, and three
times the steps took them from score 0.79 to 0.85 (results/mujoco-offpolicy-teachers.md). The rule compares the mean
gap of the last half-budget of rounds with the half-budget before it: results/budget-rule.md
(scripts/bench_budget.py) replays it on the gaps the benchmarks logged and runs it beside the fixed budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

GAP_DROP = 0.05
"""Collecting goes on while the recent window's mean gap is at least this share below the window's before it."""
GAP_FLOOR = 0.01
"""A student whose recent mean gap is under this (1% of states acting otherwise than the teacher, or 1% of the
action range) has fitted its teacher: collecting more would only chase noise."""


def gap_still_falling(gaps: Sequence[float | None], base_rounds: int) -> bool:
    """Whether one more round is worth collecting after ``gaps`` (one per round so far, oldest first).

    The windows are half the ``base_rounds`` of ``--steps`` each (at least one round); the earlier one never holds
    round 0, whose gap is an untrained student's. When there is no earlier window yet (a budget of one or two
    rounds), one more round is collected so that there is. A round without a gap (a log from before it was
    measured) stops the run.
    """
    window = max(base_rounds // 2, 1)
    recent, earlier = gaps[-window:], gaps[max(len(gaps) - 2 * window, 1):len(gaps) - window]
    if any(gap is None for gap in (*recent, *earlier)) or len(recent) < window:
        return False
    level = fmean(recent)  # type: ignore[arg-type]
    if level < GAP_FLOOR:
        return False
    return not earlier or level <= (1 - GAP_DROP) * fmean(earlier)  # type: ignore[arg-type]
