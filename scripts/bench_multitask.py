"""Many teachers, one student -> results/multitask.{json,md} + results/multitask.png.

Cases (3 seeds, 100 evaluation episodes per task and run; collection: DAgger; ``--task-id none``):
- spaces: CartPole-v1 + Acrobot-v1 + LunarLander-v3 preset teachers -> one student per size in --sizes
  (two hidden layers of that width), against the three single-task 16x16 students distilled one by one
  with the same steps per task. Score per task: (return - random) / (teacher - random).
- dynamics: LunarLander-v3 variants (default; wind 15 with turbulence 1.5; gravity -5), each with its own
  teacher -> one 32x32 student that gets no task label. A variant's teacher is the default preset teacher
  adapted to it: ``kickstart --init`` from that teacher (2x256, --variant-steps of PPO on the variant's
  reward with the adaptive KL guide). PPO from scratch with the preset was tried first, on another machine, and
  was unreliable under wind (1M steps: 8.2 on the windy variant, against 122.8 for the default teacher there). The
  specialist matrix: every teacher evaluated on every variant; the student's score per variant is
  measured against that variant's own teacher.
Teachers live in runs/bench-rl/<name>/ (trained here with the preset when missing); every run writes
runs/bench-multitask/<case>/<run>/ and is skipped once finished (evaluations are kept too), so the
script can be stopped and started again; two copies may run the two cases side by side (11 minutes so on 2 cores,
2026-12-06, variant teachers included). Run, e.g.:
    .venv/bin/python scripts/bench_multitask.py --case spaces --sizes 2 4 8 16 32
    .venv/bin/python scripts/bench_multitask.py --case dynamics --variant-steps 300000
"""

from __future__ import annotations

import argparse
import fcntl
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rl_distill.artifacts.student import load_student
from rl_distill.cli.arguments import add_updates_per_round
from rl_distill.distill.config import DistillConfig, logged_updates, updates_tag
from rl_distill.distill.multitask import multitask_config
from rl_distill.evaluation.compare import score
from rl_distill.evaluation.evaluate import evaluate, evaluate_random, load_agent
from rl_distill.experiments.multitask import run_multitask
from rl_distill.experiments.pipeline import run_distill
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import run_kickstart
from rl_distill.sb3.envs import join_env, split_env
from rl_distill.sb3.policies import load_policy, policy_parameters
from rl_distill.sb3.presets import TEACHER_NET, preset_for
from rl_distill.sb3.training import train_ppo

ROOT = Path(__file__).resolve().parent.parent
RESULTS, RUNS = ROOT / "results", ROOT / "runs"
SPACES = {"CartPole-v1": "CartPole-v1", "Acrobot-v1": "Acrobot-v1", "LunarLander-v3": "LunarLander-v3"}
VARIANTS = {
    "LunarLander-v3": "LunarLander-v3",
    "LunarLander-v3-wind15": join_env("LunarLander-v3", {"enable_wind": True, "wind_power": 15.0,
                                                         "turbulence_power": 1.5}),  # fmt: skip
    "LunarLander-v3-gravity5": join_env("LunarLander-v3", {"gravity": -5.0}),
}
"""Teacher folder under runs/bench-rl -> the task it was trained on."""
TEACHER_HIDDEN = TEACHER_NET


