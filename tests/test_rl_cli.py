import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from rl_distill.artifacts.student import export_sb3_student
from rl_distill.cli import main
from rl_distill.errors import InputError
from rl_distill.evaluation.evaluate import EVAL_ENVS
from rl_distill.sb3.envs import EVAL_SEED
from rl_distill.sb3.policies import load_policy


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def distilled(cartpole_teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("distilled")
    args = ["distill", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--steps", "3000",
            "--steps-per-round", "1000", "--student-hidden", "8,8", "--eval-episodes", "2", "--lr-decay",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    return out


def test_distill_writes_a_student_with_a_round_log(distilled: Path) -> None:
    log = json.loads((distilled / "student.json").read_text())
    assert [r["env_steps"] for r in log["rounds"]] == [1000, 2000, 3000]
    assert all(r["eval_mean_return"] is not None and r["loss"] >= 0 for r in log["rounds"])
    assert log["config"]["student_hidden"] == [8, 8] and log["config"]["lr_decay"] is True


def test_dagger_decay_sets_how_fast_the_student_takes_over(cartpole_teacher: Path, tmp_path: Path) -> None:
    args = ["distill", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--steps", "1200",
            "--steps-per-round", "400", "--student-hidden", "4,4", "--eval-episodes", "0", "--updates-per-round", "5",
            "--collect", "dagger", "--dagger-decay", "0.2", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    log = json.loads((tmp_path / "student.json").read_text())
    assert [r["beta"] for r in log["rounds"]] == pytest.approx([1.0, 0.2, 0.04])
    assert log["config"]["dagger_decay"] == 0.2


def test_evaluate_json_matches_plain_sb3(distilled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["evaluate", str(distilled / "student.zip"), "--env", "CartPole-v1", "--episodes", "12",
                        "--json"], capsys)  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["episodes"] == 12 and len(report["returns"]) == 12
    low, high = report["ci95"]
    assert low <= report["mean_return"] <= high
    assert report["mean_return"] == pytest.approx(np.mean(report["returns"]))
    model = PPO.load(distilled / "student.zip")
    env = make_vec_env("CartPole-v1", n_envs=min(EVAL_ENVS, 12), seed=EVAL_SEED)
    returns, _ = evaluate_policy(model, env, n_eval_episodes=12, deterministic=True, return_episode_rewards=True)
    assert sorted(returns) == pytest.approx(sorted(report["returns"]))


def test_evaluate_counts_its_episodes_and_stops_at_the_total(distilled: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # 12 episodes on 10 envs: evaluate_policy lets envs that ran their share go on, and their ends are not counted
    code, out, err = run(["evaluate", str(distilled / "student.zip"), "--env", "CartPole-v1", "--episodes", "12"],
                         capsys)  # fmt: skip
    assert code == 0, err
    counts = [line.split(": ")[1].split(" episodes")[0] for line in err.splitlines()
              if line.startswith("evaluate student.zip: ")]  # fmt: skip
    assert counts and counts[-1] == "12/12"
    assert all(int(c.split("/")[0]) <= 12 for c in counts)
    assert "12 episodes" in out


def test_an_env_without_a_time_limit_is_noted_once(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from rl_distill import errors
    from rl_distill.sb3.envs import make_env

    monkeypatch.setattr(errors, "_notes_given", set())
    for _ in range(2):
        make_env("CliffWalking-v1", n_envs=1, seed=0).close()
    assert capsys.readouterr().err.count("CliffWalking-v1 sets no time limit") == 1
    make_env('CliffWalking-v1:{"max_episode_steps": 50}', n_envs=1, seed=0).close()
    make_env("CartPole-v1", n_envs=1, seed=0).close()
    assert "time limit" not in capsys.readouterr().err


def test_pipeline_writes_compare_json(cartpole_teacher: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    shutil.copy(cartpole_teacher, tmp_path / "given-teacher.zip")
    code, out, _ = run(["pipeline", "--env", "CartPole-v1", "--teacher", str(tmp_path / "given-teacher.zip"),
                        "--steps", "2000", "--scratch-steps", "2048", "--episodes", "5", "--eval-episodes", "1",
                        "--kickstart", "--scale-rewards", "--out", str(tmp_path / "run")], capsys)  # fmt: skip
    assert code == 0, out
    rows = json.loads((tmp_path / "run" / "compare.json").read_text())["rows"]
    assert [r["role"] for r in rows] == ["teacher", "student", "scratch", "kickstart"]
    for row in rows:
        assert {"name", "role", "mean_return", "ci95", "policy_params", "percent_of_teacher"} <= row.keys()
    assert rows[0]["percent_of_teacher"] == pytest.approx(100.0)
    assert all(0 < row["fast_latency_us"] < row["latency_us"] for row in rows)  # exported beats SB3's predict
    assert rows[1]["policy_params"] == rows[2]["policy_params"] == rows[3]["policy_params"]
    assert rows[1]["policy_params"] < rows[0]["policy_params"] / 10
    kickstart = json.loads((tmp_path / "run" / "kickstart.json").read_text())
    assert kickstart["config"]["init"].endswith("student.zip")  # fine-tuned from the distilled student
    assert (tmp_path / "run" / "compare.md").exists()
    scratch = json.loads((tmp_path / "run" / "scratch.json").read_text())
    assert len(scratch["curve_steps"]) >= 10  # the baseline's learning curve, evaluated 20 times over its budget
    assert scratch["scaled_rewards"] and kickstart["scaled_rewards"]  # both, though CartPole's preset scales none
    assert (tmp_path / "run" / "learning-curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_in_a_log_file_is_plain_lines(cartpole_teacher: Path, tmp_path: Path) -> None:
    """Not a terminal: no carriage-return frames, one line per distillation round, periodic PPO lines."""
    import subprocess
    import sys

    cli = [sys.executable, "-m", "rl_distill.cli"]
    done = subprocess.run([*cli, "distill", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--steps",
                           "3000", "--steps-per-round", "1000", "--eval-episodes", "1", "--out", str(tmp_path / "d")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    rounds = [line for line in done.stderr.splitlines() if line.startswith("round ")]
    assert len(rounds) == 3 and "episodic_return" in rounds[0] and "SPS" in rounds[0]
    done = subprocess.run([*cli, "teacher", "--env", "CartPole-v1", "--timesteps", "2560", "--out",
                           str(tmp_path / "t")], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("PPO teacher: ")]
    assert 5 <= len(lines) <= 11 and lines[-1].startswith("PPO teacher: 2,560/2,560 steps")


def test_ppo_progress_counts_the_whole_rollouts_sb3_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # CartPole's preset collects 8 envs x 32 steps per rollout: 100 steps run one whole rollout of 256
    assert main(["teacher", "--env", "CartPole-v1", "--timesteps", "100", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "256/256 steps" in captured.out + captured.err and "/100 steps" not in captured.out + captured.err


def test_compare_tells_apart_students_sharing_a_stem(distilled: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    other = tmp_path / "other"
    shutil.copytree(distilled, other)
    code, out, _ = run(["compare", "--env", "CartPole-v1", "--teacher", str(distilled / "student.zip"), "--students",
                        str(distilled / "student.zip"), str(other / "student.zip"), str(other / "student.safetensors"),
                        "--episodes", "2", "--out", str(tmp_path / "cmp")], capsys)  # fmt: skip
    assert code == 0
    names = [row["name"] for row in json.loads((tmp_path / "cmp" / "compare.json").read_text())["rows"][1:]]
    assert names == [f"{distilled.name}/student.zip", "other/student.zip", "other/student.safetensors"]


def test_compare_a_gsde_teacher_with_negative_returns(pendulum_teacher: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Pendulum's returns are negative: a student at twice the teacher's cost would read "200%"; the score says
    it instead. The preset teacher explores by gSDE, whose state-dependent noise has no artifact form: its
    deployed latency is that of its greedy actions (it was a traceback)."""
    code, out, _ = run(["compare", "--env", "Pendulum-v1", "--teacher", str(pendulum_teacher), "--students",
                        str(pendulum_teacher), "--episodes", "2", "--out", str(tmp_path)], capsys)  # fmt: skip
    assert code == 0, out
    rows = json.loads((tmp_path / "compare.json").read_text())["rows"]
    assert rows[0]["mean_return"] < 0 and [r["percent_of_teacher"] for r in rows] == [None, None]
    assert [r["score"] for r in rows] == [pytest.approx(1.0)] * 2
    assert "| teacher | teacher |" in out and " | - | 1.000 |" in out
    with pytest.raises(InputError, match="gSDE"):
        export_sb3_student(load_policy(pendulum_teacher, "Pendulum-v1").policy, None, tmp_path / "x.safetensors", {})


def test_a_frame_stacked_teacher_is_refused_with_a_hint(tmp_path: Path) -> None:
    from stable_baselines3.common.vec_env import VecFrameStack

    PPO("MlpPolicy", VecFrameStack(make_vec_env("CartPole-v1", n_envs=1), 4), n_steps=64).save(tmp_path / "t.zip")
    with pytest.raises(InputError) as refused:
        load_policy(tmp_path / "t.zip", "CartPole-v1").make_env("CartPole-v1", n_envs=1, seed=0)
    message = str(refused.value)
    assert "Box(shape=(16,)" in message and "CartPole-v1's Box(shape=(4,)" in message
    assert "4 stacked frames" in message and "\n" not in message
