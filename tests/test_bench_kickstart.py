"""scripts/bench_kickstart.py and its teachers: which checkpoint is the imperfect teacher, which finished runs
are reused, and how a case's earlier teacher's runs are kept."""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from kickstart_failures import episode_outcome, stuck_onset  # noqa: E402
from kickstart_names import distill_variant  # noqa: E402
from kickstart_report import markdown  # noqa: E402
from kickstart_store import Busy, case_file, claimed, file_result, finished, load_report, merged  # noqa: E402
from kickstart_teachers import imperfect_enough  # noqa: E402
from reevaluate_kickstart import NotTheScoredPolicy, chosen_runs, reevaluate  # noqa: E402
from reevaluate_kickstart import markdown as reevaluated_markdown  # noqa: E402
from train_sb3_teacher import train_teacher  # noqa: E402


@pytest.mark.parametrize(("score", "sampled", "chosen"), [
    (0.646, 0.247, False),  # seed 0 at 65,536 steps: a lucky greedy score of a near-uniform policy
    (0.611, 0.534, True),  # seed 0 at 294,912 steps
    (0.756, 0.555, False),  # greedy already past the range
    (0.5, 0.7, True),
])  # fmt: skip
def test_the_imperfect_teacher_scores_in_range_both_ways(score: float, sampled: float, chosen: bool) -> None:
    assert imperfect_enough(score, sampled) is chosen


def test_a_finished_run_of_another_teacher_stops_the_benchmark(tmp_path: Path) -> None:
    log = tmp_path / "imperfect" / "distill-0" / "student.json"
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps({"teacher": "/runs/old/teacher.zip", "rounds": []}))
    assert finished(log, Path("/runs/old/teacher.zip")) == {"teacher": "/runs/old/teacher.zip", "rounds": []}
    assert finished(tmp_path / "missing.json", Path("/runs/new/teacher.zip")) is None
    with pytest.raises(SystemExit, match="not from the case's teacher /runs/new/teacher.zip"):
        finished(log, Path("/runs/new/teacher.zip"))


def test_runs_without_a_teacher_are_reused_whatever_the_teacher(tmp_path: Path) -> None:
    log = tmp_path / "scratch.json"  # PPO from scratch learns from no teacher
    log.write_text(json.dumps({"timesteps": 10}))
    assert finished(log, Path("/runs/new/teacher.zip")) == {"timesteps": 10}


def test_an_earlier_teachers_section_keeps_the_runs_it_had() -> None:
    """A second machine's runs of the same earlier teacher join the first's section; redone runs replace theirs."""
    first = {"teacher": 106.8, "runs": [{"method": "scratch", "seed": 0, "mean_return": 1.0},
                                        {"method": "kickstart adaptive:1", "seed": 0, "mean_return": 2.0}]}  # fmt: skip
    second = {"teacher": 106.8, "runs": [{"method": "scratch", "seed": 0, "mean_return": 3.0}]}
    runs = merged(first, second)["runs"]
    assert [(r["method"], r["mean_return"]) for r in runs] == [("scratch", 3.0), ("kickstart adaptive:1", 2.0)]


def test_a_teacher_trained_again_takes_the_case_back_with_its_earlier_runs() -> None:
    """Machine A's teacher, then B's, then A's again: A's new runs join A's old ones under the case's name."""
    run = lambda method, value: {"method": method, "seed": 0, "mean_return": value}  # noqa: E731
    report = {"Hopper-v5": {"teacher": 2547.2, "runs": [run("scratch", 1.0)]},
              "Hopper-v5 (earlier teacher, 1779.0)": {"teacher": 1779.0, "runs": [run("scratch", 2.0),
                                                                                 run("distill", 3.0)]}}  # fmt: skip
    file_result(report, "Hopper-v5", {"teacher": 1779.0, "runs": [run("scratch", 4.0)]})
    assert set(report) == {"Hopper-v5", "Hopper-v5 (earlier teacher, 2547.2)"}
    assert [(r["method"], r["mean_return"]) for r in report["Hopper-v5"]["runs"]] == [("scratch", 4.0),
                                                                                       ("distill", 3.0)]
    assert report["Hopper-v5 (earlier teacher, 2547.2)"]["runs"] == [run("scratch", 1.0)]
    file_result(report, "Hopper-v5", {"teacher": 1779.0, "runs": [run("kickstart adaptive:1", 5.0)]})
    assert len(report["Hopper-v5"]["runs"]) == 3 and len(report) == 2


