from pathlib import Path

import pytest
import torch

from rl_distill.sb3.training import train_ppo


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cartpole_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small PPO teacher, trained once per session with the CartPole preset."""
    out = tmp_path_factory.mktemp("cartpole-teacher")
    train_ppo("CartPole-v1", out=out, hidden=(64, 64), timesteps=12_000, seed=0, progress_bar=False)
    return out / "teacher.zip"


@pytest.fixture(scope="session")
def pendulum_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A barely trained Pendulum teacher: continuous actions, gSDE, VecNormalize statistics."""
    out = tmp_path_factory.mktemp("pendulum-teacher")
    train_ppo("Pendulum-v1", out=out, hidden=(32, 32), timesteps=4_096, seed=0, progress_bar=False)
    return out / "teacher.zip"
