"""scripts/bench_sweep.py: a table says the updates per round and collection its distillations ran with."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bench_sweep import markdown  # noqa: E402


def table(*updates: int | None) -> dict:
    rows = [{"collect": "student", "hidden": "4x4", "policy_params": 50, "compression_ratio": 10.0, "score": 1.0,
             "mean_return": 500.0, "env_steps": 20_000, "wall_seconds": 1.0, "updates_per_round": n} for n in updates]
    rows.append({**rows[0], "collect": "scratch", "updates_per_round": None})  # PPO has no rounds
    return {"env_id": "CartPole-v1", "teacher": {"mean_return": 500.0, "policy_params": 500},
            "random_mean_return": 22.6, "episodes": 100, "rows": rows}  # fmt: skip


def test_the_header_names_the_rows_updates_per_round_and_the_old_default_for_rows_without() -> None:
    assert "distillation at 1,000 updates per round, sampled" in markdown(table(1000, 1000))
    assert "distillation at 250 updates per round, sampled" in markdown(table(None))  # written before rows kept it
    assert "distillation at 250, 1,000 updates per round, sampled" in markdown(table(None, 1000))


def test_the_header_names_the_rows_collection_and_sampled_for_rows_without() -> None:
    greedy = table(1000)
    greedy["rows"][0]["collect_actions"] = "greedy"
    assert "updates per round, greedy actions while collecting." in markdown(greedy)
    greedy["rows"].append({**greedy["rows"][0], "collect_actions": None})  # a row from before rows kept it
    assert "updates per round, greedy and sampled actions while collecting." in markdown(greedy)
