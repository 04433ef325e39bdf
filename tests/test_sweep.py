import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from rl_distill.artifacts.student import load_student
from rl_distill.cli import main
from rl_distill.evaluation.evaluate import evaluate
from rl_distill.experiments.sweep import SweepRun, run_local, run_one
from rl_distill.sb3.policies import load_policy

COMPARED = ["env", "collect", "hidden", "policy_params", "seed", "mean_return", "env_steps", "curve_returns"]


def tiny_runs(teacher: Path, work: Path) -> list[SweepRun]:
    return [SweepRun("CartPole-v1", str(teacher), (h,), "student", s, 600, 3, str(work))
            for h in (2, 4) for s in (0,)]  # fmt: skip


def test_sweep_writes_tidy_table_and_plots(cartpole_teacher: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--student-hidden", "2", "4",
                 "--collect", "student", "dagger", "--seeds", "2", "--steps", "800", "--episodes", "3",
                 "--scratch-steps", "2048", "--scratch-seeds", "1", "--kickstart-steps", "512", "--workers", "2",
                 "--out", str(out)]) == 0  # fmt: skip
    table = json.loads((out / "sweep.json").read_text())
    rows = table["rows"]
    assert len(rows) == 2 * 2 * 2 + 1 + 2
    assert {(r["hidden"], r["collect"]) for r in rows} >= {("2x2", "student"), ("4x4", "dagger"), ("16x16", "scratch"),
                                                           ("16x16", "kickstart")}  # fmt: skip
    assert all(r["curve_steps"][0] == 0 for r in rows if r["collect"] == "kickstart")
    for row in rows:
        assert row["compression_ratio"] == pytest.approx(table["teacher"]["policy_params"] / row["policy_params"])
    with open(out / "sweep.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(rows)
    assert b"\r" not in (out / "sweep.csv").read_bytes()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["sweep-learning-curves.png", "sweep-return-vs-size.png"]
    for png in pngs:
        (out / png).unlink()
    assert main(["plot", str(out / "sweep.json")]) == 0  # regenerated from the table alone
    assert all((out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for png in pngs)


def test_ray_backend_returns_the_same_rows_as_local(cartpole_teacher: Path, tmp_path: Path) -> None:
    import ray  # in the dev extra, which scripts/setup.sh installs

    from rl_distill.experiments.sweep import run_ray

    local = run_local(tiny_runs(cartpole_teacher, tmp_path / "local"), workers=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_ray(tiny_runs(cartpole_teacher, tmp_path / "ray"), address="auto")
    finally:
        ray.shutdown()
    assert [[r[k] for k in COMPARED] for r in remote] == [[r[k] for k in COMPARED] for r in local]


def test_run_one_is_reproducible(cartpole_teacher: Path, tmp_path: Path) -> None:
    first, second = (tiny_runs(cartpole_teacher, tmp_path / name)[0] for name in ("a", "b"))
    assert [run_one(first)[k] for k in COMPARED] == [run_one(second)[k] for k in COMPARED]


def test_restarted_sweep_skips_finished_runs_only(cartpole_teacher: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import dataclasses

    import rl_distill.experiments.sweep as sweep_module

    run = tiny_runs(cartpole_teacher, tmp_path)[0]
    row = run_one(run)
    trained: list[SweepRun] = []
    monkeypatch.setattr(sweep_module, "train_and_evaluate", lambda r, name: trained.append(r) or {"fresh": True})
    assert run_one(run) == row and trained == []
    longer = dataclasses.replace(run, steps=run.steps * 2)
    assert run_one(longer) == {"fresh": True} and trained == [longer]  # other settings: trained again
    assert run_one(run) == row and trained == [longer]  # ... beside the first run, which is still there
    (tmp_path / f"{run.name}.row.json").write_text("{trunc")
    assert run_one(run) == {"fresh": True}  # a damaged record is not trusted


def test_a_teacher_replaced_at_the_same_path_trains_again(cartpole_teacher: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import shutil

    import rl_distill.experiments.sweep as sweep_module

    teacher = tmp_path / "teacher.zip"
    shutil.copy(cartpole_teacher, teacher)
    run = tiny_runs(teacher, tmp_path / "work")[0]
    row = run_one(run)
    monkeypatch.setattr(sweep_module, "train_and_evaluate", lambda r, name: {"fresh": True})
    assert run_one(run) == row  # same contents: reused
    teacher.write_bytes(teacher.read_bytes() + b"\0")  # retrained in place: same path, other bytes
    assert run_one(run) == {"fresh": True}


def test_kickstart_init_starts_each_seed_from_its_distilled_student(cartpole_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--student-hidden", "16",
                 "--collect", "dagger", "--seeds", "1", "--steps", "800", "--episodes", "3", "--kickstart-steps",
                 "512", "--kickstart-init", "--workers", "1", "--out", str(out)]) == 0  # fmt: skip
    rows = {r["collect"]: r for r in json.loads((out / "sweep.json").read_text())["rows"]}
    distilled, kicked = rows["dagger"], rows["kickstart"]
    name = "dagger-one-sided-1000u-16x16-800steps-0"
    log = json.loads((out / "models" / f"kickstart-scaled-16x16-512steps-0-after-{name}.json").read_text())
    assert log["config"]["init"] == str(out / "models" / f"{name}.zip")
    # The kickstart curve goes on from the distillation's steps, and its first point is the distilled policy's.
    assert kicked["curve_steps"][0] == distilled["env_steps"] == 800
    assert kicked["env_steps"] == 800 + 512
    assert kicked["curve_returns"][0] == pytest.approx(distilled["curve_returns"][-1])


@pytest.mark.parametrize(("extra", "message"), [
    (["--kickstart-init"], "--kickstart-init needs --kickstart-steps"),
    (["--kickstart-init", "--kickstart-steps", "512", "--student-hidden", "4"], "add that size to --student-hidden"),
])  # fmt: skip
def test_kickstart_init_without_its_distilled_student_is_refused(cartpole_teacher: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str], extra: list[str],
                                                                 message: str) -> None:  # fmt: skip
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--steps", "800",
                 "--out", str(out), *extra]) == 2  # fmt: skip
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(("flags", "scaled"), [([], True), (["--no-scale-rewards"], False)])
def test_scale_rewards_reaches_both_ppo_runs_and_keeps_their_files_apart(
    cartpole_teacher: Path, tmp_path: Path, flags: list[str], scaled: bool
) -> None:
    """Scaled by default (CartPole-v1's preset and this teacher leave rewards raw), raw when asked."""
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--student-hidden", "4",
                 "--collect", "student", "--seeds", "1", "--steps", "600", "--episodes", "3", "--scratch-steps",
                 "512", "--kickstart-steps", "512", *flags, "--workers", "1", "--out", str(out)]) == 0
    rewards = "scaled" if scaled else "raw"
    logs = {path.name: json.loads(path.read_text()) for path in (out / "models").glob(f"*-{rewards}-*steps-0.json")}
    assert set(logs) == {f"scratch-{rewards}-16x16-512steps-0.json", f"kickstart-{rewards}-16x16-512steps-0.json"}
    assert all(log["scaled_rewards"] is scaled for log in logs.values())


