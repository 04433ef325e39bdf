"""Runs that survive crashes: SIGKILL mid-run then --resume; damaged checkpoints are refused by name."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rl_distill.artifact import load_student
from rl_distill.checkpoint import load_checkpoint
from rl_distill.errors import InputError


def distill_command(teacher: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rl_distill.cli", "distill", "--teacher", str(teacher), "--env", "CartPole-v1",
            "--steps", "24000", "--steps-per-round", "1000", "--updates-per-round", "40", "--eval-episodes", "0",
            "--out", str(out), *extra]  # fmt: skip


def test_sigkill_then_resume_completes_with_a_valid_student(cartpole_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(distill_command(cartpole_teacher, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    checkpoint = out / "student.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists() and load_checkpoint(checkpoint)["next_round"] >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; give it more steps"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = load_checkpoint(checkpoint)  # whatever the moment of the kill, the file is whole
    killed_at = state["next_round"]
    assert 3 <= killed_at < 24
    assert not (out / "student.zip").exists()

    done = subprocess.run(distill_command(cartpole_teacher, out, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    log = json.loads((out / "student.json").read_text())
    assert [r["round"] for r in log["rounds"]] == list(range(24))
    assert log["rounds"][-1]["env_steps"] == 24000
    student = load_student(out / "student.safetensors")
    assert student.act([0.0, 0.0, 0.0, 0.0]) in (0, 1)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_checkpoint_is_refused_by_name(tmp_path: Path, damage: str) -> None:
    from rl_distill.checkpoint import save_checkpoint

    path = tmp_path / "student.ckpt"
    save_checkpoint(path, {"weights": torch.randn(64, 64), "next_round": 3})
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        raw[100:200] = bytes(100)
    else:
        raw = bytearray(b"\x80\x04 not a checkpoint")
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="student.ckpt.*(not a readable|not an rl-distill) checkpoint"):
        load_checkpoint(path)


def test_resume_with_damaged_checkpoint_exits_2(cartpole_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "student.ckpt").write_bytes(os.urandom(300))
    done = subprocess.run(distill_command(cartpole_teacher, out, "--resume"), capture_output=True, text=True)
    assert done.returncode == 2
    assert "student.ckpt" in done.stderr and "Traceback" not in done.stderr


def test_teacher_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from rl_distill.training import train_ppo

    train_ppo("Pendulum-v1", out=tmp_path, hidden=(8,), timesteps=4096, checkpoint_every=4096, progress_bar=False)
    first = VecNormalize.load(str(tmp_path / "teacher.ckpt-vecnormalize.pkl"), make_vec_env("Pendulum-v1"))
    assert PPO.load(tmp_path / "teacher.ckpt.zip").num_timesteps == 4096  # one Pendulum rollout is 4 x 1024 steps
    train_ppo("Pendulum-v1", out=tmp_path, hidden=(8,), timesteps=8192, checkpoint_every=4096, progress_bar=False,
              resume=True)  # fmt: skip
    assert PPO.load(tmp_path / "teacher.zip").num_timesteps == 8192
    stats = VecNormalize.load(str(tmp_path / "teacher" / "vecnormalize.pkl"), make_vec_env("Pendulum-v1"))
    assert stats.obs_rms.count > first.obs_rms.count  # statistics carried on, not restarted


def test_ctrl_c_writes_a_checkpoint_and_exits_cleanly(cartpole_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(distill_command(cartpole_teacher, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    checkpoint = out / "student.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not checkpoint.exists():
        time.sleep(0.05)
    time.sleep(0.3)  # land mid-round
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    state = load_checkpoint(checkpoint)
    assert state["env_steps"] == 1000 * state["next_round"]  # a whole-round state, ready for --resume
