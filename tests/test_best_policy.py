"""keep_best: a run ends with the policy of its best learning-curve point, chosen on validation episodes."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from rl_distill.cli import main
from rl_distill.errors import InputError
from rl_distill.evaluation.evaluate import greedy_return_of
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import run_kickstart
from rl_distill.sb3.policies import load_policy
from rl_distill.sb3.training import BEST_EPISODES, CURVE_EPISODES, CURVE_INTERVALS, train_ppo


def same_parameters(a: Path, b: Path) -> bool:
    first, second = PPO.load(a).policy.state_dict(), PPO.load(b).policy.state_dict()
    return all(torch.equal(first[k], second[k]) for k in first)


def test_kickstart_keeps_the_best_curve_point_not_the_last(cartpole_teacher: Path, tmp_path: Path) -> None:
    """From the teacher's own weights, a far too high learning rate wrecks the policy: the kept one is the best
    point's, and replaying the curve's validation episodes gives exactly that point's return."""
    config = KickstartConfig("CartPole-v1", student_hidden=(64, 64), timesteps=2_048, eval_every=512,
                             eval_episodes=2, schedule="constant:0", init=str(cartpole_teacher), learning_rate=0.05,
                             keep_best=True)  # fmt: skip
    path = run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    log = json.loads((tmp_path / "student.json").read_text())
    returns, steps = log["curve_returns"], log["curve_steps"]
    best = max(range(len(returns)), key=returns.__getitem__)  # the first of equal maxima, as kept
    assert log["kept"] == {"steps": steps[best], "mean_return": returns[best]}
    assert returns[-1] < returns[best]  # else this test could not tell "best" from "last"
    assert same_parameters(path, tmp_path / "student.best.zip")
    assert not same_parameters(path, tmp_path / "student.ckpt.zip")  # the checkpoint holds the last policy
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    assert greedy_return_of(teacher, "CartPole-v1", 2)(PPO.load(path)) == returns[best]


def test_ppo_keeps_the_best_policy_with_its_statistics(tmp_path: Path) -> None:
    """Pendulum's preset normalises observations: the kept policy comes with the statistics it was evaluated with."""
    result = train_ppo("Pendulum-v1", out=tmp_path, hidden=(8,), timesteps=3 * 4_096, eval_every=4_096,
                       eval_episodes=2, checkpoint_every=4_096, keep_best=True, progress_bar=False)  # fmt: skip
    best = max(range(len(result.curve_returns)), key=result.curve_returns.__getitem__)
    assert result.kept == {"steps": result.curve_steps[best], "mean_return": result.curve_returns[best]}
    assert result.kept["steps"] < result.timesteps  # seed 0's best point is not its last
    final, ckpt = tmp_path / "teacher.zip", tmp_path / "teacher.ckpt.zip"
    assert same_parameters(final, tmp_path / "teacher.best.zip") and not same_parameters(final, ckpt)
    stats = {name: VecNormalize.load(str(tmp_path / f"{name}/vecnormalize.pkl"), make_vec_env("Pendulum-v1"))
             for name in ("teacher", "teacher.best")}  # fmt: skip
    last = VecNormalize.load(str(tmp_path / "teacher.ckpt-vecnormalize.pkl"), make_vec_env("Pendulum-v1"))
    assert stats["teacher"].obs_rms.count == stats["teacher.best"].obs_rms.count < last.obs_rms.count


def test_keep_best_resumes_with_the_best_so_far(cartpole_teacher: Path, tmp_path: Path) -> None:
    """After --resume a worse point must not replace the best one kept before the interruption."""
    settings = {"student_hidden": (64, 64), "eval_every": 512, "eval_episodes": 2, "schedule": "constant:0",
                "init": str(cartpole_teacher), "learning_rate": 0.05, "keep_best": True, "checkpoint_every": 512}
    run_kickstart(KickstartConfig("CartPole-v1", timesteps=1_024, **settings), cartpole_teacher, tmp_path,
                  progress_bar=False)  # type: ignore[arg-type]  # fmt: skip
    before = json.loads((tmp_path / "student.json").read_text())["kept"]
    run_kickstart(KickstartConfig("CartPole-v1", timesteps=2_048, **settings), cartpole_teacher, tmp_path,
                  resume=True, progress_bar=False)  # type: ignore[arg-type]  # fmt: skip
    log = json.loads((tmp_path / "student.json").read_text())
    assert log["kept"]["mean_return"] == max(log["curve_returns"]) >= before["mean_return"]


