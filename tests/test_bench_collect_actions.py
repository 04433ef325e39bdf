"""scripts/bench_collect_actions.py: both collection modes per seed, every run's row kept so a re-run trains and
evaluates nothing again, and bad teacher names refused before any work."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
import bench_collect_actions  # noqa: E402


def test_a_pair_distils_both_ways_per_seed_and_a_rerun_reads_every_row_back(
        cartpole_teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_collect_actions, "preset_for", lambda env: SimpleNamespace(distill_steps=1_024))
    first = bench_collect_actions.one_pair("CartPole-v1", cartpole_teacher, seeds=2, episodes=3, work=tmp_path,
                                           updates=5)
    assert list(first["scores"]) == ["sampled", "greedy"]
    assert all(len(scores) == 2 for scores in first["scores"].values())
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert len(folders) == 5  # the teacher's return and two students per mode
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
