"""scripts/bench_rl.py: the summary names the command that reproduces each env's rows."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bench_rl import actions_label, reproducing_commands  # noqa: E402


def test_envs_run_alike_share_one_command_and_old_files_are_read_at_250_updates() -> None:
    envs = [{"env_id": "CartPole-v1", "rounds": 30, "updates_per_round": 1000},
            {"env_id": "Acrobot-v1", "rounds": 30, "updates_per_round": 1000},
            {"env_id": "LunarLander-v3", "rounds": 10, "updates_per_round": 1000},
            {"env_id": "Pendulum-v1", "rounds": 30}]  # fmt: skip
    assert reproducing_commands(envs) == [
        "python scripts/bench_rl.py --envs LunarLander-v3 --rounds 10 --updates-per-round 1000",
        "python scripts/bench_rl.py --envs Pendulum-v1 --rounds 30 --updates-per-round 250",
        "python scripts/bench_rl.py --envs CartPole-v1 Acrobot-v1 --rounds 30 --updates-per-round 1000",
    ]


def test_the_table_says_where_runs_collected_greedily() -> None:
    assert actions_label([{"collect": "dagger"}, {"collect": "dagger", "collect_actions": "sampled"}]) == ""
    assert actions_label([{"collect_actions": "greedy"}] * 3) == ", greedy actions"
    assert actions_label([{"collect_actions": "greedy"}, {}]) == ", greedy / sampled actions"