def test_keep_best_without_a_curve_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="learning curve"):
        train_ppo("CartPole-v1", out=tmp_path, timesteps=512, keep_best=True, progress_bar=False)
    assert not any(tmp_path.iterdir())


def test_keeping_the_best_does_not_change_training(cartpole_teacher: Path, tmp_path: Path) -> None:
    """The curve's validation episodes draw nothing from training's random streams: with and without keep_best
    a run's last policy is the same, so the two differ only in which policy they write."""
    settings = {"student_hidden": (8,), "timesteps": 1_024, "eval_every": 256, "eval_episodes": 2}
    run_kickstart(KickstartConfig("CartPole-v1", keep_best=False, **settings), cartpole_teacher, tmp_path / "last",
                  progress_bar=False)  # type: ignore[arg-type]  # fmt: skip
    run_kickstart(KickstartConfig("CartPole-v1", keep_best=True, **settings), cartpole_teacher, tmp_path / "best",
                  progress_bar=False)  # type: ignore[arg-type]  # fmt: skip
    assert same_parameters(tmp_path / "last" / "student.zip", tmp_path / "best" / "student.ckpt.zip")


def test_the_curve_ends_with_one_point_the_final_policys(cartpole_teacher: Path, tmp_path: Path) -> None:
    """The last rollout's final step is also training's end: one point there, after the final update (before,
    the policy ahead of that update got a point with the same step count and could be the one kept)."""
    config = KickstartConfig("CartPole-v1", student_hidden=(8,), timesteps=1_024, eval_every=256, eval_episodes=2)
    path = run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    log = json.loads((tmp_path / "student.json").read_text())
    steps = log["curve_steps"]
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == PPO.load(path).num_timesteps
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    assert greedy_return_of(teacher, "CartPole-v1", 2)(PPO.load(path)) == log["curve_returns"][-1]


def test_a_run_keeps_its_best_unless_told_otherwise() -> None:
    """Fresh or after --init, the best point is kept, on BEST_EPISODES validation episodes; the last policy is
    curved on CURVE_EPISODES; what is asked for stands."""
    for config in KickstartConfig("CartPole-v1"), KickstartConfig("CartPole-v1", init="student.zip"):
        assert (config.resolved().keep_best, config.resolved().eval_episodes) == (True, BEST_EPISODES)
    assert BEST_EPISODES > CURVE_EPISODES
    last = KickstartConfig("CartPole-v1", keep_best=False).resolved()
    assert (last.keep_best, last.eval_episodes) == (False, CURVE_EPISODES)
    told = KickstartConfig("CartPole-v1", init="student.zip", keep_best=False, eval_episodes=7).resolved()
    assert (told.keep_best, told.eval_episodes) == (False, 7)
    fine_tune = KickstartConfig("CartPole-v1", init="student.zip")
    assert fine_tune.resolved().eval_every == fine_tune.timesteps // CURVE_INTERVALS  # bounds the episodes' cost
    assert replace(fine_tune, eval_every=1_000).resolved().eval_every == 1_000


@pytest.mark.parametrize("init", [True, False], ids=["from-a-student", "fresh"])
def test_kickstart_writes_its_best_by_default(cartpole_teacher: Path, tmp_path: Path, init: bool,
                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    common = ["kickstart", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--student-hidden", "64,64",
              *(["--init", str(cartpole_teacher)] if init else []), "--timesteps", "512", "--eval-every", "512",
              "--eval-episodes", "2"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "default")]) == 0, capsys.readouterr().err
    assert main([*common, "--no-keep-best", "--out", str(tmp_path / "last")]) == 0, capsys.readouterr().err
    default, last = (json.loads((tmp_path / run / "student.json").read_text()) for run in ("default", "last"))
    assert default["config"]["keep_best"] and default["kept"]["steps"] in default["curve_steps"]
    assert (tmp_path / "default" / "student.best.zip").exists()
    assert last["config"]["keep_best"] is False and last["kept"] is None
    assert not (tmp_path / "last" / "student.best.zip").exists()


