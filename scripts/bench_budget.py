"""`distill --max-steps` (collect past --steps while the action gap still falls) -> results/budget-rule.{json,md}.

Two parts, both on distill's defaults (1,000 updates per round, 5,000 steps per round):

- replay: the rule itself (rl_distill.distill.budget.gap_still_falling) over the action gaps that the benchmark
  results logged round by round (results/*.json rows with ``action_gaps``), from each env preset's budget: where
  it would have stopped, for runs logged past that budget, and whether it would go on, for runs logged up to it.
  No training; a second.
- runs: `distill --max-steps` (MAX_FACTOR times the preset's steps) beside the preset's fixed budget, 16x16 and
  8x8 students, 3 seeds, 100 evaluation episodes each, on teachers from plain SB3 code (own_teachers.py's
  recipes, trained there when missing; the fixed-budget runs are that script's, shared) and the presets' PPO
  teachers (runs/bench-rl/<env>/teacher.zip, which scripts/bench_rl.py trains).

    python scripts/bench_budget.py --part replay
    python scripts/bench_budget.py --teachers dqn-mountaincar td3-pendulum sac-pendulum dqn-lunar sac-mountaincar \\
        lunar reacher acrobot sac-cheetah td3-cheetah --presets LunarLander-v3 Pendulum-v1 Acrobot-v1 CartPole-v1 \\
        HalfCheetah-v5 Hopper-v5

Here (2026-12-05, as three processes on 2 cores, teachers already trained): the five off-policy teachers about 35
minutes, the three plain-SB3 PPO ones 20, the four small presets 11, HalfCheetah-v5 18, Hopper-v5 14
(alone on a core); the SAC and TD3 HalfCheetah-v5 teachers (`--teachers sac-cheetah` and `td3-cheetah`, one process
each) about 70 minutes of training each, then 13-17 minutes of distillation and evaluation.
Processes with other --teachers or --presets may run side by side: each adds its rows to the same report. The cases
above collected sampled actions (distill's default until 2026-12-07: `--collect-actions sampled` repeats them); with
another mode (today's default on Box actions: capped) a teacher's case is its own row, 'TEACHER, MODE collection'.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch
from bench_own_teachers import per_seed  # sibling scripts: scripts/ is on sys.path
from own_teachers import (
    DEFAULT_UPDATES,
    STUDENT_DRIVEN,
    TEACHERS,
    WIDTHS,
    cached,
    distil_row,
    distilled,
    teacher_files,
    teacher_reference,
)

from rl_distill.distill.budget import GAP_DROP, GAP_FLOOR, gap_still_falling
from rl_distill.distill.config import (
    AUTO_RULE,
    COLLECT_ACTIONS,
    LEGACY_COLLECT_ACTIONS,
    DistillConfig,
    collect_tag,
    resolve_collect_actions,
)
from rl_distill.distill.loop import rounds_of
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.sb3.envs import action_space
from rl_distill.sb3.presets import preset_for

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
MAX_FACTOR = 10
RULE = {"gap_drop": GAP_DROP, "gap_floor": GAP_FLOOR}
"""The rule's constants, kept in each --max-steps row: a row made under other constants is run again."""
STEPS_PER_ROUND = DistillConfig.steps_per_round


def stop_round(gaps: list[float | None], base_rounds: int) -> int | None:
    """The round count at which the rule stops a run whose gaps were ``gaps``; None: still going at their end."""
    for rounds in range(base_rounds, len(gaps) + 1):
        if not gap_still_falling(gaps[:rounds], base_rounds):
            return rounds
    return None


def logged_runs() -> list[dict[str, Any]]:
    """Every results row with per-round gaps at distill's default updates, the longest per teacher, size and seed
    (a shorter budget's gaps are the first rounds of a longer one's)."""
    longest: dict[tuple[str, str, int, int], dict[str, Any]] = {}
    for path in sorted(RESULTS.glob("*.json")):
        report = json.loads(path.read_text())
        teachers = report.get("teachers") if isinstance(report, dict) else None
        if not isinstance(teachers, dict) or path.stem == "budget-rule":
            continue
        for key, case in teachers.items():
            for row in case.get("distilled", []):
                if row.get("action_gaps") and row.get("updates_per_round") == DEFAULT_UPDATES:
                    run = (key, case["env"], row["width"], row["seed"])
                    if run not in longest or len(row["action_gaps"]) > len(longest[run]["gaps"]):
                        longest[run] = {"file": path.name, "teacher": key, "env": case["env"], "width": row["width"],
                                        "seed": row["seed"], "gaps": row["action_gaps"]}  # fmt: skip
    return list(longest.values())


