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

from rl_distill.artifacts.student import load_student
from rl_distill.distill.checkpoint import load_checkpoint
from rl_distill.errors import InputError


def distill_command(teacher: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rl_distill.cli", "distill", "--teacher", str(teacher), "--env", "CartPole-v1",
            "--steps", "24000", "--steps-per-round", "1000", "--updates-per-round", "40", "--eval-episodes", "0",
            "--out", str(out), *extra]  # fmt: skip


def in_process(command: list[str]) -> int:
    """A ``distill_command`` run in this process (no interpreter start-up): its exit status."""
    from rl_distill.cli import main

    return main(command[3:])


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
    from rl_distill.distill.checkpoint import save_checkpoint

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

    from rl_distill.sb3.training import train_ppo

    train_ppo("Pendulum-v1", out=tmp_path, hidden=(8,), timesteps=4096, checkpoint_every=4096, progress_bar=False)
    first = VecNormalize.load(str(tmp_path / "teacher.ckpt-vecnormalize.pkl"), make_vec_env("Pendulum-v1"))
    assert PPO.load(tmp_path / "teacher.ckpt.zip").num_timesteps == 4096  # one Pendulum rollout is 4 x 1024 steps
    resumed = train_ppo("Pendulum-v1", out=tmp_path, hidden=(8,), timesteps=8192, checkpoint_every=4096,
                        progress_bar=False, resume=True, eval_every=2048, eval_episodes=1)  # fmt: skip
    assert resumed.curve_steps == [6144, 8192]  # a normalised env's learning curve (statistics synced each time)
    assert PPO.load(tmp_path / "teacher.zip").num_timesteps == 8192
    assert 0 < resumed.env_seconds < resumed.wall_seconds  # the env's share of this session's time
    stats = VecNormalize.load(str(tmp_path / "teacher" / "vecnormalize.pkl"), make_vec_env("Pendulum-v1"))
    assert stats.obs_rms.count > first.obs_rms.count  # statistics carried on, not restarted