def test_distill_keeps_the_round_its_evaluation_scored_best(cartpole_teacher: Path, tmp_path: Path) -> None:
    """The evaluator sees every round's student; the one it scored highest is what the run ends with (ties keep
    the earlier), while training runs on as without keep_best."""
    from rl_distill.distill.config import DistillConfig
    from rl_distill.distill.loop import distill

    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    scores, weights = iter([3.0, 9.0, 4.0, 9.0]), []

    def scripted(model: PPO) -> float:
        weights.append({k: v.clone() for k, v in model.policy.state_dict().items()})
        return next(scores)

    config = DistillConfig("CartPole-v1", student_hidden=(8,), steps=1_024, steps_per_round=256, updates_per_round=5,
                           eval_episodes=1, keep_best=True)  # fmt: skip
    kept = distill(config, teacher, evaluate_student=scripted, progress_bar=False)
    assert kept.kept == {"round": 1, "env_steps": 512, "mean_return": 9.0}
    assert all(torch.equal(kept.student.policy.state_dict()[k], weights[1][k]) for k in weights[1])
    last = distill(replace(config, keep_best=False), teacher, evaluate_student=lambda model: 0.0, progress_bar=False)
    assert last.kept is None
    assert all(torch.equal(last.student.policy.state_dict()[k], weights[-1][k]) for k in weights[-1])
    name = "mlp_extractor.policy_net.0.weight"
    assert not torch.equal(weights[1][name], weights[-1][name])  # else kept and last could not be told apart


def test_distill_keep_best_survives_a_resume(cartpole_teacher: Path, tmp_path: Path) -> None:
    """The best round so far is in the checkpoint: a resumed run ends with it if no later round beats it."""
    from rl_distill.distill.config import DistillConfig
    from rl_distill.distill.loop import distill

    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    checkpoint = tmp_path / "student.ckpt"
    config = DistillConfig("CartPole-v1", student_hidden=(8,), steps=512, steps_per_round=256, updates_per_round=5,
                           eval_episodes=1, keep_best=True)  # fmt: skip
    scores = iter([5.0, 1.0])
    first = distill(config, teacher, evaluate_student=lambda model: next(scores), progress_bar=False,
                    checkpoint=checkpoint)  # fmt: skip
    assert first.kept == {"round": 0, "env_steps": 256, "mean_return": 5.0}
    resumed = distill(replace(config, steps=1_024), teacher, evaluate_student=lambda model: 2.0, progress_bar=False,
                      checkpoint=checkpoint, resume=True)  # fmt: skip
    assert resumed.kept == first.kept and len(resumed.rounds) == 4
    unkept = distill(replace(config, steps=1_536, keep_best=False), teacher, evaluate_student=lambda model: 9.0,
                     progress_bar=False, checkpoint=checkpoint, resume=True)  # fmt: skip
    assert unkept.kept is None  # resumed without keep_best: the last round, though the checkpoint holds a best
    kept_weights = first.student.policy.state_dict()
    assert all(torch.equal(resumed.student.policy.state_dict()[k], v) for k, v in kept_weights.items())


def test_distill_keep_best_cli(cartpole_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--keep-best scores each round on BEST_EPISODES validation episodes unless told, records the kept round,
    and without evaluation episodes is refused in one line, nothing written."""
    base = ["distill", "--teacher", str(cartpole_teacher), "--env", "CartPole-v1", "--steps", "1024",
            "--steps-per-round", "512", "--updates-per-round", "5", "--student-hidden", "8"]  # fmt: skip
    assert main([*base, "--keep-best", "--out", str(tmp_path / "kept")]) == 0
    log = json.loads((tmp_path / "kept" / "student.json").read_text())
    assert log["config"]["eval_episodes"] == BEST_EPISODES and log["config"]["keep_best"]
    best = max(range(2), key=lambda i: log["rounds"][i]["eval_mean_return"])
    assert log["kept"]["round"] == best and log["kept"]["mean_return"] == log["rounds"][best]["eval_mean_return"]
    assert f"kept round {best} (" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads((tmp_path / "plain" / "student.json").read_text())
    assert plain["config"]["eval_episodes"] == 5 and plain["kept"] is None
    assert main([*base, "--keep-best", "--eval-episodes", "0", "--out", str(tmp_path / "refused")]) == 2
    assert "error: --keep-best chooses a round on its evaluation episodes" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