def test_the_report_joins_each_cases_file_in_the_cases_order(tmp_path: Path) -> None:
    """A case's file holds its own and its earlier teachers' sections; the report lists the named cases first."""
    run = lambda value: {"method": "scratch", "seed": 0, "mean_return": value}  # noqa: E731
    sections = {"Hopper-v5": {"teacher": 2547.2, "runs": [run(1.0)]}}
    file_result(sections, "Hopper-v5", {"teacher": 1779.0, "runs": [run(2.0)]})
    case_file(tmp_path, "Hopper-v5").write_text(json.dumps(sections))
    for name in ("Zeta", "Alpha", "windy"):
        case_file(tmp_path, name).write_text(json.dumps({name: {"teacher": 1.0, "runs": [run(3.0)]}}))
    report = load_report(tmp_path, ["windy", "Hopper-v5", "imperfect"])  # imperfect: no file yet
    assert list(report) == ["windy", "Hopper-v5", "Hopper-v5 (earlier teacher, 2547.2)", "Alpha", "Zeta"]
    assert report["Hopper-v5"]["runs"] == [run(2.0)] and report["Zeta"]["runs"] == [run(3.0)]


def test_each_row_reaches_the_final_return_of_the_scratch_run_that_learnt_alike() -> None:
    """Raw- and scaled-reward PPO from scratch end at different returns; a kickstart row is timed to its own kind's."""
    def run(method: str, final: float, curve: list[float]) -> dict:
        return {"method": method, "seed": 0, "mean_return": final, "ci95": [final, final], "wall_seconds": 1.0,
                "curve_steps": [100, 200, 300], "curve_returns": curve}  # fmt: skip

    scaled = " + scaled rewards: True"
    case = {"env": "LunarLander-v3", "budget": 300, "episodes": 1, "teacher": 50.0, "full_teacher": 100.0,
            "random": 0.0, "runs": [run("scratch", 40.0, [10.0, 20.0, 40.0]),
                                     run("scratch" + scaled, 80.0, [10.0, 50.0, 80.0]),
                                     run("kickstart adaptive:1", 60.0, [45.0, 60.0, 60.0]),
                                     run("kickstart adaptive:1" + scaled, 85.0, [45.0, 70.0, 85.0])]}  # fmt: skip
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in markdown({"c": case}).splitlines()
            if line.startswith("| scratch") or line.startswith("| kickstart")}  # fmt: skip
    to_final = {method: cells[7] for method, cells in rows.items()}
    assert to_final["kickstart adaptive:1"] == "100 (1/1)"  # raw scratch's 40
    assert to_final["kickstart adaptive:1" + scaled] == "300 (1/1)"  # scaled scratch's 80, not raw's 40
    assert to_final["scratch" + scaled] == "300 (1/1)"
    assert "ends at 40.0 and 80.0 (scratch + scaled rewards: True)" in markdown({"c": case})
    # --no-scratch: a case with no scratch run says so and leaves the column empty
    case["runs"] = [r for r in case["runs"] if not r["method"].startswith("scratch")]
    text = markdown({"c": case})
    assert "no PPO from scratch run" in text and "ends at nan" not in text
    assert all(line.split(" | ")[7] == "-" for line in text.splitlines() if line.startswith("| kickstart"))


def test_stuck_onset_is_the_first_long_slow_stretch_after_the_start() -> None:
    start = [0.5] * 60  # every episode starts at rest: not stuck
    assert stuck_onset(np.array(start + [5.0] * 100)) is None
    assert stuck_onset(np.array(start + [5.0] * 100 + [1.0] * 49 + [5.0] * 10)) is None  # one step short
    assert stuck_onset(np.array(start + [5.0] * 100 + [1.0] * 50)) == 160
    assert stuck_onset(np.array([0.5] * 200)) is None  # never got going


def test_a_random_lunar_lander_crash_is_told_apart_from_a_time_out() -> None:
    env = gym.make("LunarLander-v3")
    env.reset(seed=0)
    env.action_space.seed(0)
    while True:  # random actions crash the lander within a few hundred steps
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert terminated and episode_outcome(float(reward), truncated) == "crashed"
    assert episode_outcome(-0.3, True) == "timed out"
    assert episode_outcome(100.0, False) == "landed"


