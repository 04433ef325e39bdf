"""The imperfect teacher's own PPO, trained on from its checkpoint -> results/kickstart-teacher-pace.{json,md,png}.

The imperfect case of scripts/bench_kickstart.py asks a kickstarted 16x16 student to reach score 0.9 of the full
LunarLander-v3 teacher within a third of the steps PPO from scratch needs (docs/kickstart.md). Its teacher is a
checkpoint of the preset's PPO, saved after an update (kickstart_teachers.early_teacher). This script trains that
PPO on from the checkpoint as if it had never stopped (its 2x256 actor and critic, its optimiser's state, the
preset's settings and raw rewards) and scores its greedy policy after every update on the benchmark's 100
evaluation episodes. The steps it needs from there to score 0.9 are what PPO's own pace allows a student that
starts as the teacher, critic included; the report sets them beside the case's kickstart and scratch runs
(results/kickstart/imperfect.json). Each seed's run is kept under runs/kickstart-teacher-pace/ and skipped once
finished (an unfinished one starts again). About 3-4 minutes per seed on one core.
Run: .venv/bin/python scripts/kickstart_teacher_pace.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from kickstart_report import steps_to  # sibling scripts: scripts/ is on sys.path
from kickstart_teachers import CASES, RUNS, after_each_update, ensure_teacher, kept_random_state
from stable_baselines3 import PPO

from rl_distill.cli.arguments import positive_int
from rl_distill.evaluation.evaluate import evaluate
from rl_distill.io import atomic_write, atomic_write_json, atomic_write_text
from rl_distill.sb3.envs import make_env
from rl_distill.sb3.policies import LoadedPolicy
from rl_distill.sb3.presets import preset_for

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
CASE = "imperfect"
ENV = CASES[CASE]["env"]
TARGET = 0.9
"""The aim's score, of the full teacher (0 is random play)."""
SCRATCH = "scratch + scaled rewards: True"
"""The label of the benchmark's PPO from scratch (and its best-checkpoint twin), whose steps the aim divides."""
def scan_reference() -> dict[str, Any]:
    """The early scan's full-teacher and random returns (the scores' ends) and its chosen checkpoint."""
    teacher = ensure_teacher(CASES[CASE])
    scan = json.loads((teacher.parent / "early-scan.json").read_text())
    return {"teacher": str(teacher), "full_teacher": scan["full_teacher"], "random": scan["random"],
            "episodes": scan["episodes"], "checkpoint": scan["scan"][-1]}  # fmt: skip


def continue_teacher(seed: int, steps: int, reference: dict[str, Any]) -> dict[str, Any]:
    """Seed ``seed``'s run: the checkpoint's PPO trained ``steps`` more, its greedy score after every update."""
    folder = RUNS / "kickstart-teacher-pace" / f"seed-{seed}"
    log_path = folder / "pace.json"
    if log_path.exists():
        log = json.loads(log_path.read_text())
        if log["budget"] >= steps and log["teacher"] == reference["teacher"]:
            return log
    span = reference["full_teacher"] - reference["random"]
    venv = make_env(ENV, n_envs=preset_for(ENV).n_envs, seed=seed)
    model = PPO.load(reference["teacher"], env=venv, device="cpu")
    model.set_random_seed(seed)
    start = model.num_timesteps
    points: list[dict[str, float]] = []

    def score() -> bool:
        with kept_random_state():  # so that scoring does not steer the PPO it scores
            result = evaluate(LoadedPolicy(model=model, path=Path(reference["teacher"]), normalization=None), ENV,
                              episodes=reference["episodes"])  # fmt: skip
        points.append({"steps": model.num_timesteps - start, "return": result.mean_return,
                       "score": (result.mean_return - reference["random"]) / span})  # fmt: skip
        print(f"seed {seed}: {points[-1]['steps']:,} steps on, score {points[-1]['score']:.3f}", flush=True)
        return False  # never stops learn()

    began = time.perf_counter()
    model.learn(steps, callback=after_each_update(score), reset_num_timesteps=False)
    score()
    log = {"seed": seed, "teacher": reference["teacher"], "start_steps": start, "budget": steps, "points": points,
           "wall_seconds": time.perf_counter() - began}  # scoring included  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "ppo.zip", lambda tmp: model.save(tmp))
    atomic_write_json(log_path, log)
    return log


def student_runs(target_return: float) -> list[dict[str, Any]]:
    """The case's kickstart and scratch runs (results/kickstart/imperfect.json): steps to ``target_return``, per
    seed, by method."""
    case = json.loads((RESULTS / "kickstart" / f"{CASE}.json").read_text())[CASE]
    methods = dict.fromkeys(r["method"] for r in case["runs"] if r["method"] != "distill")
    span = case["full_teacher"] - case["random"]
    rows = []
    for method in methods:
        runs = [r for r in case["runs"] if r["method"] == method]
        points: dict[int, list[float]] = {}
        for r in runs:
            for step, value in zip(r["curve_steps"], r["curve_returns"], strict=True):
                if value is not None:
                    points.setdefault(step, []).append((value - case["random"]) / span)
        steps = sorted(points)
        mean = [statistics.mean(points[step]) for step in steps]
        rows.append({"label": method, "teacher": case["teacher"], "curve_steps": steps, "curve_scores": mean,
                     "steps_to_target": [steps_to(r, target_return) for r in runs]})  # fmt: skip
    return rows


