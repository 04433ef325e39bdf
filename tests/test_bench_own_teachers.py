"""scripts/own_teachers.py and bench_own_teachers.py: which finished runs are reused, how a curve's first point at
0.9 is read, how distillation budgets are told apart, and PPO from scratch beside kickstart."""

import sys
from pathlib import Path

import pytest

from rl_distill.distill.config import LEGACY_COLLECT_ACTIONS, LEGACY_UPDATES_PER_ROUND, DistillConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bench_own_teachers import distilled_table, kickstart_table, parse_budget, steps_to  # noqa: E402
from own_teachers import cached, distill_folder  # noqa: E402


def test_a_row_is_reused_only_for_the_same_teacher_file_budget_and_episodes(tmp_path: Path) -> None:
    teacher, folder = tmp_path / "teacher.zip", tmp_path / "run"
    teacher.write_bytes(b"first")
    folder.mkdir()
    trained: list[Path] = []

    def train(out: Path) -> dict:
        trained.append(out)
        return {"mean_return": float(len(trained))}

    assert cached(folder, [teacher], 100, 10, train)["mean_return"] == 1
    assert cached(folder, [teacher], 100, 10, train)["mean_return"] == 1  # finished: read back, not trained
    assert cached(folder, [teacher], 200, 10, train)["mean_return"] == 2  # another budget
    assert cached(folder, [teacher], 200, 20, train)["mean_return"] == 3  # other evaluation episodes
    teacher.write_bytes(b"trained again in place")
    assert cached(folder, [teacher], 200, 20, train)["mean_return"] == 4
    assert cached(folder, [teacher], 200, 20, train, {"gap_drop": 0.05})["mean_return"] == 5  # another setting
    assert cached(folder, [teacher], 200, 20, train, {"gap_drop": 0.05})["mean_return"] == 5
    assert cached(folder, [teacher], 200, 20, train, {"gap_drop": 0.1})["mean_return"] == 6
    assert trained == [folder] * 6


def test_steps_to_reads_the_first_curve_point_at_the_level() -> None:
    row = {"curve_steps": [0, 15_000, 30_000, 45_000], "curve_returns": [-100.0, 70.0, 95.0, 70.0]}
    assert steps_to(row, teacher=100.0, random=-100.0) == "30k"  # 0.9 is a return of 80: 70 short, 95 past
    assert steps_to(row, teacher=200.0, random=-100.0) == "-"  # 0.9 would be 170: never


def test_each_distillation_budget_has_its_own_folder_and_table_rows() -> None:
    # the old defaults keep the old names
    legacy = (LEGACY_UPDATES_PER_ROUND, LEGACY_COLLECT_ACTIONS)
    assert distill_folder("sac-cheetah", 16, 2, None, *legacy).name == "distill-16x16-2"
    assert distill_folder("sac-cheetah", 16, 2, 300_000, 1000, "sampled").name == "distill-16x16-2-300000-1000u"
    # auto is capped on HalfCheetah-v5's Box actions, sampled on LunarLander-v3's discrete ones
    assert distill_folder("sac-cheetah", 16, 2, *parse_budget("default")).name == "distill-16x16-2-preset-1000u-capped"
    assert distill_folder("dqn-lunar", 16, 2, *parse_budget("default")).name == "distill-16x16-2-preset-1000u"
    row = {"width": 16, "params": 668, "wall_seconds": 1.0, "ci95": [0.0, 2.0]}
    report = {"teachers": {"sac-cheetah": {"env": "HalfCheetah-v5", "reference": {
        "teacher": {"mean_return": 100.0}, "random": 0.0, "teacher_params": 66_000}, "distilled": [
            {**row, "seed": 0, "steps": 100_000, "mean_return": 50.0},  # written before rows kept their updates
            {**row, "seed": 0, "steps": 300_000, "updates_per_round": 1000, "mean_return": 90.0,
             "action_gaps": [0.3, 0.05]},
            {**row, "seed": 1, "steps": 100_000, "updates_per_round": LEGACY_UPDATES_PER_ROUND, "mean_return": 70.0}]}}}
    report["teachers"]["sac-cheetah"]["distilled"].append(
        {**row, "seed": 0, "steps": 300_000, "updates_per_round": 1000, "collect_actions": "greedy",
         "mean_return": 95.0})
    lines = [line for line in distilled_table(report) if line.startswith("| HalfCheetah-v5")]
    assert len(lines) == 3
    assert f"| 100,000, {LEGACY_UPDATES_PER_ROUND}, sampled |" in lines[0]  # rows from before modes were kept
    assert "0.600 ± 0.141 (0.500 / 0.700)" in lines[0]
    assert "| 300,000, 1000, sampled |" in lines[1] and "| 0.900 (0.900) |" in lines[1]
    assert "| 0.050 |" in lines[1] and "| - |" in lines[0]  # the last round's gap; none kept before
    assert "| 300,000, 1000, greedy |" in lines[2] and "| 0.950 (0.950) |" in lines[2]