@pytest.mark.parametrize(("algo", "statistics"), [("ppo-raw", False), ("a2c", True)])
def test_plain_sb3_teachers_save_statistics_only_when_their_recipe_normalises(tmp_path: Path, algo: str,
                                                                             statistics: bool) -> None:  # fmt: skip
    """The raw recipe (PPO's defaults, nothing else) leaves rewards raw, so kickstart's old rule would not scale
    them: the held-out case of the scaled-rewards default; the others save VecNormalize beside the zip."""
    from rl_distill.kickstart.run import scales_rewards
    from rl_distill.sb3.policies import load_policy
    from rl_distill.sb3.presets import preset_for

    train_teacher("InvertedPendulum-v5", tmp_path, timesteps=64, algo=algo)  # no preset: SB3's defaults
    assert (tmp_path / "teacher.zip").exists() and (tmp_path / "vecnormalize.pkl").exists() is statistics
    teacher = load_policy(tmp_path / "teacher.zip", "InvertedPendulum-v5")
    assert (teacher.normalization is not None) is statistics
    assert scales_rewards(preset_for("InvertedPendulum-v5"), teacher) is statistics


def test_a_named_plain_sb3_teacher_keeps_its_statistics_under_its_own_name(tmp_path: Path) -> None:
    """scripts/own_teachers.py's teachers are saved as plain SB3 code would (``x.zip``,
    ``x_vecnormalize.pkl``): rl-distill finds those statistics by the model's name, as if told."""
    from rl_distill.sb3.policies import load_policy

    path = train_teacher("InvertedPendulum-v5", tmp_path, timesteps=64, algo="ppo-short-horizon", name="mine")
    assert path == tmp_path / "mine.zip" and sorted(p.name for p in tmp_path.iterdir()) == ["mine.zip",
                                                                                          "mine_vecnormalize.pkl"]
    found = load_policy(path, "InvertedPendulum-v5").normalization
    told = load_policy(path, "InvertedPendulum-v5", vecnormalize=tmp_path / "mine_vecnormalize.pkl").normalization
    assert found is not None and told is not None and found.gamma == told.gamma == 0.9  # the recipe's settings
    np.testing.assert_array_equal(found.obs_rms.mean, told.obs_rms.mean)


def test_a_claimed_run_folder_is_held_until_its_training_ends(tmp_path: Path) -> None:
    """Two invocations side by side train a shared run (PPO from scratch) once: the second blocks on the lock."""
    folder = tmp_path / "case" / "scratch-0"
    lock = folder.parent / ".scratch-0.lock"
    with claimed(folder), open(lock) as other, pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(lock) as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the holder is done


def test_a_run_another_invocation_holds_is_busy_without_waiting(tmp_path: Path) -> None:
    """A second invocation passes over a seed that the first is training (and comes back to it at the end)."""
    folder = tmp_path / "case" / "distill-0"
    with claimed(folder), pytest.raises(Busy), claimed(folder, wait=False):
        pass
    with claimed(folder, wait=False):  # free again
        pass