def test_ctrl_c_writes_a_checkpoint_and_exits_cleanly(cartpole_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    # 240 rounds: the run is stopped long before its end (24 rounds took 1.4 s at 17,000 steps/s on one CPU)
    # A shell runs a background job (`pytest ... &`) with SIGINT ignored, and children inherit that: restore it
    proc = subprocess.Popen(distill_command(cartpole_teacher, out, "--steps", "240000"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    checkpoint = out / "student.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not checkpoint.exists():
        time.sleep(0.05)
    time.sleep(0.03)  # land mid-round
    assert proc.poll() is None, "the run finished before it could be interrupted; give it more steps"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    state = load_checkpoint(checkpoint)
    assert state["env_steps"] == 1000 * state["next_round"]  # a whole-round state, ready for --resume


def test_interrupted_round_leaves_the_last_round_boundary(cartpole_teacher: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Ctrl-C after round 1 trained the student (worst case) or in the middle of its collection: the file
    still holds exactly what an uninterrupted run had after round 0, buffer and generators included."""
    from rl_distill.distill.buffer import DistillationBuffer
    from rl_distill.distill.config import DistillConfig
    from rl_distill.distill.loop import distill
    from rl_distill.sb3.policies import load_policy

    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig("CartPole-v1", steps=3_000, steps_per_round=1_000, collect="dagger", eval_episodes=0,
                           updates_per_round=20)  # fmt: skip
    boundary: dict = {}
    whole = tmp_path / "whole.ckpt"
    distill(config, teacher, progress_bar=False, checkpoint=whole,
            on_round=lambda log: boundary.setdefault(log.round, load_checkpoint(whole)))  # fmt: skip

    def after_training(model: object) -> float:
        if after_training.calls == 1:
            raise KeyboardInterrupt
        after_training.calls += 1
        return 0.0

    after_training.calls = 0
    first = tmp_path / "after-training.ckpt"
    with pytest.raises(KeyboardInterrupt):
        distill(config, teacher, progress_bar=False, checkpoint=first, evaluate_student=after_training)
    add = DistillationBuffer.add
    calls = {"n": 0}

    def add_then_interrupt(self: DistillationBuffer, obs: torch.Tensor, targets: torch.Tensor) -> None:
        calls["n"] += 1
        if calls["n"] == 125 + 60:  # round 1 (125 vector steps of 8 per round), part-way through
            raise KeyboardInterrupt
        add(self, obs, targets)

    monkeypatch.setattr(DistillationBuffer, "add", add_then_interrupt)
    second = tmp_path / "mid-collection.ckpt"
    with pytest.raises(KeyboardInterrupt):
        distill(config, teacher, progress_bar=False, checkpoint=second)
    monkeypatch.setattr(DistillationBuffer, "add", add)
    want = boundary[0]
    for path in (first, second):
        got = load_checkpoint(path)
        assert (got["next_round"], got["env_steps"], got["queries"]) == (1, 1_000, 1_000)
        assert torch.equal(got["buffer"]["obs"], want["buffer"]["obs"]) and len(got["buffer"]["obs"]) == 1_000
        assert torch.equal(got["buffer"]["targets"], want["buffer"]["targets"])
        assert all(torch.equal(got["student"][k], want["student"][k]) for k in want["student"])
        assert torch.equal(got["generator"], want["generator"]) and got["rng"] == want["rng"]
        assert [r["round"] for r in got["rounds"]] == [0]
    resumed = distill(config, teacher, progress_bar=False, checkpoint=second, resume=True)
    assert [r.env_steps for r in resumed.rounds] == [1_000, 2_000, 3_000]


def test_checkpoint_holds_only_the_filled_part_of_the_buffer(cartpole_teacher: Path, tmp_path: Path) -> None:
    assert in_process(distill_command(cartpole_teacher, tmp_path, "--steps", "2000")) == 0
    state = load_checkpoint(tmp_path / "student.ckpt")
    assert len(state["buffer"]["obs"]) == 2_000
    # 2,000 states x (4 obs + 2 logits) floats is 48 kB; the pre-allocated 100,000-state storage would be 2.4 MB
    assert (tmp_path / "student.ckpt").stat().st_size < 200_000


@pytest.fixture(scope="module")
def finished_run(cartpole_teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    assert in_process(distill_command(cartpole_teacher, out, "--steps", "2000")) == 0
    return out


@pytest.mark.parametrize(("change", "named"), [
    (["--collect", "dagger"], "collect"),
    (["--seed", "1"], "seed"),
    (["--student-hidden", "4,4"], "student_hidden"),
    (["--buffer-size", "500"], "buffer_size"),
    (["--loss", "reverse-kl"], "loss"),
    (["--teacher", "{other}"], "teacher_sha256"),
])  # fmt: skip
def test_resume_refuses_a_checkpoint_of_another_run(cartpole_teacher: Path, finished_run: Path, tmp_path: Path,
                                                    change: list[str], named: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    other = tmp_path / "other.zip"
    other.write_bytes(cartpole_teacher.read_bytes() + b"\0")  # same model, another file: another teacher
    change = [c.format(other=other) for c in change]
    command = distill_command(cartpole_teacher, out, "--steps", "4000", "--resume", *change)
    if "--teacher" in change:
        command[command.index("--teacher") + 1] = change[1]
    code, err = in_process(command), capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and "belongs to another run" in lines[0] and named in lines[0], err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_resume_with_a_larger_budget_continues(cartpole_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert in_process(distill_command(cartpole_teacher, out, "--steps", "2000")) == 0
    assert in_process(distill_command(cartpole_teacher, out, "--steps", "3000", "--resume")) == 0
    assert [r["env_steps"] for r in json.loads((out / "student.json").read_text())["rounds"]] == [1000, 2000, 3000]


@pytest.mark.parametrize(("first", "again", "goes_on"), [
    ("sampled", "auto", "sampled"),  # begun before auto was the default (or with sampled): it goes on sampled
    ("greedy", "auto", "greedy"),
    ("sampled", "greedy", None),  # a mode asked for by name must match the checkpoint's
])  # fmt: skip
def test_a_resumed_box_action_run_goes_on_collecting_as_it_began_unless_told_otherwise(
        pendulum_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], first: str, again: str,
        goes_on: str | None) -> None:  # fmt: skip
    from rl_distill.cli import main

    def run(steps: str, mode: str, *extra: str) -> int:
        return main(["distill", "--teacher", str(pendulum_teacher), "--env", "Pendulum-v1", "--steps", steps,
                     "--steps-per-round", "200", "--updates-per-round", "5", "--eval-episodes", "0",
                     "--collect-actions", mode, "--out", str(tmp_path), *extra])  # fmt: skip

    assert run("200", first) == 0
    code = run("400", again, "--resume")
    log = json.loads((tmp_path / "student.json").read_text())
    if goes_on is None:
        assert code == 2 and "belongs to another run" in capsys.readouterr().err
        assert [r["env_steps"] for r in log["rounds"]] == [200]  # the first run's files are untouched
    else:
        assert code == 0 and log["config"]["collect_actions"] == goes_on
        assert [r["env_steps"] for r in log["rounds"]] == [200, 400]


def test_a_box_action_run_begun_student_driven_resumes_student_driven(pendulum_teacher: Path, tmp_path: Path) -> None:
    """distill's defaults until session 59 (student-driven, capped): such a run resumed under today's (auto, auto:
    DAgger, greedy on Box actions) goes on as it began."""
    from rl_distill.cli import main

    base = ["distill", "--teacher", str(pendulum_teacher), "--env", "Pendulum-v1", "--steps-per-round", "200",
            "--updates-per-round", "5", "--eval-episodes", "0", "--out", str(tmp_path)]  # fmt: skip
    assert main([*base, "--steps", "200", "--collect", "student"]) == 0
    assert main([*base, "--steps", "400", "--resume"]) == 0
    log = json.loads((tmp_path / "student.json").read_text())
    assert (log["config"]["collect"], log["config"]["collect_actions"]) == ("student", "capped")
    assert [r["env_steps"] for r in log["rounds"]] == [200, 400]
