"""RL distillation benchmark -> results/rl/<env>.json, then results/rl.{json,md}.

For each environment: train the preset PPO teacher once; distil it into the preset student
(2x16) with each collection scheme over 3 seeds, actors picking actions as distill's default does (greedy for
Box actions, sampled for discrete ones; runs that collected greedily are named -greedy); train the same
student by PPO from scratch for the teacher's budget on scaled rewards (as `pipeline` does); evaluate everything
on 100 fixed-seed episodes.

Run (one process per env list; the summary merges whatever per-env files exist):
    .venv/bin/python scripts/bench_rl.py --envs CartPole-v1 Acrobot-v1
    .venv/bin/python scripts/bench_rl.py --summarize
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import fields
from pathlib import Path

import torch

from rl_distill.cli.arguments import add_updates_per_round
from rl_distill.distill.config import (
    COLLECT_SCHEMES,
    LEGACY_COLLECT_ACTIONS,
    DistillConfig,
    collect_tag,
    logged_collect_actions,
    logged_updates,
    updates_tag,
)
from rl_distill.evaluation import compare
from rl_distill.evaluation.evaluate import evaluate, evaluate_random
from rl_distill.experiments.pipeline import run_distill
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.sb3.policies import load_policy, policy_parameters
from rl_distill.sb3.presets import PRESETS
from rl_distill.sb3.training import TrainResult, train_ppo

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
DEFAULT_ENVS = ["CartPole-v1", "Acrobot-v1", "LunarLander-v3", "Pendulum-v1", "MountainCarContinuous-v0"]
TARGET = 0.95


def first_step_reaching(steps: list[int], returns: list[float | None], threshold: float) -> int | None:
    return next((s for s, r in zip(steps, returns, strict=True) if r is not None and r >= threshold), None)


def bench_env(env_id: str, seeds: list[int], episodes: int, work: Path, rounds: int, updates: int) -> dict:
    preset = PRESETS[env_id]
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if (work / "teacher.json").exists():  # a restarted benchmark reuses its finished teacher
        saved = json.loads((work / "teacher.json").read_text())
        teacher_run = TrainResult(**{f.name: saved[f.name] for f in fields(TrainResult) if f.name in saved})
    else:
        teacher_run = train_ppo(env_id, out=work, name="teacher", seed=0, checkpoint_every=100_000,
                                resume=True, progress_bar=False)  # fmt: skip
    teacher = load_policy(work / "teacher.zip", env_id)
    teacher_eval = evaluate(teacher, env_id, episodes=episodes)
    random_eval = evaluate_random(env_id, episodes=episodes)
    span = teacher_eval.mean_return - random_eval.mean_return
    threshold = random_eval.mean_return + TARGET * span

    def score(value: float) -> float:
        return compare.score(value, teacher_eval.mean_return, random_eval.mean_return)

    print(f"{env_id}: teacher {teacher_eval.mean_return:.1f} ({teacher_run.wall_seconds:.0f} s), "
          f"random {random_eval.mean_return:.1f}", flush=True)  # fmt: skip
    runs = []
    for collect in COLLECT_SCHEMES:
        for seed in seeds:
            config = DistillConfig(env_id=env_id, student_hidden=preset.student_hidden, steps=preset.distill_steps,
                                   steps_per_round=preset.distill_steps // rounds, collect=collect,
                                   seed=seed, updates_per_round=updates).resolved(teacher.policy.action_space)
            name = f"student-{collect}-{seed}{updates_tag(updates)}{collect_tag(config.collect_actions)}"
            t0 = time.perf_counter()
            path = run_distill(config, work / "teacher.zip", work, name=name, progress_bar=False)
            wall = time.perf_counter() - t0
            log = json.loads((work / f"{name}.json").read_text())
            student = load_policy(path, env_id)
            result = evaluate(student, env_id, episodes=episodes)
            curve_steps = [r["env_steps"] for r in log["rounds"]]
            curve_returns = [r["eval_mean_return"] for r in log["rounds"]]
            runs.append({
                "collect": collect, "collect_actions": config.collect_actions, "seed": seed,
                "mean_return": result.mean_return, "ci95": result.ci95,
                "score": score(result.mean_return), "policy_params": policy_parameters(student.policy),
                "env_steps": config.steps, "wall_seconds": wall,
                "distill_seconds": log["wall_seconds"],
                "steps_to_target": first_step_reaching(curve_steps, curve_returns, threshold),
                "curve_steps": curve_steps, "curve_returns": curve_returns,
            })  # fmt: skip
            print(f"  {name}: {result.mean_return:.1f} (score {score(result.mean_return):.3f}, {wall:.0f} s)",
                  flush=True)  # fmt: skip
    # The baseline as pipeline and sweep train it: scaled rewards (the same as the preset's where it normalises).
    scratch_run = train_ppo(env_id, out=work, name="scratch", hidden=preset.student_hidden, seed=0,
                            eval_every=max(preset.timesteps // 25, 1000), eval_episodes=5, progress_bar=False,
                            scale_rewards=True)  # fmt: skip
    scratch_eval = evaluate(load_policy(work / "scratch.zip", env_id), env_id, episodes=episodes)
    print(f"  scratch: {scratch_eval.mean_return:.1f} (score {score(scratch_eval.mean_return):.3f})", flush=True)
    return {
        "env_id": env_id, "episodes": episodes, "seeds": seeds, "target_score": TARGET,
        "teacher": {"mean_return": teacher_eval.mean_return, "ci95": teacher_eval.ci95,
                    "policy_params": teacher_run.policy_params, "timesteps": teacher_run.timesteps,
                    "train_seconds": teacher_run.wall_seconds},
        "random": {"mean_return": random_eval.mean_return},
        "student_hidden": list(preset.student_hidden), "distill_steps": preset.distill_steps, "rounds": rounds,
        "updates_per_round": updates, "runs": runs,
        "scratch": {"mean_return": scratch_eval.mean_return, "score": score(scratch_eval.mean_return),
                    "timesteps": scratch_run.timesteps, "policy_params": scratch_run.policy_params,
                    "train_seconds": scratch_run.wall_seconds, "scaled_rewards": scratch_run.scaled_rewards,
                    "steps_to_target": first_step_reaching(scratch_run.curve_steps, scratch_run.curve_returns,
                                                           threshold),
                    "curve_steps": scratch_run.curve_steps, "curve_returns": scratch_run.curve_returns},
        "total_seconds": time.perf_counter() - start,
    }  # fmt: skip


def reproducing_commands(envs: list[dict]) -> list[str]:
    """One command per group of envs run with the same rounds and updates per round (a file written before the
    script recorded its updates was made at the default of its day)."""
    groups: dict[tuple[int, int], list[str]] = {}
    for env in envs:
        key = (env["rounds"], logged_updates(env))
        groups.setdefault(key, []).append(env["env_id"])
    return [f"python scripts/bench_rl.py --envs {' '.join(ids)} --rounds {rounds} --updates-per-round {updates}"
            for (rounds, updates), ids in sorted(groups.items())]


def actions_label(runs: list[dict]) -> str:
    """How the runs' actors picked actions while collecting, where not sampled (rows from before it: sampled)."""
    modes = sorted({logged_collect_actions(r) for r in runs})
    return "" if modes == [LEGACY_COLLECT_ACTIONS] else f", {' / '.join(modes)} actions"


