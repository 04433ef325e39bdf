"""Kickstart's weight average (``--average-steps``): what is evaluated, kept and written is the average."""

import json
import math
from pathlib import Path

import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from rl_distill.cli import main
from rl_distill.errors import InputError
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.sb3.averaging import PolicyAverage
from rl_distill.sb3.policies import actor_parameters, make_student


def actor_of(model: PPO) -> list[torch.Tensor]:
    return [p.detach().clone() for p in actor_parameters(model.policy)]


def test_the_average_moves_by_its_weight_and_is_swapped_in_only_inside_the_block(tmp_path: Path) -> None:
    student = make_student(make_vec_env("CartPole-v1", n_envs=1), (8,), seed=0)
    start = actor_of(student)
    average = PolicyAverage(student.policy, horizon_steps=3_000, rollout_steps=1_000)
    assert average.weight == pytest.approx(1 - math.exp(-1 / 3))
    with torch.no_grad():
        for param in actor_parameters(student.policy):
            param.add_(1.0)
    critic = student.policy.value_net.weight.detach().clone()
    average.update()
    expected = [s + average.weight for s in start]
    assert all(torch.allclose(a, e) for a, e in zip(average.average, expected, strict=True))

    live = actor_of(student)
    with average.swapped_in():
        assert all(torch.allclose(p, e) for p, e in zip(actor_parameters(student.policy), expected, strict=True))
    assert all(torch.equal(p, own) for p, own in zip(actor_parameters(student.policy), live, strict=True))
    assert torch.equal(student.policy.value_net.weight, critic)  # the critic is PPO's alone

    average.save(tmp_path / "average.safetensors")
    again = PolicyAverage(student.policy, horizon_steps=3_000, rollout_steps=1_000)
    again.load(tmp_path / "average.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(again.average, average.average, strict=True))
    other = make_student(make_vec_env("CartPole-v1", n_envs=1), (16,), seed=0)
    with pytest.raises(InputError, match="a weight average of another network"):
        PolicyAverage(other.policy, horizon_steps=3_000, rollout_steps=1_000).load(tmp_path / "average.safetensors")


def test_a_run_writes_its_average_not_its_last_iterate(cartpole_teacher: Path, tmp_path: Path) -> None:
    """With a time constant far beyond the run, the average never leaves --init's weights: the student written
    and every curve point are that policy's, while PPO's own iterate (the checkpoint) has moved. The run is
    stopped and resumed once: the checkpoint's average goes on, not one restarted from the iterate."""
    out = tmp_path / "out"
    args = ["kickstart", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--student-hidden", "64,64",
            "--init", str(cartpole_teacher), "--average-steps", "1000000000", "--no-keep-best", "--eval-every",
            "1024", "--eval-episodes", "2", "--reference-episodes", "2", "--checkpoint-every", "1024", "--out",
            str(out)]  # fmt: skip
    assert main([*args, "--timesteps", "1024"]) == 0 and (out / "student.ckpt-average.safetensors").exists()
    assert main([*args, "--timesteps", "2048", "--resume"]) == 0
    init, written, iterate = (actor_of(PPO.load(path)) for path in (cartpole_teacher, out / "student.zip",
                                                                     out / "student.ckpt.zip"))  # fmt: skip
    assert all(torch.allclose(w, i, atol=1e-5) for w, i in zip(written, init, strict=True))
    assert not all(torch.allclose(t, i, atol=1e-5) for t, i in zip(iterate, init, strict=True))
    log = json.loads((out / "student.json").read_text())
    assert log["config"]["average_steps"] == 1_000_000_000 and len(set(log["curve_returns"])) == 1


def test_a_non_positive_average_is_refused(cartpole_teacher: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main(["kickstart", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--average-steps", "0",
              "--out", str(tmp_path / "out")])  # fmt: skip
    assert exit_status.value.code == 2 and not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="average_steps must be positive"):
        KickstartConfig("CartPole-v1", average_steps=-5).validate()
