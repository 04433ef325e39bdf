"""Multi-task distillation: per-task acting, head routing, the artifact, bad input."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rl_distill.artifacts.multitask import MultiTaskNet, pooled_normalization, space_groups, task_index
from rl_distill.artifacts.student import load_student
from rl_distill.cli import main
from rl_distill.distill.multitask import multitask_config, parse_task
from rl_distill.errors import InputError
from rl_distill.experiments.multitask import run_multitask
from rl_distill.sb3.policies import load_policy
from rl_distill.sb3.training import train_ppo

CARTPOLE_VARIANT = 'CartPole-v1:{"sutton_barto_reward": true}'


@pytest.fixture(scope="module")
def acrobot_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A barely trained Acrobot teacher with VecNormalize statistics (the preset normalises)."""
    out = tmp_path_factory.mktemp("acrobot-teacher")
    train_ppo("Acrobot-v1", out=out, hidden=(32, 32), timesteps=4_096, seed=0, progress_bar=False)
    return out / "teacher.zip"


@pytest.fixture(scope="module")
def two_task_run(tmp_path_factory: pytest.TempPathFactory, cartpole_teacher: Path, acrobot_teacher: Path) -> Path:
    out = tmp_path_factory.mktemp("multitask")
    config = multitask_config(["CartPole-v1", "Acrobot-v1"], student_hidden=(32, 32), steps=16_000,
                              steps_per_round=4_000, collect="dagger", eval_episodes=0, seed=0)  # fmt: skip
    run_multitask(config, [cartpole_teacher, acrobot_teacher], out, progress_bar=False)
    return out