def median_steps(steps: list[int | None]) -> str:
    reached = [s for s in steps if s is not None]
    median = f"{statistics.median(reached):,.0f}" if reached else "not reached"
    per_seed = " / ".join("-" if s is None else f"{s:,}" for s in steps)
    return f"{median} ({per_seed})"


def markdown(report: dict[str, Any]) -> str:
    ref, check = report["reference"], report["reference"]["checkpoint"]
    lines = ["# The imperfect teacher's own PPO, trained on from its checkpoint", "",
             f"Written by `python scripts/kickstart_teacher_pace.py`. LunarLander-v3; the teacher is the preset PPO's "
             f"checkpoint of seed {check['seed']} at {check['steps']:,} steps (greedy score {check['score']:.3f} on "
             f"{ref['episodes']} episodes; 0 is random play, {ref['random']:.1f}, and 1 the full teacher, "
             f"{ref['full_teacher']:.1f}). Each seed trains its PPO on (2x256 actor and critic, optimiser state, "
             f"the preset's settings, raw rewards) and scores the greedy policy after every update "
             f"({report['update_steps']:,} steps) on the same {ref['episodes']} episodes. Score {TARGET} is a "
             f"return of {report['target_return']:.1f}. The other rows are the case's 16x16 students "
             f"(`scripts/bench_kickstart.py --cases imperfect`, results/kickstart/imperfect.json; their teacher "
             f"returns {report['students'][0]['teacher']:.1f}), their steps read off the benchmark's learning "
             "curves (a point every 50,000 steps).", "",
             "| policy | steps to score 0.9, median (per seed) | score at the end (per seed) |", "|---|---:|---:|"]
    ends = [log["points"][-1]["score"] for log in report["runs"]]
    lines.append(f"| the teacher's own PPO, from its checkpoint ({report['budget']:,} steps) | "
                 f"{median_steps(report['steps_to_target'])} | {statistics.mean(ends):.3f} "
                 f"({' / '.join(f'{e:.3f}' for e in ends)}) |")  # fmt: skip
    for row in report["students"]:
        lines.append(f"| {row['label']} | {median_steps(row['steps_to_target'])} | results/kickstart.md |")
    return "\n".join([*lines, "", "![the teacher's own PPO from its checkpoint](kickstart-teacher-pace.png)", ""])


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for log in report["runs"]:
        ax.plot([p["steps"] for p in log["points"]], [p["score"] for p in log["points"]], color="black",
                alpha=0.8, label="teacher's own PPO, from its checkpoint" if log is report["runs"][0] else None)
    for row in report["students"]:
        ax.plot(row["curve_steps"], row["curve_scores"], linewidth=1, label=f"{row['label']} (16x16, mean)")
    ax.axhline(TARGET, color="grey", linestyle="--", label=f"score {TARGET}")
    ax.axvline(report["third_of_scratch"], color="tab:red", linestyle=":",
               label=f"a third of scratch's steps ({report['third_of_scratch']:,.0f})")  # fmt: skip
    ax.set_xlabel("environment steps (the teacher's PPO: after its checkpoint)")
    ax.set_xlim(0, 1_000_000)
    ax.set_ylim(-0.2, 1.1)
    ax.set_ylabel("greedy score (0 random, 1 full teacher)")
    ax.legend(loc="lower right", fontsize=6)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the runs on")
    parser.add_argument("--steps", type=positive_int, default=300_000,
                        help="environment steps each run trains on (default: scratch's steps to score 0.9)")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reference = scan_reference()
    target_return = reference["random"] + TARGET * (reference["full_teacher"] - reference["random"])
    runs = [continue_teacher(seed, args.steps, reference) for seed in args.seeds]
    students = student_runs(target_return)
    scratch = [s for row in students if row["label"].startswith(SCRATCH) for s in row["steps_to_target"] if s]
    preset = preset_for(ENV)
    report = {"reference": reference, "budget": args.steps, "target_return": target_return,
              "update_steps": preset.n_envs * preset.ppo["n_steps"], "runs": runs,
              "steps_to_target": [steps_to({"curve_steps": [p["steps"] for p in log["points"]],
                                            "curve_returns": [p["return"] for p in log["points"]]}, target_return)
                                  for log in runs],
              "students": students, "third_of_scratch": statistics.median(scratch) / 3 if scratch else 0.0}  # fmt: skip
    atomic_write_json(RESULTS / "kickstart-teacher-pace.json", report)
    atomic_write_text(RESULTS / "kickstart-teacher-pace.md", markdown(report))
    plot(report, RESULTS / "kickstart-teacher-pace.png")
    print((RESULTS / "kickstart-teacher-pace.md").read_text())


if __name__ == "__main__":
    main()
