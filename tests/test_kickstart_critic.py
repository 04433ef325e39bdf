"""Kickstart's value function started as the teacher's (``--critic-init teacher``)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

from rl_distill.cli import main
from rl_distill.errors import InputError
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import copy_teacher_critic, teacher_critic_sizes
from rl_distill.sb3.policies import load_policy, make_student


def test_the_students_critic_computes_the_teachers_values_and_its_actor_is_untouched(cartpole_teacher: Path) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    assert teacher_critic_sizes(teacher) == (64, 64)
    student = make_student(make_vec_env("CartPole-v1", n_envs=1), (8,), seed=3, critic_hidden=(64, 64))
    actor = {k: v.clone() for k, v in student.policy.state_dict().items() if not k.startswith(("mlp_extractor.value",
                                                                                                "value_net"))}
    obs = torch.randn(32, 4)
    with torch.no_grad():
        assert not torch.allclose(student.policy.predict_values(obs), teacher.policy.predict_values(obs))
        copy_teacher_critic(student, teacher)
        assert torch.allclose(student.policy.predict_values(obs), teacher.policy.predict_values(obs))
    assert all(torch.equal(student.policy.state_dict()[k], v) for k, v in actor.items())

    relu = make_student(make_vec_env("CartPole-v1", n_envs=1), (8,), seed=3, critic_hidden=(64, 64),
                        activation=nn.ReLU)  # fmt: skip
    with pytest.raises(InputError, match="critic uses Tanh, the student ReLU"):
        copy_teacher_critic(relu, teacher)


def test_a_run_with_the_teachers_critic_learns_from_the_teachers_rewards(
    cartpole_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CartPole-v1's preset teacher learnt from raw rewards: so does the student, whatever --scale-rewards says
    (a note tells), and its critic has the teacher's sizes."""
    code = main(["kickstart", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--student-hidden", "8",
                 "--critic-init", "teacher", "--scale-rewards", "--timesteps", "512", "--eval-every", "512",
                 "--eval-episodes", "1", "--reference-episodes", "2", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    log = json.loads((tmp_path / "out" / "student.json").read_text())
    assert log["scaled_rewards"] is False and log["config"]["critic_init"] == "teacher"
    assert "--critic-init teacher: the student's PPO learns from raw rewards" in capsys.readouterr().err
    net_arch = PPO.load(tmp_path / "out" / "student.zip").policy.net_arch
    assert net_arch == {"pi": [8], "vf": [64, 64]}


def test_critic_hidden_with_the_teachers_critic_is_refused(cartpole_teacher: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="give one of the two"):
        KickstartConfig("CartPole-v1", critic_init="teacher", critic_hidden=(32,)).validate()
    code = main(["kickstart", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--critic-init", "teacher",
                 "--critic-hidden", "32", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and not (tmp_path / "out").exists()


def vecnormalize_teacher(folder: Path, env_id: str, *, norm_reward: bool = True, steps: int = 256) -> Path:
    """A teacher as plain SB3 code leaves one: PPO trained in a VecNormalize (gamma 0.95, not a preset's), its
    statistics saved beside the zip."""
    folder.mkdir()
    venv = VecNormalize(make_vec_env(env_id, n_envs=2, seed=0), gamma=0.95, norm_reward=norm_reward)
    PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu").learn(steps).save(
        folder / "teacher.zip")
    venv.save(str(folder / "vecnormalize.pkl"))
    return folder / "teacher.zip"


def test_the_teachers_reward_statistics_start_the_students_scaling(tmp_path: Path) -> None:
    """A critic copied from a teacher trained on scaled rewards learnt values on the scale its VecNormalize had
    reached: the student's reward scaling starts from those statistics (return estimate, gamma), not fresh."""
    from rl_distill.kickstart.run import rewards_to_learn

    teacher = load_policy(vecnormalize_teacher(tmp_path / "teacher", "CartPole-v1"), "CartPole-v1")
    stats = teacher.normalization
    assert stats is not None and stats.ret_rms.count > 100

    env = make_vec_env("CartPole-v1", n_envs=1)
    copied = rewards_to_learn(env, scaled=True, gamma=0.99, as_teacher=stats)
    assert isinstance(copied, VecNormalize) and copied.gamma == 0.95 and not copied.norm_obs
    assert copied.ret_rms.count == stats.ret_rms.count and copied.ret_rms.var == pytest.approx(stats.ret_rms.var)
    copied.ret_rms.update(np.array([1e3]))  # the student's updates leave the teacher's statistics alone
    assert copied.ret_rms.count != stats.ret_rms.count
    fresh = rewards_to_learn(env, scaled=True, gamma=0.99)
    assert fresh.gamma == 0.99 and fresh.ret_rms.count < 1
    assert rewards_to_learn(env, scaled=False, gamma=0.99, as_teacher=stats) is env


@pytest.mark.parametrize("norm_reward", [True, False])
def test_a_plain_sb3_teachers_critic_learns_on_the_rewards_its_statistics_say(
    tmp_path: Path, norm_reward: bool
) -> None:
    """Pendulum-v1's preset normalises, but this teacher's own statistics decide what its critic learnt: scaled
    rewards when they scaled them, raw when they did not, whatever --scale-rewards says."""
    teacher = vecnormalize_teacher(tmp_path / "teacher", "Pendulum-v1", norm_reward=norm_reward, steps=128)
    flag = "--no-scale-rewards" if norm_reward else "--scale-rewards"
    code = main(["kickstart", "--teacher", str(teacher), "--env", "Pendulum-v1", "--student-hidden",
                 "8", "--critic-init", "teacher", flag, "--timesteps", "256", "--eval-every", "256",
                 "--eval-episodes", "1", "--reference-episodes", "2", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    log = json.loads((tmp_path / "out" / "student.json").read_text())
    assert log["scaled_rewards"] is norm_reward
    assert PPO.load(tmp_path / "out" / "student.zip").policy.net_arch == {"pi": [8], "vf": [64, 64]}