def test_reevaluation_includes_the_benchmarks_own_episodes(tmp_path: Path) -> None:
    """More episodes add to the benchmark's 100 rather than replace them, and the score is taken against the
    teacher on as many episodes; only runs whose method contains a given text are redone."""
    from collections import Counter

    from stable_baselines3 import PPO

    from rl_distill.evaluation.evaluate import evaluate, evaluate_random
    from rl_distill.sb3.envs import VALIDATION_SEED
    from rl_distill.sb3.policies import load_policy

    # briefly trained, so returns vary and episodes stay short (each policy plays 100-200 episodes five times)
    PPO("MlpPolicy", "CartPole-v1", seed=1, n_steps=256, batch_size=64).learn(256).save(tmp_path / "fresh.zip")
    cartpole_teacher = tmp_path / "teacher.zip"
    PPO("MlpPolicy", "CartPole-v1", seed=0, n_steps=256, batch_size=64).learn(1_024).save(cartpole_teacher)
    fresh = evaluate(load_policy(tmp_path / "fresh.zip", "CartPole-v1"), "CartPole-v1", episodes=100)
    teacher = evaluate(load_policy(cartpole_teacher, "CartPole-v1"), "CartPole-v1", episodes=100)
    random = evaluate_random("CartPole-v1", episodes=100).mean_return
    assert teacher.mean_return > random + 50 and len(set(teacher.returns)) > 5
    run = {"seed": 0, "path": str(tmp_path / "fresh.zip"), "mean_return": fresh.mean_return}
    case = {"env": "CartPole-v1", "teacher_path": str(cartpole_teacher), "teacher": teacher.mean_return,
            "random": random, "runs": [{**run, "method": "distill 800 steps"}, {**run, "method": "scratch"}]}
    assert [run["method"] for run in chosen_runs(case, ["distill"], exact=True)] == []
    assert [run["method"] for run in chosen_runs(case, ["scratch", "distill"], exact=True)] == ["scratch"]
    table = reevaluate(case, ["distill"], episodes=200)
    [row] = table["rows"]
    assert row["method"] == "distill 800 steps" and len(row["returns"]) == 200
    assert len(set(fresh.returns)) > 5
    assert not Counter(round(r, 1) for r in fresh.returns) - Counter(row["returns"])  # all 100 among the 200
    assert row["score"] == pytest.approx((row["mean_return"] - table["random"]) / (table["teacher"] - table["random"]))
    summary = reevaluated_markdown("CartPole-v1", table).splitlines()[-1]  # per method: seeds, means, seeds at 0.95
    assert summary.startswith("| distill 800 steps | 1 | ")
    assert summary.endswith(f" | {row['score']:.3f} | {int(row['score'] >= 0.95)} |")

    # on the benchmark's own 100 episodes nothing is played twice; validation episodes are the curves' ones
    table = reevaluate(case, ["distill"], episodes=100, validation_episodes=20)
    [row] = table["rows"]
    assert row["returns"] == [round(r, 1) for r in fresh.returns]
    validation = evaluate(load_policy(tmp_path / "fresh.zip", "CartPole-v1"), "CartPole-v1", episodes=20,
                          seed=VALIDATION_SEED)  # fmt: skip
    assert validation.returns != fresh.returns[:20]
    assert row["validation_score"] == pytest.approx((validation.mean_return - random) / (teacher.mean_return - random))
    gap = row["validation_score"] - row["benchmark_score"]
    summary = reevaluated_markdown("CartPole-v1", table).splitlines()[-1]
    assert summary.endswith(f" | {gap:+.3f} ({int(gap > 0)} of 1) |")

    # a file trained again since the benchmark scored it, or gone, is refused before any long evaluation
    changed = f"returns {teacher.mean_return:.1f} .* not the {teacher.mean_return - 1:.1f} .*trained again since"
    with pytest.raises(NotTheScoredPolicy, match=changed):
        reevaluate({**case, "teacher": teacher.mean_return - 1}, ["distill"], episodes=200)
    moved = {**case, "runs": [{**run, "method": "distill", "path": str(tmp_path / "moved.zip")}]}
    with pytest.raises(NotTheScoredPolicy, match="distill seed 0: .*moved.zip is missing"):
        reevaluate(moved, ["distill"], episodes=200)


def test_each_distillation_setting_gets_its_own_runs_and_label_and_the_defaults_keep_the_old_names() -> None:
    budget = 1_000_000
    assert distill_variant("HalfCheetah-v5", budget, "clamp", False, "greedy") == (
        budget, "1000000-clamp-greedy", " 1,000,000 steps, clamp bounds, greedy collection")
    assert distill_variant("HalfCheetah-v5", budget, "clamp", False, "greedy", updates_per_round=1000) == (
        budget, "1000000-clamp-greedy-upd1000",
        " 1,000,000 steps, clamp bounds, greedy collection, 1000 updates per round")  # fmt: skip
    assert distill_variant("Hopper-v5", None, "one-sided", False)[1:] == ("", "")  # the preset's: unsuffixed
    assert distill_variant("Hopper-v5", None, "one-sided", False, updates_per_round=1000, keep_best=True)[1:] == (
        "upd1000-best", " 1000 updates per round, best round")


def test_scratch_learns_at_the_cases_learning_rate_and_critic_under_their_names(tmp_path: Path) -> None:
    """A case run with kickstart's --learning-rate and --critic-hidden trains PPO from scratch with them too, in its
    own folder and label; the preset's rate and the student's critic keep the folders and labels runs had."""
    from bench_kickstart import scratch_run
    from stable_baselines3 import PPO

    case = {"env": "CartPole-v1", "hidden": (8,), "budget": 512, "keep_best": 0, "scale_rewards": None,
            "learning_rate": 0.0123, "critic_hidden": "32x32"}  # fmt: skip
    run = scratch_run(case, tmp_path, 0)
    assert run["method"] == "scratch + lr 0.0123 + 32x32 critic"
    assert Path(run["path"]).parent.name == "scratch-lr0.0123-vf32x32-0"
    model = PPO.load(run["path"])
    assert model.learning_rate == 0.0123 and model.policy.net_arch == {"pi": [8], "vf": [32, 32]}
    preset = scratch_run({**case, "learning_rate": None, "critic_hidden": None}, tmp_path, 0)
    assert preset["method"] == "scratch" and Path(preset["path"]).parent.name == "scratch-0"
    assert PPO.load(preset["path"]).learning_rate != 0.0123
