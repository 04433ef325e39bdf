"""scripts/bench_collect_actions.py: every collection mode per seed, every run's row kept so a re-run trains and
evaluates nothing again, and bad teacher names refused before any work."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from stable_baselines3 import PPO

from rl_distill.distill.config import DAGGER_DECAY

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
import bench_collect_actions  # noqa: E402


def test_a_pair_distils_every_way_per_seed_and_a_rerun_reads_every_row_back(
        cartpole_teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_collect_actions, "preset_for", lambda env: SimpleNamespace(distill_steps=1_024))
    first = bench_collect_actions.one_pair("CartPole-v1", cartpole_teacher, seeds=2, episodes=3, work=tmp_path,
                                           updates=5)
    assert list(first["scores"]) == ["sampled", "greedy", "mixed", "capped"]
    assert all(len(scores) == 2 for scores in first["scores"].values())
    assert first["scores"]["capped"] == first["scores"]["sampled"]  # discrete actions: no std to cap
    assert first["teacher_std"] is None
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert len(folders) == 9  # the teacher's return and two students per mode
    assert all((tmp_path / f / "row.json").exists() for f in folders)

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished run was trained or evaluated again")

    monkeypatch.setattr(bench_collect_actions, "run_distill", must_not_run)
    monkeypatch.setattr(bench_collect_actions, "episodes_row", must_not_run)
    again = bench_collect_actions.one_pair("CartPole-v1", cartpole_teacher, seeds=2, episodes=3, work=tmp_path,
                                           updates=5)
    assert again == first
    with pytest.raises(AssertionError, match="trained or evaluated again"):  # other episodes: not the same rows
        bench_collect_actions.one_pair("CartPole-v1", cartpole_teacher, seeds=2, episodes=4, work=tmp_path, updates=5)
    folder = tmp_path / folders[1]
    (folder / "row.json").unlink()  # a run from before rows were kept, whose student had another budget
    saved = json.loads((folder / "student.json").read_text())
    (folder / "student.json").write_text(json.dumps({**saved, "config": {**saved["config"], "steps": 2_048}}))
    with pytest.raises(AssertionError, match="trained or evaluated again") as raised:
        bench_collect_actions.one_pair("CartPole-v1", cartpole_teacher, seeds=2, episodes=3, work=tmp_path, updates=5)
    assert "run_distill(" in str(raised.traceback[-2].statement)  # distilled again (the refused call's caller)
    (folder / "student.json").write_text(json.dumps(saved))  # the same settings: only evaluated again
    with pytest.raises(AssertionError, match="trained or evaluated again") as raised:
        bench_collect_actions.one_pair("CartPole-v1", cartpole_teacher, seeds=2, episodes=3, work=tmp_path, updates=5)
    assert "episodes_row(" in str(raised.traceback[-2].statement)  # only evaluated again
    with pytest.raises(AssertionError, match="trained or evaluated again"):  # another student size
        bench_collect_actions.one_pair("CartPole-v1", cartpole_teacher, seeds=2, episodes=3, work=tmp_path, updates=5,
                                       hidden=(8,))


@pytest.mark.parametrize("args", [[], ["--pairs", "CartPole-v1"], ["--pairs", "CartPole-v1=missing.zip"],
                                  ["--teachers", "no-such-teacher"], ["--teachers", "lunar", "--student-hidden", "0"]])
def test_bad_teachers_are_refused_in_one_line_with_exit_2(args: list[str], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bench_collect_actions.py", "--work", str(tmp_path), "--stem", "never-written",
                                      *args])
    with pytest.raises(SystemExit) as exit_:
        bench_collect_actions.main()
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err.splitlines()[-1]
    assert not list(tmp_path.iterdir())
    assert not (SCRIPTS.parent / "results" / "never-written.md").exists()


def test_the_summary_gives_each_modes_shortfall_from_the_best_per_teacher() -> None:
    rows = [{"env": "A-v0", "teacher": "a.zip", "teacher_return": 1.0, "student_hidden": [16, 16],
             "scores": {"sampled": [1.0, 0.8], "greedy": [0.5, 0.5]}},
            {"env": "B-v0", "teacher": "b.zip", "teacher_return": 2.0, "student_hidden": [16, 16],
             "scores": {"sampled": [0.2], "greedy": [0.6]}}]  # fmt: skip
    gaps = bench_collect_actions.shortfalls(rows)
    assert gaps["sampled"] == pytest.approx([0.0, 0.4]) and gaps["greedy"] == pytest.approx([0.4, 0.0])
    text = bench_collect_actions.markdown(rows, seeds=2, episodes=3, updates=5, command="cmd")
    assert "| sampled | 0.200 | 0.400 | 1 of 2 |" in text and "| greedy | 0.200 | 0.400 | 1 of 2 |" in text
    assert "shortfall" not in bench_collect_actions.markdown(rows[:1], seeds=2, episodes=3, updates=5, command="c")


def test_a_box_teachers_noise_is_its_std_in_half_ranges(tmp_path: Path) -> None:
    PPO("MlpPolicy", "Pendulum-v1", policy_kwargs={"log_std_init": float(np.log(0.4))}).save(tmp_path / "teacher.zip")
    share = bench_collect_actions.teacher_noise("Pendulum-v1", tmp_path / "teacher.zip", steps=5, n_envs=2)
    assert share == pytest.approx(0.2)  # std 0.4 of Pendulum's torque range [-2, 2]


def test_capped_gets_a_column_per_noise_cap_and_runs_follow_the_collection_scheme(
        pendulum_teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert bench_collect_actions.mode_columns(["greedy", "capped"], [0.1, 0.3]) == [
        ("greedy", "greedy", 0.1), ("capped", "capped", 0.1), ("capped 0.3", "capped", 0.3)]
    monkeypatch.setattr(bench_collect_actions, "preset_for", lambda env: SimpleNamespace(distill_steps=512))
    row = bench_collect_actions.one_pair("Pendulum-v1", pendulum_teacher, seeds=1, episodes=2, work=tmp_path,
                                         updates=5, modes=("capped",), collect="dagger", noise_caps=(0.1, 0.5))
    assert list(row["scores"]) == ["capped", "capped 0.5"] and row["collect"] == "dagger"
    runs = {p.name: json.loads((p / "student.json").read_text())["config"] for p in tmp_path.iterdir()
            if (p / "student.json").exists()}  # fmt: skip
    stem = f"Pendulum-v1-{pendulum_teacher.parent.name}"
    assert sorted(runs) == [f"{stem}-dagger-capped-5u-0", f"{stem}-dagger-capped0.5-5u-0"]
    assert [(c["collect"], c["noise_cap"]) for _, c in sorted(runs.items())] == [("dagger", 0.1), ("dagger", 0.5)]
    assert row["scores"]["capped"] != row["scores"]["capped 0.5"]
    assert "DAgger" in bench_collect_actions.markdown([row], seeds=1, episodes=2, updates=5, command="cmd")


def test_dagger_decay_reaches_the_runs_and_names_them_only_when_not_the_default(
        pendulum_teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(bench_collect_actions, "preset_for", lambda env: SimpleNamespace(distill_steps=512))
    rows = [bench_collect_actions.one_pair("Pendulum-v1", pendulum_teacher, seeds=1, episodes=2, work=tmp_path,
                                           updates=5, modes=("greedy",), collect="dagger", dagger_decay=decay)
            for decay in (DAGGER_DECAY, 0.0)]  # fmt: skip
    runs = {p.name: json.loads((p / "student.json").read_text()) for p in tmp_path.iterdir()
            if (p / "student.json").exists()}  # fmt: skip
    stem = f"Pendulum-v1-{pendulum_teacher.parent.name}-dagger-greedy"
    assert sorted(runs) == [f"{stem}-5u-0", f"{stem}-decay0-5u-0"]
    assert runs[f"{stem}-5u-0"]["config"]["dagger_decay"] == DAGGER_DECAY
    assert runs[f"{stem}-decay0-5u-0"]["config"]["dagger_decay"] == 0.0
    assert "probability 0**round" in bench_collect_actions.markdown(rows[1:], seeds=1, episodes=2, updates=5,
                                                                   command="cmd")
    assert "**round" not in bench_collect_actions.markdown(rows[:1], seeds=1, episodes=2, updates=5, command="cmd")


def test_the_pairs_report_joins_one_teachers_schemes_and_scores_only_rows_with_every_pair(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import report_collection_pairs as report

    def row(teacher: str, scores: dict[str, list[float]], collect: str | None = None) -> dict[str, object]:
        return {"env": "Hopper-v5", "teacher": teacher, "student_hidden": [16, 16], "scores": scores,
                **({"collect": collect} if collect else {})}  # fmt: skip

    (tmp_path / "student.json").write_text(json.dumps([row("a.zip", {"capped": [0.5, 0.7], "greedy": [0.4]}),
                                                       row("b.zip", {"capped": [1.0], "greedy": [0.9]})]))
    (tmp_path / "dagger.json").write_text(json.dumps([row("a.zip", {"greedy": [0.9], "capped": [0.8]}, "dagger")]))
    (tmp_path / "bound-aware.json").write_text(json.dumps({"W": {"teacher_path": "a.zip", "rows": [
        {"env": "Walker2d-v5", "hidden": "16x16", "bounds": "one-sided", "updates_per_round": 1000,
         "env_steps": 100_000, "collect": c, "collect_actions": m, "score": s}
        for c, m, s in [("student", "capped", 1.2), ("dagger", None, 1.0), ("dagger", "greedy", 0.8),
                        ("dagger", "capped", 0.7), ("student", "greedy", 0.2), ("dagger", "greedy", 1.0)]]}}))
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    rows = report.merged([*report.report_rows("student"), *report.report_rows("dagger"), report.bound_aware_row("W")])
    assert [(r["teacher"], r["budget"]) for r in rows] == [("a.zip", "the preset's steps"), ("b.zip", "the preset's "
                                                           "steps"), ("a.zip", "100,000 steps")]  # fmt: skip
    assert rows[0]["scores"] == {"student, capped": [0.5, 0.7], "student, greedy": [0.4], "dagger, greedy": [0.9],
                                 "dagger, capped": [0.8]}  # fmt: skip
    assert rows[2]["scores"]["dagger, sampled"] == [1.0] and rows[2]["scores"]["dagger, greedy"] == [0.8, 1.0]
    text = report.markdown(rows, report.PAIRS, "cmd")
    assert "| Hopper-v5 | b.zip | the preset's steps | 1.000 (1) | 0.900 (1) | - | - |" in text
    # a.zip at the preset's steps: best dagger greedy 0.9 (capped 0.6 -> 0.3 short); at 100k: best student capped
    assert "over the 2 rows where every pair ran" in text
    assert "| student-driven, capped | 0.150 | 0.300 | 1 of 2 |" in text
    assert "| DAgger, greedy | 0.150 | 0.300 | 1 of 2 |" in text


def test_the_pairs_report_refuses_a_missing_section_or_report_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import report_collection_pairs as report

    (tmp_path / "r.json").write_text("[]")
    (tmp_path / "bound-aware.json").write_text("{}")
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    for extra in (["--bound-aware", "nope"], ["--reports", "missing"]):
        monkeypatch.setattr(sys, "argv", ["report_collection_pairs.py", "--reports", "r", *extra])
        with pytest.raises(SystemExit) as exit_:
            report.main()
        assert exit_.value.code == 2 and "error: no " in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bound-aware.json", "r.json"]  # nothing written