def test_keep_best_and_lr_decay_reach_the_ppo_runs_and_name_them(cartpole_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--student-hidden", "4",
                 "--collect", "student", "--seeds", "1", "--steps", "600", "--episodes", "3", "--scratch-steps",
                 "2048", "--kickstart-steps", "2048", "--keep-best", "2", "--kickstart-lr-decay", "--workers", "1",
                 "--out", str(out)]) == 0  # fmt: skip
    models = out / "models"
    scratch = json.loads((models / "scratch-scaled-best2-16x16-2048steps-0.json").read_text())
    kickstart = json.loads((models / "kickstart-scaled-lr-decay-best2-16x16-2048steps-0.json").read_text())
    assert kickstart["config"]["lr_decay"] and kickstart["config"]["keep_best"]
    assert kickstart["config"]["eval_episodes"] == 2
    for log in (scratch, kickstart):  # the kept point is one of the curve's (every 1,000 steps), and the best
        kept = log["kept"]
        assert kept["steps"] in log["curve_steps"] and kept["mean_return"] == max(log["curve_returns"])
    rows = {r["collect"]: r for r in json.loads((out / "sweep.json").read_text())["rows"]}
    assert (rows["scratch"]["keep_best"], rows["kickstart"]["keep_best"], rows["student"]["keep_best"]) == (2, 2, None)
    assert (rows["kickstart"]["lr_decay"], rows["scratch"]["lr_decay"]) == (True, None)