def replay() -> list[dict[str, Any]]:
    rows = []
    for run in logged_runs():
        base = rounds_of(preset_for(run["env"]).distill_steps, STEPS_PER_ROUND)
        if len(run["gaps"]) < base:
            continue
        stop = stop_round(run["gaps"], base)
        rows.append({**run, "base_rounds": base, "logged_rounds": len(run["gaps"]), "stop_rounds": stop})
    return rows


def replay_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["The rule replayed on logged action gaps (5,000 steps per round, 1,000 updates per round), from the "
             "env preset's budget: the rounds at which it stops, per seed ('on' = still falling where the log "
             "ends).", "",
             "| teacher | env | student | preset budget (rounds) | logged rounds | stops after, rounds (per seed) | "
             "stops after, x the preset's |", "|---|---|---|---:|---:|---|---|"]
    groups: dict[tuple[str, str, int, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["teacher"], row["env"], row["width"], row["logged_rounds"]), []).append(row)
    for (teacher, env, width, logged), runs in sorted(groups.items()):
        base = runs[0]["base_rounds"]
        runs = sorted(runs, key=lambda r: r["seed"])
        text = " / ".join(f"seed {r['seed']}: {r['stop_rounds'] or 'on'}" for r in runs)
        factors = " / ".join("on" if r["stop_rounds"] is None else f"{r['stop_rounds'] / base:.1f}" for r in runs)
        lines.append(f"| {teacher} | {env} | {width}x{width} | {base * STEPS_PER_ROUND:,} ({base}) | {logged} | "
                     f"{text} | {factors} |")  # fmt: skip
    return lines


def preset_teacher(env: str) -> tuple[Path, None]:
    path = ROOT / "runs" / "bench-rl" / env / "teacher.zip"
    if not path.exists():
        print(f"bench_budget.py: {path} is missing: train it first with python scripts/bench_rl.py --envs {env}",
              file=sys.stderr)  # fmt: skip
        raise SystemExit(2)
    return path, None


def budget_rows(label: str, env: str, files: tuple[Path, Path | None], width: int, seed: int, episodes: int,
                fixed: dict[str, Any] | None, mode: str) -> dict[str, Any]:  # fmt: skip
    """The fixed-budget row (given, or run here) and the --max-steps row of one student, collected in ``mode``
    (resolved: ``config.COLLECTION_MODES``)."""
    teacher, stats = files
    steps = preset_for(env).distill_steps
    folder = ROOT / "runs" / "bench-budget" / label
    run = f"{width}x{width}-{seed}{collect_tag(mode)}"  # runs from before auto collection keep their names
    if fixed is None:
        config = DistillConfig(env, student_hidden=(width, width), seed=seed, steps=steps, collect=STUDENT_DRIVEN,
                               collect_actions=mode)  # type: ignore[arg-type]
        fixed = cached(folder / f"fixed-{run}", [teacher], steps, episodes,
                       lambda out: distil_row(config, teacher, stats, out, episodes))  # fmt: skip
    config = DistillConfig(env, student_hidden=(width, width), seed=seed, steps=steps, max_steps=MAX_FACTOR * steps,
                           collect=STUDENT_DRIVEN, collect_actions=mode)  # type: ignore[arg-type]
    rule = cached(folder / f"max{MAX_FACTOR}x-{run}", [teacher], MAX_FACTOR * steps, episodes,
                  lambda out: distil_row(config, teacher, stats, out, episodes), RULE)  # fmt: skip
    return {"width": width, "seed": seed, "fixed": fixed, "max_steps": rule}


