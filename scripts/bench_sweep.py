"""Student-size sweeps -> results/sweep-<env>.{json,csv,md} and the two PNG plots per env.

Reuses the teacher that scripts/bench_rl.py trained (runs/bench-rl/<env>/teacher.zip) when it
exists, else trains one with the preset. Run:
    .venv/bin/python scripts/bench_sweep.py --envs LunarLander-v3 [--widths 4 8 16 32 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

import torch

from rl_distill.cli.arguments import positive_int
from rl_distill.distill.config import (
    AUTO_RULE,
    COLLECT_ACTIONS,
    DistillConfig,
    collect_tag,
    logged_collect_actions,
    logged_updates,
    resolve_collect_actions,
)
from rl_distill.evaluation.plots import plot_all
from rl_distill.experiments.sweep import sweep, write_tables
from rl_distill.io import atomic_write_text
from rl_distill.losses import BOUND_MODES, DEFAULT_BOUND_MODE
from rl_distill.sb3.envs import action_space
from rl_distill.sb3.presets import PRESETS
from rl_distill.sb3.training import train_ppo

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
TARGET = 0.95


def updates_of(table: dict) -> list[int]:
    """The distillation rows' updates per round (rows written before they kept it: the old default's)."""
    return sorted({logged_updates(r) for r in table["rows"]
                   if r["collect"] != "scratch"})  # fmt: skip


def modes_of(table: dict) -> list[str]:
    """The distillation rows' collection modes (rows written before they kept it: sampled)."""
    return sorted({logged_collect_actions(r) for r in table["rows"]
                   if r["collect"] != "scratch"})  # fmt: skip


def markdown(table: dict) -> str:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in table["rows"]:
        groups[(row["collect"], row["hidden"])].append(row)
    lines = [
        f"{table['env_id']}: teacher {table['teacher']['mean_return']:.1f} "
        f"({table['teacher']['policy_params']:,} policy params), random {table['random_mean_return']:.1f}; "
        f"{table['episodes']} evaluation episodes per run, mean ± std over seeds; distillation at "
        f"{', '.join(f'{n:,}' for n in updates_of(table))} updates per round, {' and '.join(modes_of(table))} "
        "actions while collecting.",
        "",
        "| collect | hidden | policy params | compression | mean return | score | env steps | wall s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    smallest: dict[str, tuple[int, str]] = {}
    for (collect, hidden), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[1][0]["policy_params"])):
        returns, scores = [r["mean_return"] for r in rows], [r["score"] for r in rows]
        sd = statistics.stdev if len(rows) > 1 else (lambda _: 0.0)
        params = rows[0]["policy_params"]
        lines.append(f"| {collect} | {hidden} | {params:,} | {rows[0]['compression_ratio']:.0f}x "
                     f"| {statistics.fmean(returns):.1f} ± {sd(returns):.1f} "
                     f"| {statistics.fmean(scores):.3f} ± {sd(scores):.3f} | {rows[0]['env_steps']:,} "
                     f"| {statistics.fmean(r['wall_seconds'] for r in rows):.0f} |")  # fmt: skip
        if collect != "scratch" and statistics.fmean(scores) >= TARGET and params < smallest.get(collect, (1e18,))[0]:
            smallest[collect] = (params, hidden)
    lines.append("")
    for collect, (params, hidden) in sorted(smallest.items()):
        ratio = table["teacher"]["policy_params"] / params
        lines.append(f"Smallest {collect}-driven student with mean score ≥ {TARGET}: {hidden}, "
                     f"{params:,} policy parameters ({ratio:.0f}x fewer than the teacher).")  # fmt: skip
    if not smallest:
        lines.append(f"No student size reached mean score {TARGET}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "LunarLander-v3", "HalfCheetah-v5", "Hopper-v5"],
                        help="environments, each with its preset teacher")
    parser.add_argument("--widths", type=int, nargs="+", default=[4, 8, 16, 32, 64],
                        help="student widths: two hidden layers of each")
    parser.add_argument("--collect", nargs="+", default=["student", "dagger"], help="who acts while collecting")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per run")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per run")
    parser.add_argument("--workers", type=int, default=None, help="parallel runs (default: one per core)")
    parser.add_argument("--scratch-seeds", type=int, default=1, help="PPO-from-scratch runs (each a full budget)")
    parser.add_argument("--scratch-steps", type=int, default=None, help="PPO-from-scratch budget (default: preset's; "
                        "0: no baseline)")
    parser.add_argument("--steps", type=int, default=None, help="distillation steps (default: preset's)")
    parser.add_argument("--bounds", default=DEFAULT_BOUND_MODE, choices=BOUND_MODES,
                        help=f"Box actions: the loss's bound mode (default {DEFAULT_BOUND_MODE}); another writes "
                        "results/sweep-<env>-<mode>.* beside the default's tables")
    parser.add_argument("--collect-actions", default=DistillConfig.collect_actions, choices=COLLECT_ACTIONS,
                        help=f"how whoever acts picks its actions while collecting (default distill's, "
                        f"{DistillConfig.collect_actions}: {AUTO_RULE}); the tables of runs of another mode than "
                        "sampled are results/sweep-<env>[-<mode>]-<collection mode>[-<N>u].* (without it: sampled)")
    parser.add_argument("--updates-per-round", type=positive_int, default=None,
                        help="distillation's gradient steps per round (default: distill's); given, the tables are "
                        "results/sweep-<env>[-<mode>]-<N>u.*")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for env_id in args.envs:
        teacher = ROOT / "runs" / "bench-rl" / env_id / "teacher.zip"
        if not teacher.exists():
            train_ppo(env_id, out=teacher.parent, name="teacher", seed=0, checkpoint_every=100_000, resume=True,
                      progress_bar=False)  # fmt: skip
        preset = PRESETS[env_id]
        # auto as student-driven collection resolves it, for every scheme: one table, one mode in its name
        collect_actions = resolve_collect_actions(args.collect_actions, action_space(env_id), "student")
        table = sweep(env_id, teacher, [(w, w) for w in args.widths], args.collect, args.seeds,
                      out=ROOT / "runs" / "bench-sweep" / env_id, episodes=args.episodes,
                      steps=args.steps, scratch_seeds=args.scratch_seeds,
                      scratch_steps=preset.timesteps if args.scratch_steps is None else args.scratch_steps,
                      bounds=[args.bounds], collect_actions=[collect_actions], updates_per_round=args.updates_per_round,
                      workers=args.workers)  # fmt: skip
        stem = f"sweep-{env_id}" + ("" if args.bounds == DEFAULT_BOUND_MODE else f"-{args.bounds}")
        stem += collect_tag(collect_actions)
        stem += f"-{args.updates_per_round}u" if args.updates_per_round else ""
        write_tables(table, RESULTS, stem=stem)
        plot_all(table, RESULTS, stem=stem)
        atomic_write_text(RESULTS / f"{stem}.md", markdown(table))
        print(markdown(table), flush=True)


if __name__ == "__main__":
    main()