@pytest.mark.parametrize(("extra", "message"), [
    (["--kickstart-lr-decay"], "--kickstart-lr-decay needs --kickstart-steps"),
    (["--keep-best", "5"], "--keep-best applies to PPO runs"),
])  # fmt: skip
def test_ppo_options_without_ppo_runs_are_refused(cartpole_teacher: Path, tmp_path: Path, extra: list[str],
                                                  message: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--out", str(out),
                 *extra]) == 2  # fmt: skip
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_runs_saved_before_the_added_fields_keep_their_cache_key() -> None:
    from rl_distill.experiments.sweep import cache_settings

    plain = SweepRun("CartPole-v1", "t.zip", (4,), "scratch", 0, 512, 3, "w")
    assert "scale_rewards" not in cache_settings(plain) and "init" not in cache_settings(plain)
    raw = SweepRun("CartPole-v1", "t.zip", (4,), "scratch", 0, 512, 3, "w", scale_rewards=False)
    assert cache_settings(raw)["scale_rewards"] is False  # raw is a setting, not the default
    assert "collect_actions" not in cache_settings(plain)  # sampled, as every run before the field
    greedy = SweepRun("CartPole-v1", "t.zip", (4,), "student", 0, 512, 3, "w", collect_actions="greedy")
    assert cache_settings(greedy)["collect_actions"] == "greedy"
    assert greedy.name == "student-one-sided-greedy-4-512steps-0"
    assert "updates_per_round" not in cache_settings(greedy)  # as many as every run before the field
    longer = SweepRun("CartPole-v1", "t.zip", (4,), "student", 0, 512, 3, "w", updates_per_round=1000)
    assert cache_settings(longer)["updates_per_round"] == 1000 and longer.name == "student-one-sided-1000u-4-512steps-0"
    assert "max_steps" not in cache_settings(longer)  # exactly the steps, as every run before the field
    capped = SweepRun("CartPole-v1", "t.zip", (4,), "student", 0, 512, 3, "w", max_steps=2048)
    assert cache_settings(capped)["max_steps"] == 2048 and capped.name == "student-one-sided-max2048-4-512steps-0"
    assert "noise_cap" not in cache_settings(capped) and "dagger_decay" not in cache_settings(capped)
    wider = SweepRun("Pendulum-v1", "t.zip", (4,), "dagger", 0, 512, 3, "w", collect_actions="capped", noise_cap=0.2,
                     dagger_decay=0.25)  # fmt: skip
    assert wider.name == "dagger-one-sided-capped-cap0.2-decay0.25-4-512steps-0"
    assert cache_settings(wider)["noise_cap"] == 0.2 and cache_settings(wider)["dagger_decay"] == 0.25


@pytest.mark.parametrize("falling", [True, False])
def test_max_steps_reaches_the_distillations_and_their_rows_count_the_steps_taken(
        cartpole_teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, falling: bool) -> None:  # fmt: skip
    import rl_distill.distill.loop as loop

    monkeypatch.setattr(loop, "gap_still_falling", lambda gaps, base_rounds: falling)
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--student-hidden", "4",
                 "--collect", "student", "--seeds", "1", "--steps", "600", "--max-steps", "1200",
                 "--updates-per-round", "5", "--episodes", "2", "--workers", "1", "--out", str(out)]) == 0  # fmt: skip
    [row] = json.loads((out / "sweep.json").read_text())["rows"]
    assert row["env_steps"] == (1200 if falling else 600) and row["curve_steps"][-1] == row["env_steps"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--max-steps", "90000", "--kickstart-steps", "512", "--kickstart-init"], "not known in advance"),
    (["--steps", "1000", "--max-steps", "500"], "--max-steps (500) must be at least --steps (1000)"),
])  # fmt: skip
def test_a_max_steps_the_sweep_cannot_keep_is_refused_before_any_run(
        cartpole_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
        message: str) -> None:  # fmt: skip
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--student-hidden", "16",
                 *extra, "--out", str(out)]) == 2  # fmt: skip
    assert message in capsys.readouterr().err and not out.exists()