def visited_states(teacher_path: Path, task: str, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Raw observations the teacher visits in ``task``, and its greedy actions there."""
    teacher = load_policy(teacher_path, task)
    venv = teacher.make_env(task, n_envs=4, seed=123)
    obs = venv.reset()
    raw, actions = [], []
    while len(raw) * 4 < n:
        action = teacher.model.predict(obs, deterministic=True)[0]
        raw.append(venv.get_original_obs() if hasattr(venv, "get_original_obs") else obs)
        actions.append(action)
        obs = venv.step(action)[0]
    return np.concatenate(raw), np.concatenate(actions)


def test_two_task_student_acts_like_each_teacher_in_its_own_task(two_task_run: Path, cartpole_teacher: Path,
                                                                acrobot_teacher: Path) -> None:  # fmt: skip
    student = load_student(two_task_run / "student.safetensors")
    assert student.tasks == ["CartPole-v1", "Acrobot-v1"]
    for task, teacher in (("CartPole-v1", cartpole_teacher), ("Acrobot-v1", acrobot_teacher)):
        states, teacher_actions = visited_states(teacher, task)
        agreement = (student.act(states, task=task) == teacher_actions).mean()
        assert agreement >= 0.9, (task, agreement)
    log = (two_task_run / "student.json").read_text()
    assert '"task_loss"' in log and '"task_env_steps"' in log


def test_every_task_gets_an_equal_exact_share_of_steps_and_its_action_gap(two_task_run: Path) -> None:
    import json

    rounds = json.loads((two_task_run / "student.json").read_text())["rounds"]
    assert [r["task_env_steps"] for r in rounds] == [[2_000, 2_000], [4_000, 4_000], [6_000, 6_000], [8_000, 8_000]]
    # each task's action gap, on its new states before training: an untrained student's, then a fitted one's
    first, last = rounds[0]["task_action_gap"], rounds[-1]["task_action_gap"]
    assert len(first) == 2 and all(a > 0.1 and b < a / 3 for a, b in zip(first, last, strict=True)), (first, last)


def test_artifact_round_trips_with_its_tasks_and_exports_each(two_task_run: Path, tmp_path: Path) -> None:
    student = load_student(two_task_run / "student.safetensors")
    task = student.header["tasks"][1]
    assert task["env_id"] == "Acrobot-v1" and task["normalization"] is not None  # the Acrobot teacher's
    obs = np.random.default_rng(0).uniform(-1, 1, size=(5, 6)).astype(np.float32)
    view = student.for_task("Acrobot-v1")
    with torch.inference_mode():
        expected = view.net(torch.from_numpy(obs)).numpy()
    np.testing.assert_array_equal(student.act(obs, task="1"), expected)
    assert student.act(obs[0], task="Acrobot-v1") == expected[0]
    assert main(["export", str(two_task_run / "student.safetensors"), "--format", "onnx",
                 "--out", str(tmp_path / "s.onnx")]) == 0  # fmt: skip
    assert (tmp_path / "s-task0.onnx").is_file() and (tmp_path / "s-task1.onnx").is_file()


def header(tasks: list[dict], task_id: str = "onehot") -> dict:
    return {"tasks": tasks, "architecture": {"hidden": [8, 8], "activation": "tanh", "task_id": task_id}}


def box_task(name: str, size: int, norm: dict | None = None) -> dict:
    return {"name": name, "env_id": name, "normalization": norm,
            "observation_space": {"type": "Box", "shape": [size], "low": [-1.0] * size, "high": [1.0] * size},
            "action_space": {"type": "Discrete", "n": 2}}  # fmt: skip


def test_a_task_head_gets_gradients_only_from_its_own_states() -> None:
    net = MultiTaskNet(header([box_task("a", 3), box_task("b", 5)]))
    assert len(net.inputs) == len(net.heads) == 2
    net.task_nets[0].distribution_params(torch.randn(16, 3)).pow(2).sum().backward()
    assert all(p.grad is None for p in [*net.inputs[1].parameters(), *net.heads[1].parameters()])
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in [*net.inputs[0].parameters(), *net.heads[0].parameters(), *net.trunk.parameters()])


def test_tasks_with_the_same_spaces_share_everything_without_a_task_id() -> None:
    norm_a = {"mean": [0.0, 0.0], "var": [1.0, 1.0], "clip": 10.0, "epsilon": 1e-8}
    norm_b = {"mean": [2.0, 0.0], "var": [1.0, 4.0], "clip": 5.0, "epsilon": 1e-8}
    pooled = pooled_normalization([norm_a, norm_b])
    assert pooled["mean"] == [1.0, 0.0] and pooled["var"] == [2.0, 2.5] and pooled["clip"] == 10.0
    tasks = [box_task("a", 2, pooled), box_task("b", 2, pooled), box_task("c", 3)]
    assert space_groups(tasks) == [0, 0, 1]
    net = MultiTaskNet(header(tasks, task_id="none"))
    obs = torch.randn(4, 2)
    torch.testing.assert_close(net.task_nets[0].distribution_params(obs), net.task_nets[1].distribution_params(obs))
    onehot = MultiTaskNet(header(tasks, task_id="onehot"))
    assert onehot.inputs[0].in_features == 2 + 3  # the observation and the three-task code
    assert not torch.equal(onehot.task_nets[0].distribution_params(obs), onehot.task_nets[1].distribution_params(obs))


def test_same_env_with_other_kwargs_is_another_task(cartpole_teacher: Path, tmp_path: Path) -> None:
    config = multitask_config(["CartPole-v1", CARTPOLE_VARIANT], student_hidden=(8,), steps=64, steps_per_round=32,
                              n_envs=4, updates_per_round=2, eval_episodes=0, task_id="none")  # fmt: skip
    run_multitask(config, [cartpole_teacher, cartpole_teacher], tmp_path, progress_bar=False)
    student = load_student(tmp_path / "student.safetensors")
    assert student.tasks == ["CartPole-v1", CARTPOLE_VARIANT]
    assert student.header["tasks"][1]["env_kwargs"] == {"sutton_barto_reward": True}
    assert student.for_task("CartPole-v1").header["name"] == "CartPole-v1"  # an exact name wins over the env id
    variants = ['LunarLander-v3:{"gravity": -5}', 'LunarLander-v3:{"gravity": -10}']
    with pytest.raises(InputError, match="several tasks use that env"):
        task_index(variants, "LunarLander-v3", "student")
    assert task_index(variants, variants[1], "student") == task_index(variants, "1", "student") == 1


def test_resume_continues_and_refuses_other_settings(cartpole_teacher: Path, acrobot_teacher: Path,
                                                     tmp_path: Path) -> None:  # fmt: skip
    tasks, teachers = ["CartPole-v1", "Acrobot-v1"], [cartpole_teacher, acrobot_teacher]
    small = dict(student_hidden=(8,), steps_per_round=64, n_envs=4, updates_per_round=2, eval_episodes=0)
    run_multitask(multitask_config(tasks, steps=128, **small), teachers, tmp_path, progress_bar=False)
    run_multitask(multitask_config(tasks, steps=192, **small), teachers, tmp_path, resume=True, progress_bar=False)
    import json

    rounds = json.loads((tmp_path / "student.json").read_text())["rounds"]
    assert [r["env_steps"] for r in rounds] == [64, 128, 192]
    with pytest.raises(InputError, match="task_id"):
        run_multitask(multitask_config(tasks, steps=256, task_id="none", **small), teachers, tmp_path, resume=True,
                      progress_bar=False)  # fmt: skip


@pytest.mark.parametrize("tasks, message", [
    (["CartPole-v1=TEACHER", "CartPole-v1=TEACHER"], "given twice"),
    (["CartPole-v1=missing.zip"], "no such model file"),
    (["Acrobot-v1=TEACHER"], "does not match"),
    (["CartPole-v1"], "ENV\\[:KWARGS_JSON\\]=TEACHER_ZIP"),
    (["CartPole-v1:{bad=TEACHER"], "not valid JSON"),
])  # fmt: skip
def test_bad_tasks_exit_2_and_write_nothing(tasks: list[str], message: str, cartpole_teacher: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "out"
    argv = ["multitask", "--out", str(out), "--steps", "64"]
    for task in tasks:
        argv += ["--task", task.replace("TEACHER", str(cartpole_teacher))]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 or "note:" in err
    assert message.replace("\\", "") in err or pytest.fail(err)
    assert not out.exists()


def test_unknown_task_name_exits_2(two_task_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(two_task_run / "student.safetensors"), "--task", "Pong-v5", "--episodes", "1"]) == 2
    assert "no such task" in capsys.readouterr().err
    assert main(["evaluate", str(two_task_run / "student.safetensors"), "--episodes", "1"]) == 2
    assert "pass --task" in capsys.readouterr().err


def test_parse_task_splits_kwargs_from_the_teacher_path_and_its_statistics() -> None:
    assert parse_task('LunarLander-v3:{"gravity": -5.0}=runs/a=b/teacher.zip') == (
        'LunarLander-v3:{"gravity": -5.0}', Path("runs/a=b/teacher.zip"), None)  # fmt: skip
    assert parse_task("CartPole-v1=t.zip") == ("CartPole-v1", Path("t.zip"), None)
    assert parse_task("Pendulum-v1=runs/p/x.zip,runs/p/x_vecnormalize.pkl") == (
        "Pendulum-v1", Path("runs/p/x.zip"), Path("runs/p/x_vecnormalize.pkl"))  # fmt: skip
    assert parse_task("CartPole-v1=runs/a,b/t.zip") == ("CartPole-v1", Path("runs/a,b/t.zip"), None)  # a comma


def test_each_teacher_can_be_given_its_statistics(cartpole_teacher: Path, pendulum_teacher: Path,
                                                 tmp_path: Path) -> None:  # fmt: skip
    """A teacher whose statistics sit under a name nothing finds (plain SB3's ``x_vecnormalize.pkl``) is read
    with them when its --task names them, and the student's task normalises as the teacher does."""
    brought = tmp_path / "brought"
    brought.mkdir()
    shutil.copy(pendulum_teacher, brought / "pendulum.zip")
    shutil.copy(pendulum_teacher.parent / "teacher" / "vecnormalize.pkl", brought / "pendulum_stats.pkl")
    out = tmp_path / "out"
    assert main(["multitask", "--task", f"CartPole-v1={cartpole_teacher}",
                 "--task", f"Pendulum-v1={brought / 'pendulum.zip'},{brought / 'pendulum_stats.pkl'}",
                 "--student-hidden", "8", "--steps", "256", "--steps-per-round", "128", "--n-envs", "4",
                 "--eval-episodes", "0", "--out", str(out)]) == 0  # fmt: skip
    view = load_student(out / "student.safetensors").for_task("Pendulum-v1")
    expected = load_policy(pendulum_teacher, "Pendulum-v1").normalization.obs_rms.mean
    assert view.header["normalization"] is not None
    np.testing.assert_allclose(view.header["normalization"]["mean"], expected)


def test_compare_gives_each_task_its_own_row(two_task_run: Path, cartpole_teacher: Path) -> None:
    from rl_distill.evaluation.compare import compare

    artifact = two_task_run / "student.safetensors"
    rows, _ = compare("CartPole-v1", cartpole_teacher, [artifact], episodes=2)
    view = load_student(artifact).for_task("CartPole-v1")
    assert rows[1].policy_params == sum(p.numel() for p in view.net.parameters())  # what this task's actions use
    assert rows[1].mean_return == pytest.approx(rows[0].mean_return, rel=0.3)  # it acts as CartPole's teacher


def test_box_and_discrete_tasks_share_a_trunk(cartpole_teacher: Path, pendulum_teacher: Path, tmp_path: Path) -> None:
    config = multitask_config(["CartPole-v1", "Pendulum-v1"], student_hidden=(8,), steps=256, steps_per_round=128,
                              n_envs=4, updates_per_round=5, eval_episodes=1, collect="teacher")  # fmt: skip
    run_multitask(config, [cartpole_teacher, pendulum_teacher], tmp_path, progress_bar=False)
    student = load_student(tmp_path / "student.safetensors")
    assert list(student.net.log_stds.keys()) == ["1"]  # only the Box task's head has a log-std
    far = np.array([[1.0, 0.0, 50.0]] * 3, dtype=np.float32)  # far outside what the teacher saw
    actions = student.act(far, task="Pendulum-v1")
    assert actions.shape == (3, 1) and np.all(np.abs(actions) <= 2.0)  # clipped to the env's bounds
    assert set(np.unique(student.act(np.zeros((6, 4), np.float32), task="CartPole-v1"))) <= {0, 1}
    # auto collection, teacher-driven: capped in the Box task, sampled in the other, so the run records auto
    assert json.loads((tmp_path / "student.json").read_text())["config"]["collect_actions"] == "auto"


def test_auto_scheme_is_dagger_for_all_tasks_when_one_has_box_actions(cartpole_teacher: Path, pendulum_teacher: Path,
                                                                       tmp_path: Path) -> None:  # fmt: skip
    config = multitask_config(["CartPole-v1", "Pendulum-v1"], student_hidden=(8,), steps=128, steps_per_round=64,
                              n_envs=2, updates_per_round=2, eval_episodes=0)  # fmt: skip
    assert config.collect == "auto"  # the default
    run_multitask(config, [cartpole_teacher, pendulum_teacher], tmp_path, progress_bar=False)
    log = json.loads((tmp_path / "student.json").read_text())
    assert log["config"]["collect"] == "dagger"  # one DAgger coin per round for both tasks
    assert [r["beta"] for r in log["rounds"]] == [1.0, 0.5]
    # greedy in the Box task under DAgger, sampled in the discrete one: no one mode to record
    assert log["config"]["collect_actions"] == "auto"


def test_tasks_that_collect_alike_record_their_mode(two_task_run: Path) -> None:
    assert json.loads((two_task_run / "student.json").read_text())["config"]["collect_actions"] == "sampled"


def test_compare_runs_a_single_task_artifact_on_a_changed_task(cartpole_teacher: Path, tmp_path: Path) -> None:
    from rl_distill.evaluation.compare import compare

    assert main(["distill", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--steps", "64",
                 "--steps-per-round", "64", "--eval-episodes", "0", "--out", str(tmp_path)]) == 0  # fmt: skip
    rows, _ = compare(CARTPOLE_VARIANT, cartpole_teacher, [tmp_path / "student.safetensors"], episodes=2)
    assert rows[1].role == "student" and rows[1].episodes == 2