def summarize() -> None:
    envs = [json.loads(p.read_text()) for p in sorted((RESULTS / "rl").glob("*.json"))]
    commands = "; ".join(f"`{command}`" for command in reproducing_commands(envs))
    lines = [
        "Score = (student - random) / (teacher - random) over 100 fixed-seed greedy episodes; mean ± std over "
        "3 seeds. Steps to 0.95: first round whose 5-episode evaluation reached score 0.95 (median over seeds; "
        "scratch: SB3 EvalCallback, 5 episodes, 1 seed). PPO from scratch learns from scaled rewards, as `pipeline` "
        "trains it. "
        f"Reproduce: {commands}.",
        "",
        "| env | teacher return (params) | random | student params (ratio) | collect | student return "
        "| score | distil steps | distil s | steps to 0.95 | scratch PPO return (steps) | scratch score "
        "| scratch steps to 0.95 |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for env in envs:
        t, s = env["teacher"], env["scratch"]
        scratch_reach = f"{s['steps_to_target']:,}" if s["steps_to_target"] else "not reached"
        for collect in COLLECT_SCHEMES:
            runs = [r for r in env["runs"] if r["collect"] == collect]
            if not runs:
                continue
            returns = [r["mean_return"] for r in runs]
            scores = [r["score"] for r in runs]
            reach = [r["steps_to_target"] for r in runs if r["steps_to_target"] is not None]
            sd = statistics.stdev if len(runs) > 1 else (lambda _: 0.0)
            params = runs[0]["policy_params"]
            lines.append(
                f"| {env['env_id']} | {t['mean_return']:.1f} ({t['policy_params']:,}) "
                f"| {env['random']['mean_return']:.1f} "
                f"| {params:,} ({t['policy_params'] / params:.0f}x) | {collect}{actions_label(runs)} "
                f"| {statistics.fmean(returns):.1f} ± {sd(returns):.1f} "
                f"| {statistics.fmean(scores):.3f} ± {sd(scores):.3f} "
                f"| {runs[0]['env_steps']:,} | {statistics.fmean(r['distill_seconds'] for r in runs):.0f} "
                f"| {f'{statistics.median(reach):,.0f} ({len(reach)}/{len(runs)})' if reach else 'not reached'} "
                f"| {s['mean_return']:.1f} ({s['timesteps']:,}) | {s['score']:.3f} "
                f"| {scratch_reach} |"
            )
    atomic_write_json(RESULTS / "rl.json", {"command": "python scripts/bench_rl.py", "envs": envs})
    atomic_write_text(RESULTS / "rl.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="*", default=DEFAULT_ENVS, help="environments (preset names)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="student seeds")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per model")
    parser.add_argument("--rounds", type=int, default=10, help="collection rounds (learning-curve points)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-rl", help="models go here (not in git)")
    parser.add_argument("--summarize", action="store_true", help="only rebuild results/rl.{json,md}")
    add_updates_per_round(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.summarize:
        for env_id in args.envs:
            result = bench_env(env_id, args.seeds, args.episodes, args.work / env_id, args.rounds,
                               args.updates_per_round)
            atomic_write_json(RESULTS / "rl" / f"{env_id}.json", result)
    summarize()


if __name__ == "__main__":
    main()