def runs(teachers: list[str], presets: list[str], seeds: int, episodes: int, collect_actions: str) -> dict[str, Any]:
    """Each teacher's cases, keyed by its label, and for another collection mode than sampled by 'LABEL, MODE
    collection' (the cases made before collection modes were kept collected sampled actions)."""
    cases = {}
    for label in [*teachers, *(f"preset-{env}" for env in presets)]:
        own = label in TEACHERS
        env = TEACHERS[label]["env"] if own else label.removeprefix("preset-")
        mode = resolve_collect_actions(collect_actions, action_space(env), STUDENT_DRIVEN)
        files = teacher_files(label) if own else preset_teacher(env)
        reference = teacher_reference(*files, env, episodes)
        rows = []
        for width in WIDTHS:
            for seed in range(seeds):
                fixed = distilled(label, width, seed, episodes, collect_actions=mode) if own else None
                rows.append(budget_rows(label, env, files, width, seed, episodes, fixed, mode))
                print(f"{label} {width}x{width} seed {seed}: fixed {rows[-1]['fixed']['mean_return']:.1f}, "
                      f"--max-steps {rows[-1]['max_steps']['mean_return']:.1f} after "
                      f"{rows[-1]['max_steps']['env_steps']:,} steps", flush=True)  # fmt: skip
        key = label if mode == LEGACY_COLLECT_ACTIONS else f"{label}, {mode} collection"
        cases[key] = {"env": env, "collect_actions": mode, "reference": reference,
                      "preset_steps": preset_for(env).distill_steps, "rows": rows}  # fmt: skip
    return cases


def runs_table(cases: dict[str, Any]) -> list[str]:
    lines = [f"`distill --max-steps` ({MAX_FACTOR}x the preset's steps) beside the preset's fixed budget: score "
             "(student - random) / (teacher - random), mean ± sd over seeds (per seed), and the steps the rule "
             "collected (their mean, in the preset's).", "",
             "| teacher | env | teacher's return | student | fixed: steps | fixed: score | --max-steps: steps (per "
             "seed) | --max-steps: score | distil s, fixed / --max-steps |", "|---|---|---:|---|---:|---|---|---|---:|"]
    for label, case in cases.items():
        teacher, random = case["reference"]["teacher"]["mean_return"], case["reference"]["random"]
        for width in WIDTHS:
            rows = [r for r in case["rows"] if r["width"] == width]
            fixed, rule = (per_seed([r[kind] for r in rows], teacher, random) for kind in ("fixed", "max_steps"))
            taken = [r["max_steps"]["env_steps"] for r in rows]
            steps = f"{' / '.join(f'{n:,}' for n in taken)} ({statistics.mean(taken) / case['preset_steps']:.1f}x)"
            seconds = [statistics.mean(r[kind]["wall_seconds"] for r in rows) for kind in ("fixed", "max_steps")]
            lines.append(f"| {label} | {case['env']} | {teacher:.1f} | {width}x{width} | {case['preset_steps']:,} | "
                         f"{fixed} | {steps} | {rule} | {seconds[0]:.0f} / {seconds[1]:.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["replay", "runs", "both"], default="both",
                        help="replay the rule on logged gaps, run distillations, or both (default both)")
    parser.add_argument("--teachers", nargs="*", choices=list(TEACHERS), default=[],
                        help="teachers from plain SB3 code (own_teachers.py's keys)")
    parser.add_argument("--presets", nargs="*", default=[], help="envs whose preset PPO teacher runs/bench-rl holds")
    parser.add_argument("--collect-actions", default=DistillConfig.collect_actions, choices=COLLECT_ACTIONS,
                        help=f"how whoever acts picks its actions while collecting (default distill's, "
                        f"{DistillConfig.collect_actions}: {AUTO_RULE}; the cases made before 2026-12-07 "
                        "collected sampled ones); a case of another mode is its own row, 'TEACHER, MODE collection'")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per student size (default 3)")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per run (default 100)")
    args = parser.parse_args()
    if args.seeds <= 0 or args.episodes <= 0:
        parser.error("--seeds and --episodes must be positive")
    torch.set_num_threads(1)
    replayed = replay() if args.part in ("replay", "both") else None
    ran = runs(args.teachers, args.presets, args.seeds, args.episodes,
               args.collect_actions) if args.part in ("runs", "both") else {}  # fmt: skip
    saved = RESULTS / "budget-rule.json"
    with open(RESULTS / ".budget-rule.lock", "w") as lock:  # two runs (other teachers) may end together
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = json.loads(saved.read_text()) if saved.exists() else {}
        if replayed is not None:
            report["replay"] = replayed
        if ran:
            report.setdefault("runs", {}).update(ran)
            report["episodes"], report["seeds"] = args.episodes, args.seeds
        lines = ["# distill --max-steps", "", *replay_table(report.get("replay", []))]
        if report.get("runs"):
            lines += ["", *runs_table(report["runs"])]
        atomic_write_json(saved, report)
        atomic_write_text(RESULTS / "budget-rule.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