def cached(path: Path, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once; its value is kept in the JSON file ``path`` under ``key``."""
    store = json.loads(path.read_text()) if path.exists() else {}
    if key not in store:
        store[key] = compute()
        atomic_write_json(path, store)
    return store[key]


def teacher_path(name: str, task: str, *, adapt_from: Path | None = None, timesteps: int = 0) -> Path:
    """``runs/bench-rl/<name>/teacher.zip``, trained when missing: by PPO with the preset, or with ``adapt_from``
    as the default teacher fine-tuned on ``task`` by ``kickstart --init`` (PPO on the task's reward, guided by
    that teacher's KL with the adaptive schedule) for ``timesteps`` steps."""
    path = RUNS / "bench-rl" / name / "teacher.zip"
    if path.exists():
        return path
    if adapt_from is None:
        print(f"training the {name} teacher (preset)", flush=True)
        train_ppo(task, out=path.parent, seed=0, progress_bar=False)
        return path
    print(f"adapting {adapt_from} to {task} ({timesteps:,} kickstart steps)", flush=True)
    config = KickstartConfig(task, student_hidden=TEACHER_HIDDEN, timesteps=timesteps, init=str(adapt_from), seed=0,
                             scale_rewards=None)  # as the teacher's PPO did: the default its results were made with
    run_kickstart(config, adapt_from, path.parent, name="teacher", progress_bar=False)
    return path


def mean_return(path: Path, task: str, episodes: int, *, student_task: str | None = None) -> float:
    agent = load_agent(path, task, task=student_task) if path.suffix == ".safetensors" else load_policy(path, task)
    return evaluate(agent, task, episodes=episodes).mean_return


def references(work: Path, teachers: dict[str, Path], own: dict[str, str], tasks: list[str], episodes: int,
               *, cross: bool) -> dict[str, Any]:  # fmt: skip
    """Each teacher on its own task (with ``cross``, on every task: the specialist matrix), the random policy too."""
    file = work / "references.json"
    matrix = {name: {task: cached(file, f"{name}@{task}", lambda p=path, t=task: mean_return(p, t, episodes))
                     for task in (tasks if cross else [own[name]])} for name, path in teachers.items()}  # fmt: skip
    random = {task: cached(file, f"random@{task}", lambda t=task: evaluate_random(t, episodes=episodes).mean_return)
              for task in tasks}  # fmt: skip
    return {"matrix": matrix, "random": random}


def multitask_run(folder: Path, tasks: list[str], teachers: list[Path], hidden: tuple[int, ...], steps: int,
                  seed: int, episodes: int, updates: int) -> dict[str, Any]:  # fmt: skip
    if not (folder / "student.json").exists():
        config = multitask_config(tasks, task_id="none", student_hidden=hidden, steps=steps, collect="dagger",
                                  seed=seed, eval_episodes=0, updates_per_round=updates)  # fmt: skip
        run_multitask(config, teachers, folder, progress_bar=False, resume=True)
    log = json.loads((folder / "student.json").read_text())
    artifact = folder / "student.safetensors"
    returns = {task: cached(folder / "eval.json", task, lambda t=task: mean_return(artifact, t, episodes,
                                                                                   student_task=t)) for task in tasks}
    params = sum(p.numel() for p in load_student(artifact).net.parameters())
    return {"hidden": list(hidden), "seed": seed, "returns": returns, "policy_params": params,
            "wall_seconds": log["wall_seconds"], "env_steps": log["rounds"][-1]["env_steps"]}  # fmt: skip


def single_run(folder: Path, task: str, teacher: Path, hidden: tuple[int, ...], steps: int, seed: int,
               episodes: int, updates: int) -> dict[str, Any]:  # fmt: skip
    if not (folder / "student.json").exists():
        config = DistillConfig(task, student_hidden=hidden, steps=steps, collect="dagger", seed=seed, eval_episodes=0,
                               updates_per_round=updates)  # fmt: skip
        run_distill(config, teacher, folder, progress_bar=False, resume=True)
    log = json.loads((folder / "student.json").read_text())
    value = cached(folder / "eval.json", task, lambda: mean_return(folder / "student.zip", task, episodes))
    params = policy_parameters(load_policy(folder / "student.zip", task).policy)
    return {"task": task, "seed": seed, "return": value, "policy_params": params,
            "wall_seconds": log["wall_seconds"], "env_steps": log["rounds"][-1]["env_steps"]}  # fmt: skip


def spaces_case(args: argparse.Namespace) -> dict[str, Any]:
    work = RUNS / "bench-multitask" / "spaces"
    work.mkdir(parents=True, exist_ok=True)
    tasks = list(SPACES.values())
    teachers = {name: teacher_path(name, task) for name, task in SPACES.items()}
    refs = references(work, teachers, SPACES, tasks, args.episodes, cross=False)
    per_task_steps = {task: preset_for(task).distill_steps for task in tasks}
    tag = updates_tag(args.updates_per_round)
    runs, singles = [], []
    for seed in range(args.seeds):
        for width in args.sizes:
            runs.append(multitask_run(work / f"shared-{width}x{width}{tag}-{seed}", tasks, list(teachers.values()),
                                      (width, width), sum(per_task_steps.values()), seed, args.episodes,
                                      args.updates_per_round))  # fmt: skip
        for name, task in SPACES.items():
            singles.append(single_run(work / f"single-{name}{tag}-{seed}", task, teachers[name], (16, 16),
                                      per_task_steps[task], seed, args.episodes, args.updates_per_round))  # fmt: skip
    specialist = {task: refs["matrix"][name][task] for name, task in SPACES.items()}
    return summarise("spaces", tasks, runs, singles, specialist, refs, args.updates_per_round)


def dynamics_case(args: argparse.Namespace) -> dict[str, Any]:
    work = RUNS / "bench-multitask" / "dynamics"
    work.mkdir(parents=True, exist_ok=True)
    tasks = list(VARIANTS.values())
    default = teacher_path("LunarLander-v3", "LunarLander-v3")
    teachers = {name: teacher_path(name, task, adapt_from=None if task == "LunarLander-v3" else default,
                                   timesteps=args.variant_steps) for name, task in VARIANTS.items()}  # fmt: skip
    refs = references(work, teachers, VARIANTS, tasks, args.episodes, cross=True)
    steps = preset_for("LunarLander-v3").distill_steps
    tag = updates_tag(args.updates_per_round)
    runs, singles = [], []
    for seed in range(args.seeds):
        runs.append(multitask_run(work / f"shared-32x32{tag}-{seed}", tasks, list(teachers.values()), (32, 32),
                                  steps * len(tasks), seed, args.episodes, args.updates_per_round))  # fmt: skip
        for name, task in VARIANTS.items():
            singles.append(single_run(work / f"single-{name}{tag}-{seed}", task, teachers[name], (32, 32), steps,
                                      seed, args.episodes, args.updates_per_round))  # fmt: skip
    specialist = {task: refs["matrix"][name][task] for name, task in VARIANTS.items()}
    return summarise("dynamics", tasks, runs, singles, specialist, refs, args.updates_per_round)


def summarise(case: str, tasks: list[str], runs: list[dict], singles: list[dict], specialist: dict[str, float],
              refs: dict[str, Any], updates: int) -> dict[str, Any]:  # fmt: skip
    """Per student size: mean/min score per task over seeds; the single-task students beside them."""
    sizes: dict[str, dict[str, Any]] = {}
    for run in runs:
        row = sizes.setdefault("x".join(map(str, run["hidden"])), {"policy_params": run["policy_params"],
                                                                   "scores": {t: [] for t in tasks}, "wall": []})
        for task in tasks:
            row["scores"][task].append(score(run["returns"][task], specialist[task], refs["random"][task]))
        row["wall"].append(run["wall_seconds"])
        row["env_steps"] = run["env_steps"]
    single = {task: [score(s["return"], specialist[task], refs["random"][task]) for s in singles if s["task"] == task]
              for task in tasks}  # fmt: skip
    seeds = max(len(v) for v in single.values())
    single_wall = sum(s["wall_seconds"] for s in singles) / seeds
    return {"case": case, "tasks": tasks, "updates_per_round": updates, "references": refs,
            "specialist_return": specialist, "sizes": sizes,
            "single": {"scores": single, "wall_seconds": single_wall,
                       "policy_params": sum({s["task"]: s["policy_params"] for s in singles}.values()),
                       "env_steps": sum(s["env_steps"] for s in singles) // seeds},
            "runs": runs, "singles": singles}  # fmt: skip


def sd(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def fmt(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {sd(values):.3f} (min {min(values):.3f})"


def markdown(table: dict[str, Any]) -> list[str]:
    tasks, refs = table["tasks"], table["references"]
    updates = logged_updates(table)
    lines = [f"### {table['case']}", "", f"{updates:,} updates per round.", "",
             "| student | policy params | " + " | ".join(tasks) + " | wall s | env steps |",
             "|---|---:|" + "---:|" * (len(tasks) + 2)]  # fmt: skip
    for size, row in table["sizes"].items():
        lines.append(f"| shared {size} | {row['policy_params']:,} | " + " | ".join(fmt(row["scores"][t]) for t in tasks)
                     + f" | {statistics.mean(row['wall']):.0f} | {row['env_steps']:,} |")  # fmt: skip
    single = table["single"]
    lines.append(f"| one student per task (sum) | {single['policy_params']:,} | "
                 + " | ".join(fmt(single["scores"][t]) for t in tasks)
                 + f" | {single['wall_seconds']:.0f} | {single['env_steps']:,} |")  # fmt: skip
    lines += ["", "Mean return on each task (rows: model, columns: task; blank: spaces differ):", "",
              "| model | " + " | ".join(tasks) + " | mean score over tasks |", "|---|" + "---:|" * (len(tasks) + 1)]
    rows = {f"teacher {name}": row for name, row in refs["matrix"].items()}
    for size in table["sizes"]:
        rows[f"shared {size} (seed mean)"] = {t: statistics.mean(r["returns"][t] for r in table["runs"]
                                                                 if "x".join(map(str, r["hidden"])) == size)
                                              for t in tasks}  # fmt: skip
    for name, row in rows.items():
        scores = [score(row[t], table["specialist_return"][t], refs["random"][t]) for t in tasks if t in row]
        cells = " | ".join(f"{row[t]:.1f}" if t in row else "" for t in tasks)
        lines.append(f"| {name} | {cells} | {statistics.mean(scores):.3f} |")
    lines.append("| random | " + " | ".join(f"{refs['random'][t]:.1f}" for t in tasks) + " | 0 |")
    return lines + [""]


def short_name(task: str) -> str:
    """``ENV`` and, one per line, its changed kwargs: a readable tick label."""
    env_id, kwargs = split_env(task)
    return "\n".join([env_id, *(f"{key}={value}" for key, value in kwargs.items())])


def plot(tables: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(6.5 * len(tables), 4), squeeze=False)
    for ax, table in zip(axes[0], tables, strict=True):
        tasks = table["tasks"]
        labels = [f"shared {size} ({row['policy_params']:,} params)" for size, row in table["sizes"].items()]
        labels.append(f"one student per task ({table['single']['policy_params']:,} params)")
        series = [row["scores"] for row in table["sizes"].values()] + [table["single"]["scores"]]
        width = 0.8 / len(series)
        for i, (label, scores) in enumerate(zip(labels, series, strict=True)):
            xs = [k + i * width for k in range(len(tasks))]
            ax.bar(xs, [statistics.mean(scores[t]) for t in tasks], width, label=label,
                   yerr=[sd(scores[t]) for t in tasks], capsize=2)
        ax.axhline(0.95, color="grey", linestyle="--", linewidth=1)
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(tasks))], [short_name(t) for t in tasks], fontsize=7)
        ax.set_ylabel("score (1 = the task's own teacher)")
        ax.set_title(f"{table['case']}: one student for {len(tasks)} tasks")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=("spaces", "dynamics"), nargs="+", default=["spaces", "dynamics"],
                        help="spaces: three envs, one student; dynamics: LunarLander-v3 variants")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32], help="shared widths (spaces case)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per run")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per task and run")
    parser.add_argument("--variant-steps", type=int, default=300_000,
                        help="kickstart steps that adapt the default teacher to each changed variant (default 300000)")
    add_updates_per_round(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for case in args.case:
        table = (spaces_case if case == "spaces" else dynamics_case)(args)
        print("\n".join(filed(case, table)), flush=True)


def filed(case: str, table: dict[str, Any]) -> list[str]:
    """Files ``table`` as ``case`` of results/multitask.json, rewrites the report and plot from the file, and
    returns the report's lines; under a lock, since a copy of this script running the other case may file too."""
    file = RESULTS / "multitask.json"
    with open(RESULTS / ".multitask.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tables = json.loads(file.read_text()) if file.exists() else {}
        tables[case] = table
        atomic_write_json(file, tables)
        lines = ["# Many teachers, one student", "", "Generated by `scripts/bench_multitask.py`; score = (return - "
                 "random) / (the task's own teacher - random), mean ± sd (min) over seeds, 100 episodes per task. "
                 "Students get no task label (`--task-id none`); wall time is distillation only (evaluation apart).",
                 ""]  # fmt: skip
        for each in tables.values():
            lines += markdown(each)
        atomic_write_text(RESULTS / "multitask.md", "\n".join(lines))
        plot(list(tables.values()), RESULTS / "multitask.png")
    return lines


if __name__ == "__main__":
    main()