def test_auto_collection_resolves_per_scheme_and_runs_each_pair_once(pendulum_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "Pendulum-v1", "--teacher", str(pendulum_teacher), "--student-hidden", "4",
                 "--collect", "student", "dagger", "auto", "--collect-actions", "auto", "--seeds", "1", "--steps",
                 "400", "--updates-per-round", "2", "--episodes", "1", "--workers", "1", "--out", str(out)]) == 0
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    # auto is DAgger on Box actions (run once), and auto collection is capped student-driven, greedy under DAgger
    assert sorted((r["collect"], r["collect_actions"]) for r in rows) == [("dagger", "greedy"), ("student", "capped")]


def test_noise_cap_and_dagger_decay_reach_the_runs_they_apply_to(pendulum_teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "Pendulum-v1", "--teacher", str(pendulum_teacher), "--student-hidden", "4",
                 "--collect", "student", "dagger", "--collect-actions", "capped", "greedy", "--noise-cap", "0.2",
                 "--dagger-decay", "0.25", "--seeds", "1", "--steps", "400", "--updates-per-round", "2",
                 "--episodes", "1", "--workers", "1", "--out", str(out)]) == 0  # fmt: skip
    configs = {path.stem: json.loads(path.read_text())["config"] for path in (out / "models").glob("*steps-0.json")}
    # only capped runs are named by the cap and only DAgger runs by the decay: the others keep their names
    assert sorted(configs) == ["dagger-one-sided-capped-cap0.2-decay0.25-2u-4x4-400steps-0",
                               "dagger-one-sided-greedy-decay0.25-2u-4x4-400steps-0",
                               "student-one-sided-capped-cap0.2-2u-4x4-400steps-0",
                               "student-one-sided-greedy-2u-4x4-400steps-0"]  # fmt: skip
    for name, config in configs.items():
        assert config["noise_cap"] == (0.2 if "-cap" in name else 0.1)
        assert config["dagger_decay"] == (0.25 if name.startswith("dagger") else 0.5)


def test_collect_actions_and_updates_reach_each_run_and_the_kickstart_init_the_first(cartpole_teacher: Path,
                                                                                     tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "CartPole-v1", "--teacher", str(cartpole_teacher), "--student-hidden", "16",
                 "--collect", "student", "--collect-actions", "greedy", "sampled", "auto", "--seeds", "1", "--steps",
                 "800",
                 "--updates-per-round", "30",
                 "--episodes", "3", "--kickstart-steps", "512", "--kickstart-init", "--workers", "1",
                 "--out", str(out)]) == 0  # fmt: skip
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    # None: the kickstart row; auto is sampled on CartPole's discrete actions, so it runs once
    assert sorted(str(r["collect_actions"]) for r in rows) == ["None", "greedy", "sampled"]
    models = out / "models"
    for actions, name in [("greedy", "student-one-sided-greedy-30u-16x16-800steps-0"),
                          ("sampled", "student-one-sided-30u-16x16-800steps-0")]:  # fmt: skip
        config = json.loads((models / f"{name}.json").read_text())["config"]
        assert config["collect_actions"] == actions and config["updates_per_round"] == 30
    kickstart = json.loads((models / "kickstart-scaled-16x16-512steps-0-after-student-one-sided-greedy-30u-16x16-"
                                      "800steps-0.json").read_text())  # fmt: skip
    assert kickstart["config"]["init"].endswith("student-one-sided-greedy-30u-16x16-800steps-0.zip")
    assert sorted(str(r["updates_per_round"]) for r in rows) == ["30", "30", "None"]
    header = (out / "sweep.csv").read_text().splitlines()[0].split(",")
    assert "collect_actions" in header


def test_plot_series_name_the_greedy_runs_apart() -> None:
    from rl_distill.evaluation.plots import series

    rows = [{"collect": "scratch", "bounds": None}, {"collect": "kickstart", "bounds": "one-sided"},
            {"collect": "student", "bounds": "one-sided"},  # saved before collect_actions: sampled
            {"collect": "student", "bounds": "one-sided", "collect_actions": "greedy"}]  # fmt: skip
    table = {"rows": rows}
    assert [series(r, table) for r in rows] == ["PPO from scratch", "kickstart", "distilled (student-driven)",
                                                "distilled (student-driven, greedy actions)"]  # fmt: skip
    two_bounds = {"rows": [*rows, {"collect": "student", "bounds": "clamp", "collect_actions": "sampled"}]}
    assert series(two_bounds["rows"][-1], two_bounds) == "distilled (student-driven, clamp)"


