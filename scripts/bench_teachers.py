"""Evaluate several teachers of one env side by side -> results/teachers-<env>.{json,md}.

Used to choose a preset: each --teacher is a label, an SB3 zip and, optionally, its VecNormalize
statistics (default: found next to the zip). results/teachers-Hopper-v5.* came from (R=runs/bench-rl):
    .venv/bin/python scripts/bench_teachers.py --env Hopper-v5 --episodes 20 \\
        --teacher "zoo values, seed 0, 1M steps" $R/Hopper-v5-zoo-s0/teacher.zip \\
        --teacher "zoo values, seed 0, 1.4M steps" $R/Hopper-v5-s0-2M/teacher.ckpt.zip \\
                  $R/Hopper-v5-s0-2M/teacher.ckpt-vecnormalize.pkl \\
        --teacher "zoo values, seed 1, 1M steps" $R/Hopper-v5-s1/teacher.zip \\
        --teacher "zoo values, seed 2, 1M steps" $R/Hopper-v5-s2/teacher.zip \\
        --teacher "SB3 defaults, seed 0, 1M steps (the preset)" $R/Hopper-v5-sb3-s0/teacher.zip
The zoo-value teachers were trained with the zoo's Hopper-v3 values (git history of presets.py) by
`rl-distill teacher --env Hopper-v5 --seed N --out DIR` (1.4M: `--timesteps 2000000 --resume`, stopped).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from rl_distill.evaluation.evaluate import evaluate
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.sb3.policies import load_policy

RESULTS = Path(__file__).resolve().parent.parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="the environment every teacher is evaluated on")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per teacher")
    parser.add_argument("--teacher", nargs="+", action="append", required=True, metavar="LABEL ZIP [PKL]",
                        help="a label, the teacher's zip and optionally its vecnormalize.pkl; repeat per teacher")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for label, path, *stats in args.teacher:
        policy = load_policy(path, args.env, vecnormalize=stats[0] if stats else None)
        result = evaluate(policy, args.env, episodes=args.episodes)
        rows.append({"label": label, "path": path, "mean_return": result.mean_return, "std": result.std_return,
                     "min": result.min_return, "max": result.max_return,
                     "mean_length": result.mean_length})  # fmt: skip
        print(rows[-1], flush=True)
    atomic_write_json(RESULTS / f"teachers-{args.env}.json", {"env_id": args.env, "episodes": args.episodes,
                                                              "rows": rows})  # fmt: skip
    lines = [f"{args.env} teachers, {args.episodes} greedy evaluation episodes each.", "",
             "| teacher | mean return | std | min | max | mean length |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r['label']} | {r['mean_return']:.1f} | {r['std']:.1f} | {r['min']:.1f} | {r['max']:.1f} "
              f"| {r['mean_length']:.0f} |" for r in rows]  # fmt: skip
    atomic_write_text(RESULTS / f"teachers-{args.env}.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
