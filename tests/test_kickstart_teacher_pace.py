"""scripts/kickstart_teacher_pace.py: the imperfect teacher's own PPO, trained on from its checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from stable_baselines3 import PPO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import kickstart_teacher_pace as pace  # noqa: E402

from rl_distill.evaluation.evaluate import evaluate  # noqa: E402
from rl_distill.sb3.envs import make_env  # noqa: E402
from rl_distill.sb3.policies import load_policy  # noqa: E402


def test_the_run_goes_on_from_the_checkpoint_scores_each_update_and_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "teacher.zip"
    model = PPO("MlpPolicy", make_env(pace.ENV, n_envs=16, seed=0), n_steps=8, batch_size=64, n_epochs=1, seed=0,
                policy_kwargs={"net_arch": [8]}, device="cpu")  # fmt: skip
    model.learn(256)  # two updates: the checkpoint has its own step count
    model.save(checkpoint)
    monkeypatch.setattr(pace, "RUNS", tmp_path / "runs")
    reference = {"teacher": str(checkpoint), "full_teacher": 100.0, "random": -100.0, "episodes": 2}

    log = pace.continue_teacher(0, 256, reference)

    assert log["start_steps"] == 256
    assert [p["steps"] for p in log["points"]] == [0, 128, 256]  # one point per update of 16 x 8 steps
    start = evaluate(load_policy(checkpoint, pace.ENV), pace.ENV, episodes=2).mean_return
    assert log["points"][0]["return"] == pytest.approx(start)
    assert log["points"][0]["score"] == pytest.approx((start + 100.0) / 200.0)
    trained = PPO.load(tmp_path / "runs" / "kickstart-teacher-pace" / "seed-0" / "ppo.zip", device="cpu")
    assert trained.num_timesteps == 512

    monkeypatch.setattr(pace.PPO, "load", lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert pace.continue_teacher(0, 256, reference) == log
    assert pace.continue_teacher(0, 128, reference) == log  # a shorter budget is within the finished run