@pytest.fixture
def teacher_with_stats_elsewhere(pendulum_teacher: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A normalised teacher whose statistics sit under a name nothing finds by itself (as plain SB3 code saves
    them: ``model.save("x")``, ``venv.save("x_vecnormalize.pkl")``)."""
    brought = tmp_path / "brought"
    brought.mkdir()
    shutil.copy(pendulum_teacher, brought / "pendulum.zip")
    shutil.copy(pendulum_teacher.parent / "teacher" / "vecnormalize.pkl", brought / "pendulum_stats.pkl")
    return brought / "pendulum.zip", brought / "pendulum_stats.pkl"


def normalised_like(artifact: Path, stats: Path) -> bool:
    header = load_student(artifact).header["normalization"]
    saved = VecNormalize.load(str(stats), make_vec_env("Pendulum-v1"))
    return header is not None and np.allclose(header["mean"], saved.obs_rms.mean)


def test_sweep_and_pipeline_take_the_teachers_statistics(teacher_with_stats_elsewhere: tuple[Path, Path],
                                                         tmp_path: Path) -> None:  # fmt: skip
    teacher, stats = teacher_with_stats_elsewhere
    with_stats = evaluate(load_policy(teacher, "Pendulum-v1", vecnormalize=stats), "Pendulum-v1", episodes=2)
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "Pendulum-v1", "--teacher", str(teacher), "--vecnormalize", str(stats),
                 "--student-hidden", "4", "--collect", "student", "--seeds", "1", "--steps", "512", "--episodes", "2",
                 "--workers", "1", "--out", str(out)]) == 0  # fmt: skip
    table = json.loads((out / "sweep.json").read_text())
    assert table["teacher"]["mean_return"] == pytest.approx(with_stats.mean_return)
    assert normalised_like(next((out / "models").glob("*.safetensors")), stats)
    out = tmp_path / "pipeline"
    assert main(["pipeline", "--env", "Pendulum-v1", "--teacher", str(teacher), "--vecnormalize", str(stats),
                 "--student-hidden", "4,4", "--steps", "512", "--scratch-steps", "64", "--episodes", "2",
                 "--eval-episodes", "0", "--out", str(out)]) == 0  # fmt: skip
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert rows[0]["role"] == "teacher" and rows[0]["mean_return"] == pytest.approx(with_stats.mean_return)
    assert normalised_like(out / "student.safetensors", stats)


def test_pipeline_refuses_statistics_without_a_teacher(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pipeline", "--env", "CartPole-v1", "--vecnormalize", str(tmp_path / "x.pkl"),
                 "--out", str(tmp_path / "out")]) == 2  # fmt: skip
    assert "--vecnormalize goes with --teacher" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("steps", "labels"), [
    ((1_500, 32_000), ["2k", "5k", "10k", "20k"]),  # a short run: 1, 2 and 5 per decade, no minor labels
    ((1_000, 3_000_000), ["1k", "3k", "10k", "30k", "100k", "300k", "1M", "3M"]),
    ((10, 10_000_000), ["10", "100", "1k", "10k", "100k", "1M", "10M"]),
])  # fmt: skip
def test_learning_curve_step_axis_labels_stay_apart(steps: tuple[int, int], labels: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl_distill.evaluation.plots import step_axis

    fig, ax = plt.subplots()
    ax.plot(steps, [0, 1])
    step_axis(ax)
    fig.canvas.draw()
    low, high = ax.get_xlim()
    shown = [t.get_text() for t, x in zip(ax.get_xticklabels(), ax.get_xticks(), strict=True) if low <= x <= high]
    assert shown == labels
    assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))
    plt.close(fig)


def test_a_sweep_collects_as_distill_does_by_default_and_names_the_runs_by_mode(pendulum_teacher: Path,
                                                                                 tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--env", "Pendulum-v1", "--teacher", str(pendulum_teacher), "--student-hidden", "4",
                 "--collect", "student", "--seeds", "1", "--steps", "400", "--updates-per-round", "5",
                 "--episodes", "1", "--workers", "1", "--out", str(out)]) == 0  # fmt: skip
    [row] = json.loads((out / "sweep.json").read_text())["rows"]
    assert row["collect_actions"] == "capped"  # auto, on Box actions
    config = json.loads((out / "models" / "student-one-sided-capped-5u-4x4-400steps-0.json").read_text())["config"]
    assert config["collect_actions"] == "capped"
