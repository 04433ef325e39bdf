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


def windows(gaps: Sequence[float | None], base_rounds: int) -> tuple[Sequence[float | None], Sequence[float | None]]:
    """The recent and the earlier window of ``gaps``: half the ``base_rounds`` of ``--steps`` each (at least one
    round); the earlier one never holds round 0, whose gap is an untrained student's."""
    window = max(base_rounds // 2, 1)
    return gaps[-window:], gaps[max(len(gaps) - 2 * window, 1):len(gaps) - window]


def gap_still_falling(gaps: Sequence[float | None], base_rounds: int) -> bool:
    """Whether one more round is worth collecting after ``gaps`` (one per round so far, oldest first).

    When there is no earlier window yet (a budget of one or two rounds), one more round is collected so that there
    is. A round without a gap (a log from before it was measured) stops the run.
    """
    recent, earlier = windows(gaps, base_rounds)
    if any(gap is None for gap in (*recent, *earlier)) or len(recent) < max(base_rounds // 2, 1):
        return False
    level = fmean(recent)  # type: ignore[arg-type]
    if level < GAP_FLOOR:
        return False
    return not earlier or level <= (1 - GAP_DROP) * fmean(earlier)  # type: ignore[arg-type]


def why_stopped(gaps: Sequence[float | None], base_rounds: int) -> str:
    """The reason ``gap_still_falling`` gave no more rounds, in words."""
    recent, earlier = windows(gaps, base_rounds)
    if any(gap is None for gap in (*recent, *earlier)):
        return "a round without an action gap (logged before it was measured)"
    level, last = fmean(recent), f"the mean action gap of the last {len(recent)} rounds"  # type: ignore[arg-type]
    if level < GAP_FLOOR:
        return f"{last}, {level:.4f}, is under {GAP_FLOOR} (the student has fitted its teacher)"
    if not earlier:  # gap_still_falling always goes on from here: say so rather than fail
        return f"{last}, {level:.4f}, has no earlier rounds to fall from"
    return (f"{last}, {level:.4f}, is less than {GAP_DROP:.0%} under the {len(earlier)} rounds' before "
            f"({fmean(earlier):.4f})")  # type: ignore[arg-type]
