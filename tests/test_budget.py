"""distill --max-steps: collecting past --steps while the student's action gap still falls."""

from __future__ import annotations

from pathlib import Path

import pytest

import rl_distill.distill.loop as loop
from rl_distill.distill.budget import GAP_FLOOR, gap_still_falling, why_stopped
from rl_distill.distill.config import DistillConfig
from rl_distill.distill.loop import distill
from rl_distill.distill.multitask import MultitaskConfig
from rl_distill.errors import InputError
from rl_distill.sb3.policies import load_policy


def test_a_gap_falling_by_more_than_five_percent_keeps_collecting() -> None:
    # base 4 rounds: windows of 2; round 0 (untrained) is never in the earlier window
    assert gap_still_falling([0.9, 0.30, 0.20, 0.10, 0.09], 4)  # 0.095 against 0.25
    assert not gap_still_falling([0.9, 0.5, 0.20, 0.20, 0.195, 0.195], 4)  # 0.195 against 0.200: a 2.5% fall
    assert not gap_still_falling([0.9, 0.10, 0.10, 0.12, 0.11], 4)  # rising


def test_round_zero_never_counts_so_a_short_budget_first_gets_an_earlier_window() -> None:
    assert gap_still_falling([0.9, 0.5], 2)  # window 1: recent [0.5], no earlier round but round 0
    assert gap_still_falling([0.9, 0.5, 0.4], 2)
    assert not gap_still_falling([0.9, 0.5, 0.5], 2)
    assert not gap_still_falling([0.9, 0.5, 0.01, 0.3], 2)  # 0.3 against 0.01
    assert why_stopped([0.9, 0.5], 2).endswith("has no earlier rounds to fall from")


def test_a_fitted_student_stops_however_its_gap_moves() -> None:
    tiny = GAP_FLOOR / 2
    assert not gap_still_falling([0.9, 4 * tiny, 3 * tiny, tiny / 2, tiny / 4], 4)
    assert "is under 0.01 (the student has fitted its teacher)" in why_stopped([0.9, 0.4, 0.3, 0.004, 0.002], 4)
    assert why_stopped([0.9, 0.5, 0.20, 0.20, 0.195, 0.195], 4) == (
        "the mean action gap of the last 2 rounds, 0.1950, is less than 5% under the 2 rounds' before (0.2000)")


def test_a_round_without_a_gap_stops() -> None:
    assert not gap_still_falling([0.9, None, 0.3, 0.1, 0.05], 4)


def test_max_steps_is_checked() -> None:
    with pytest.raises(InputError, match="at least --steps"):
        DistillConfig("CartPole-v1", steps=1_000, max_steps=999).validate()
    with pytest.raises(InputError, match="--lr-decay"):
        DistillConfig("CartPole-v1", steps=1_000, max_steps=2_000, lr_decay=True).validate()
    with pytest.raises(InputError, match="multitask collects exactly --steps"):
        MultitaskConfig("CartPole-v1", tasks=("CartPole-v1",), steps=1_000, max_steps=2_000).validate()


def short_config(**settings: object) -> DistillConfig:
    return DistillConfig("CartPole-v1", steps=1_000, steps_per_round=250, n_envs=8, eval_episodes=0,
                         updates_per_round=10, **settings)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize(("falling", "env_steps", "stopped"), [(True, 2_000, "max_steps"), (False, 1_000, "gap")])
def test_the_rule_decides_each_round_past_steps(cartpole_teacher: Path, monkeypatch: pytest.MonkeyPatch,
                                                falling: bool, env_steps: int, stopped: str) -> None:  # fmt: skip
    asked: list[int] = []

    def rule(gaps: list[float | None], base_rounds: int) -> bool:
        asked.append(len(gaps))
        assert base_rounds == 4 and all(gap is not None for gap in gaps)
        return falling

    monkeypatch.setattr(loop, "gap_still_falling", rule)
    result = distill(short_config(max_steps=2_000), load_policy(cartpole_teacher, "CartPole-v1"), progress_bar=False)
    assert result.rounds[-1].env_steps == env_steps and result.stopped == stopped
    assert [r.env_steps for r in result.rounds][:4] == [256, 504, 752, 1_000]  # --steps' rounds are as without it
    assert asked == ([4, 5, 6, 7] if falling else [4])  # asked after every round from --steps on, not at the cap


def test_without_max_steps_the_run_is_the_same_as_before(cartpole_teacher: Path) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    plain, capped = distill(short_config(), teacher, progress_bar=False), distill(
        short_config(max_steps=1_000), teacher, progress_bar=False)
    assert plain.stopped == "steps" and capped.stopped == "max_steps"
    assert [r.loss for r in plain.rounds] == [r.loss for r in capped.rounds]


def test_a_finished_run_resumes_past_steps_with_max_steps(cartpole_teacher: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    teacher, checkpoint = load_policy(cartpole_teacher, "CartPole-v1"), tmp_path / "student.ckpt"
    first = distill(short_config(), teacher, progress_bar=False, checkpoint=checkpoint)
    monkeypatch.setattr(loop, "gap_still_falling", lambda gaps, base_rounds: True)
    resumed = distill(short_config(max_steps=1_500), teacher, progress_bar=False, checkpoint=checkpoint, resume=True)
    assert resumed.rounds[:4] == first.rounds
    assert [r.env_steps for r in resumed.rounds[4:]] == [1_256, 1_500] and resumed.stopped == "max_steps"


@pytest.mark.parametrize(("falling", "lr_decay", "said"), [(True, False, True), (False, False, False),
                                                         (True, True, False)])  # --lr-decay refuses --max-steps
def test_a_fixed_run_says_when_its_gap_was_still_falling(cartpole_teacher: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], falling: bool,
                                                         lr_decay: bool, said: bool) -> None:  # fmt: skip
    monkeypatch.setattr(loop, "gap_still_falling", lambda gaps, base_rounds: falling)
    result = distill(short_config(lr_decay=lr_decay), load_policy(cartpole_teacher, "CartPole-v1"), progress_bar=True)
    assert result.rounds[-1].env_steps == 1_000 and result.stopped == "steps"  # a hint only: the budget holds
    hint = "the action gap was still falling at --steps 1,000: --max-steps (e.g. 10,000) collects on while it does"
    assert (hint in capsys.readouterr().err) is said
