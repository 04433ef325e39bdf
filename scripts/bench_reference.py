"""The adaptive schedule's reference, as kickstart measures it, on few and on many episodes
-> results/kickstart-reference.{json,md}.

``adaptive:L0`` scores the student between the random policy's and the teacher's sampled returns, measured
once at the start of a run (``--reference-episodes``, per seed). This script measures that reference for
each teacher of scripts/bench_kickstart.py on every episode count and seed asked for, through kickstart's
own ``make_guide``, and times it: how far a small count sits from a large one is how far λ is off for a
whole run. Run, e.g.:
    .venv/bin/python scripts/bench_reference.py --cases HalfCheetah-v5 Hopper-v5 --episodes 10 100 --seeds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from kickstart_teachers import CASES, ensure_teacher  # sibling scripts: scripts/ is on sys.path

from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import make_guide
from rl_distill.sb3.policies import load_policy

RESULTS = Path(__file__).resolve().parent.parent / "results"


def measure(name: str, counts: list[int], seeds: int) -> list[dict[str, Any]]:
    env = CASES[name]["env"]
    teacher = load_policy(ensure_teacher(CASES[name]), env)
    space = teacher.make_env(env, n_envs=1, seed=0).action_space
    rows = []
    for seed in range(seeds):
        for episodes in counts:
            config = KickstartConfig(env, reference_episodes=episodes, seed=seed)
            start = time.perf_counter()
            guide = make_guide(config, config.validate(), teacher, space)
            assert guide.reference is not None  # the default schedule is adaptive
            rows.append({"case": name, "seed": seed, "episodes": episodes, "teacher": guide.reference[0],
                         "random": guide.reference[1], "seconds": time.perf_counter() - start})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    counts = sorted({r["episodes"] for r in rows})
    lines = ["The teacher's sampled return that `adaptive:L0` scores the student against (kickstart's `make_guide`, "
             "actions sampled, the same seeded episodes in every run of a seed), per seed and episode count; "
             f"seconds: time to measure the teacher's and the random policy's {counts[-1]} episodes. Reproduce: "
             "`python scripts/bench_reference.py`.", "",
             "| case | seeds | " + " | ".join(f"{n} episodes: per seed (range)" for n in counts)
             + f" | seconds ({counts[-1]} episodes) |",
             "|---|---:|" + "---:|" * (len(counts) + 1)]  # fmt: skip
    for name in dict.fromkeys(r["case"] for r in rows):
        cells = []
        for n in counts:
            values = [r["teacher"] for r in rows if r["case"] == name and r["episodes"] == n]
            cells.append(f"{' / '.join(f'{v:,.1f}' for v in values)} ({min(values):,.1f} to {max(values):,.1f})")
        seconds = [r["seconds"] for r in rows if r["case"] == name and r["episodes"] == counts[-1]]
        seeds = len({r["seed"] for r in rows if r["case"] == name})
        lines.append(f"| {name} | {seeds} | " + " | ".join(cells) + f" | {statistics.fmean(seconds):.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES), help="cases to run (above)")
    parser.add_argument("--episodes", nargs="+", type=int, default=[10, 100], help="reference episode counts")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per run")
    args = parser.parse_args()
    if min(args.episodes) <= 0 or args.seeds <= 0:
        parser.error("--episodes and --seeds must be positive")
    torch.set_num_threads(1)
    path = RESULTS / "kickstart-reference.json"
    report = json.loads(path.read_text()) if path.exists() else []
    for name in args.cases:
        report = [r for r in report if r["case"] != name] + measure(name, sorted(set(args.episodes)), args.seeds)
        atomic_write_json(path, report)  # after each case: a stopped run keeps the cases it finished
        atomic_write_text(RESULTS / "kickstart-reference.md", markdown(report))


if __name__ == "__main__":
    main()
