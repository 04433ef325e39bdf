"""Temperature and loss study on one teacher -> results/temperature-<env>.{json,md}.

Student-driven distillation of the bench_rl teacher (runs/bench-rl/<env>/teacher.zip) into a 2x16
student, for each (loss, T), over seeds. Run:
    .venv/bin/python scripts/bench_temperature.py --env LunarLander-v3 --steps 20000
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from rl_distill.cli.arguments import add_updates_per_round
from rl_distill.distill.config import DistillConfig
from rl_distill.evaluation.evaluate import evaluate, evaluate_random
from rl_distill.experiments.pipeline import run_distill
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.sb3.policies import load_policy

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = [("forward-kl", 0.01), ("forward-kl", 0.1), ("forward-kl", 1.0), ("forward-kl", 3.0),
            ("reverse-kl", 1.0), ("mse", 1.0)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="LunarLander-v3", help="environment (its preset teacher)")
    parser.add_argument("--steps", type=int, default=20_000, help="distillation steps per run")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 per temperature")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per run")
    add_updates_per_round(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    teacher_path = ROOT / "runs" / "bench-rl" / args.env / "teacher.zip"
    work = ROOT / "runs" / "bench-temperature" / args.env
    teacher = evaluate(load_policy(teacher_path, args.env), args.env, episodes=args.episodes).mean_return
    random = evaluate_random(args.env, episodes=args.episodes).mean_return
    rows = []
    for loss, temperature in SETTINGS:
        for seed in range(args.seeds):
            name = f"{loss}-T{temperature}-{seed}"
            config = DistillConfig(env_id=args.env, steps=args.steps, steps_per_round=args.steps // 5, loss=loss,
                                   temperature=temperature, seed=seed, eval_episodes=0,  # type: ignore[arg-type]
                                   updates_per_round=args.updates_per_round)
            path = run_distill(config, teacher_path, work, name=name, progress_bar=False)
            result = evaluate(load_policy(path, args.env), args.env, episodes=args.episodes)
            rows.append({"loss": loss, "temperature": temperature, "seed": seed, "mean_return": result.mean_return,
                         "score": (result.mean_return - random) / (teacher - random)})  # fmt: skip
            print(name, f"{result.mean_return:.1f}", flush=True)
    atomic_write_json(ROOT / "results" / f"temperature-{args.env}.json",
                      {"env_id": args.env, "steps": args.steps, "updates_per_round": args.updates_per_round,
                       "teacher_mean_return": teacher, "random_mean_return": random, "rows": rows})  # fmt: skip
    lines = [f"{args.env}: student-driven, 2x16 student, {args.steps:,} env steps, {args.updates_per_round} updates "
             f"per round, {args.seeds} seeds, {args.episodes} episodes each; teacher {teacher:.1f}, random "
             f"{random:.1f}.", "",
             "| loss | T | mean return | score |", "|---|---:|---:|---:|"]  # fmt: skip
    for loss, temperature in SETTINGS:
        group = [r for r in rows if r["loss"] == loss and r["temperature"] == temperature]
        lines.append(f"| {loss} | {temperature:g} | {statistics.fmean(r['mean_return'] for r in group):.1f} "
                     f"| {statistics.fmean(r['score'] for r in group):.3f} |")
    atomic_write_text(ROOT / "results" / f"temperature-{args.env}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