def test_a_budget_is_default_or_two_positive_numbers_and_a_collection_mode() -> None:
    defaults = DistillConfig("CartPole-v1")
    assert parse_budget("default") == (None, defaults.updates_per_round, defaults.collect_actions)
    assert parse_budget("default") == (None, 1000, "auto")
    assert parse_budget("300000:1000") == (300_000, 1000, "auto")
    assert parse_budget("preset:250:sampled") == (None, 250, "sampled")
    for bad in ("300000", "300000:1000:5", "0:1000", "300000:-1", "3e5:1000", "", "preset", "preset:0", "x:10",
                "preset:250:noisy", "preset:250:greedy:1"):
        with pytest.raises(ValueError, match="STEPS:UPDATES_PER_ROUND"):
            parse_budget(bad)


def test_scratch_rows_stand_under_kickstarts_for_the_same_teacher() -> None:
    curve = {"curve_steps": [0, 15_000, 30_000], "curve_returns": [0.0, 50.0, 95.0]}
    reference = {"teacher": {"mean_return": 100.0}, "random": 0.0}
    kickstart = [{**curve, "seed": s, "mean_return": r} for s, r in enumerate((120.0, 110.0))]
    scratch = [{**curve, "curve_returns": [0.0, 10.0, 20.0], "seed": s, "mean_return": r}
               for s, r in enumerate((30.0, 50.0))]  # fmt: skip
    report = {"teachers": {"bipedal": {"env": "BipedalWalker-v3", "reference": reference, "kickstart": kickstart,
                                       "scratch": scratch},
                           "pusher": {"env": "Pusher-v5", "reference": reference, "scratch": scratch}}}
    rows = [line for line in kickstart_table(report) if line.startswith("| ")][1:]
    assert len(rows) == 3
    assert "| fresh 16x16 | 1.150 ± 0.071 (1.200 / 1.100) | 30k / 30k |" in rows[0]
    assert rows[1].startswith("| BipedalWalker-v3") and "| PPO from scratch, 16x16 | 0.400 ± 0.141" in rows[1]
    assert "| - / - |" in rows[1]  # its curves never reach 0.9
    assert rows[2].startswith("| Pusher-v5") and "PPO from scratch" in rows[2]  # scratch alone: its own row


def test_every_registered_teacher_names_a_recipe_a_task_and_a_folder_of_its_own() -> None:
    import gymnasium as gym
    from own_teachers import TEACHERS
    from train_sb3_teacher import RECIPES

    for key, spec in TEACHERS.items():
        assert spec["algo"] in RECIPES, key
        assert spec["env"] in gym.registry, key
    places = [(spec["folder"], spec["name"]) for spec in TEACHERS.values()]
    assert len(set(places)) == len(places)  # two teachers in one file would train over each other


def test_budgets_whose_modes_resolve_alike_on_a_teacher_run_once(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    import bench_own_teachers

    ran: list[tuple] = []

    def distilled(key: str, width: int, seed: int, episodes: int, *budget: object) -> dict:
        ran.append((key, *budget))
        return {"mean_return": 0.0}

    monkeypatch.setattr(bench_own_teachers, "distilled", distilled)
    monkeypatch.setattr(bench_own_teachers, "references", lambda key, env, episodes: {})
    monkeypatch.setattr(bench_own_teachers, "markdown", lambda report: "")
    monkeypatch.setattr(bench_own_teachers, "ROOT", tmp_path)
    (tmp_path / "results").mkdir()
    monkeypatch.setattr(sys, "argv", ["bench_own_teachers.py", "--teachers", "dqn-lunar", "pusher", "--seeds", "1",
                                      "--no-kickstart", "--no-multitask", "--no-transfer", "--budgets", "default",
                                      "preset:1000:sampled", "--stem", "x"])  # fmt: skip
    bench_own_teachers.main()
    budgets = sorted(set(ran))
    # auto is sampled on LunarLander-v3's discrete actions: the same budget as preset:1000:sampled, run once
    assert budgets == [("dqn-lunar", None, 1000, "sampled"), ("pusher", None, 1000, "capped"),
                       ("pusher", None, 1000, "sampled")]  # fmt: skip
    assert len(ran) == 2 * 3  # two widths each
