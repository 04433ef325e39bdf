"""Bound-aware targets for Box actions: student-size sweeps per bound mode -> results/bound-aware.{json,md,png}.

For each env: how far its teacher's Gaussian means go past the action bounds on its own visited states
(sampled actions, as in its training), then ``rl-distill sweep`` over student widths x collection x
``--bounds`` modes x seeds. Teachers: runs/bench-rl/<env>/teacher.zip (``rl-distill teacher``), or
``--teacher ENV=ZIP`` for one trained elsewhere (e.g. scripts/train_sb3_teacher.py). Finished runs are
kept under runs/bench-bounds/<env> and skipped when the script is run again; results/bound-aware.json keeps one
section per teacher file (another teacher at the same path, e.g. retrained on another machine, moves the earlier
one's rows to "ENV (earlier teacher, RETURN)"). The Markdown opens with every teacher together: each mode's shortfall
from the best mode per comparison, per updates per round (``--report-only`` rewrites it from the JSON). Run, e.g.:
    .venv/bin/python scripts/bench_bounds.py --envs Hopper-v5 --widths 8 16 --collect dagger --workers 2
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rl_distill.cli.arguments import add_updates_per_round
from rl_distill.distill.config import (
    AUTO_RULE,
    COLLECT_ACTIONS,
    LEGACY_COLLECT_ACTIONS,
    DistillConfig,
    logged_collect_actions,
    logged_updates,
)
from rl_distill.distill.outputs import file_sha256
from rl_distill.experiments.sweep import sweep
from rl_distill.io import atomic_write, atomic_write_json, atomic_write_text
from rl_distill.losses import BOUND_MODES
from rl_distill.sb3.policies import load_policy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
COMPARED = ("one-sided", "censored", "clamp", "ignore")
"""The modes every comparison of the summary ran (band was run on few teachers)."""


def out_of_bounds(teacher_path: Path, env_id: str, steps: int = 10_000, n_envs: int = 8,
                  vecnormalize: Path | None = None) -> dict[str, Any]:
    """Fraction of the teacher's means outside the bounds, per action dimension, on its own visited states."""
    teacher = load_policy(teacher_path, env_id, vecnormalize=vecnormalize)
    rows = teacher.visited_rows(env_id, vector_steps=steps // n_envs, n_envs=n_envs, seed=12_345,
                                generator=torch.Generator().manual_seed(0))  # fmt: skip
    mean = rows.chunk(2, dim=-1)[0].numpy()
    low, high = teacher.policy.action_space.low, teacher.policy.action_space.high
    outside = (mean < low) | (mean > high)
    return {"fraction_per_dim": outside.mean(axis=0).round(3).tolist(), "fraction": float(outside.mean()),
            "max_abs_mean": float(np.abs(mean).max()), "bound": float(np.abs(high).max())}  # fmt: skip


def comparisons(report: dict[str, Any], modes: tuple[str, ...]) -> dict[tuple[int, str], list[dict[str, float]]]:
    """Per (updates per round, collection mode), one dict per comparison (a section's collection,
    student size and budget) that ran every one of ``modes``: each mode's mean score over the seeds all of them
    have."""
    found: dict[tuple[int, str], list[dict[str, float]]] = defaultdict(list)
    for entry in report.values():
        groups: dict[tuple, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
        for row in entry["rows"]:
            if row["collect"] != "scratch":
                summarised_by = (logged_updates(row), logged_collect_actions(row))
                groups[summarised_by, row["collect"], row["hidden"], row["env_steps"]][row["bounds"]][row["seed"]] = (
                    row["score"])  # fmt: skip
        for (summarised_by, *_), runs in groups.items():
            seeds = set.intersection(*(set(runs.get(mode, {})) for mode in modes))
            if seeds:
                found[summarised_by].append({mode: statistics.fmean(runs[mode][s] for s in seeds) for mode in modes})
    return dict(sorted(found.items()))


def mode_summary(report: dict[str, Any]) -> list[str]:
    """Which mode to default to: each mode's shortfall from the best of COMPARED in each comparison, and one-sided
    (the default) against plain KL wherever both ran, on their common seeds (extra seeds included)."""
    lines = ["### Which mode: every teacher together", "",
             f"Each comparison is one section's collection, student size and budget where all of {', '.join(COMPARED)} "
             "ran, scored on the seeds all of them have. Each cell: the mode's shortfall from the best of them, mean "
             "over the comparisons (largest); how many times it was the best (a tie counts for each).", "",
             "| updates per round | collection | comparisons | " + " | ".join(COMPARED) + " |",
             "|---:|---|---:|" + "---|" * len(COMPARED)]  # fmt: skip
    for (updates, collect_actions), found in comparisons(report, COMPARED).items():
        cells = []
        for mode in COMPARED:
            short = [max(c.values()) - c[mode] for c in found]
            cells.append(f"{statistics.fmean(short):.3f} ({max(short):.3f}); best {sum(s == 0 for s in short)}")
        lines.append(f"| {updates:,} | {collect_actions} | {len(found)} | " + " | ".join(cells) + " |")
    lines += ["", "One-sided (the default) minus plain KL (`ignore`), wherever both ran, on their common seeds:", "",
              "| updates per round | collection | comparisons | mean difference | one-sided ahead by > 0.02 | "
              "behind by > 0.02 |", "|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    for (updates, collect_actions), found in comparisons(report, ("one-sided", "ignore")).items():
        diff = [c["one-sided"] - c["ignore"] for c in found]
        lines.append(f"| {updates:,} | {collect_actions} | {len(found)} | {statistics.fmean(diff):+.3f} | "
                     f"{sum(d > 0.02 for d in diff)} | {sum(d < -0.02 for d in diff)} |")  # fmt: skip
    return lines + [""]


def shown_path(path: str) -> str:
    """The path relative to the repository when it is inside it (presets' sections were filed with absolute ones)."""
    return str(Path(path).relative_to(ROOT)) if Path(path).is_relative_to(ROOT) else path


def markdown(report: dict[str, Any]) -> str:
    lines = ["Bound-aware targets: score = (return − random) / (teacher − random) on fixed evaluation episodes; "
             "mean ± std over seeds, and the worst seed. `ignore` is the loss before bound-aware targets.",
             "", *mode_summary(report)]  # fmt: skip
    for env_id, entry in report.items():
        oob = entry["out_of_bounds"]
        lines += [f"### {env_id}", "",
                  f"Teacher `{shown_path(entry['teacher_path'])}`: {entry['teacher_return']:.1f}, random "
                  f"{entry['random_return']:.1f}; {entry['episodes']} episodes per run. Teacher means outside "
                  f"the bounds on its own visited states: {100 * oob['fraction']:.0f}% (per dimension "
                  f"{', '.join(f'{100 * f:.0f}%' for f in oob['fraction_per_dim'])}), largest |mean| "
                  f"{oob['max_abs_mean']:.2f} against bound {oob['bound']:.2f}.", "",
                  "| collect | hidden | distillation steps | updates per round | bounds | seeds | score | worst seed "
                  "| mean return |", "|---|---|---:|---:|---|---:|---:|---:|---:|"]  # fmt: skip
        groups: dict[tuple[str, int, int, int, str, str], list[dict]] = defaultdict(list)
        for row in entry["rows"]:
            if row["collect"] != "scratch":
                updates = logged_updates(row)
                group = (collection_label(row), row["policy_params"], row["env_steps"], updates, row["hidden"],
                         row["bounds"])
                groups[group].append(row)
        order = {mode: i for i, mode in enumerate(BOUND_MODES)}
        for (collect, _, steps, updates, hidden, bounds), rows in sorted(
                groups.items(), key=lambda kv: (*kv[0][:4], order[kv[0][5]])):  # fmt: skip
            scores = [r["score"] for r in rows]
            sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
            lines.append(f"| {collect} | {hidden} | {steps:,} | {updates:,} | {bounds} | {len(rows)} | "
                         f"{statistics.fmean(scores):.3f} ± {sd:.3f} "
                         f"| {min(scores):.3f} | {statistics.fmean(r['mean_return'] for r in rows):.1f} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def plot_series(entry: dict[str, Any]) -> dict[tuple[str, str, int], dict[int, list[float]]]:
    """A section's scores by (mode, collection, updates per round), then by student policy parameters: a section run
    at two budgets draws each apart (dotted: the fewer updates), since they differ more than modes do."""
    series: dict[tuple[str, str, int], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in entry["rows"]:
        if row["collect"] != "scratch":
            series[row["bounds"], collection_label(row), logged_updates(row)][row["policy_params"]].append(row["score"])
    return series


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(4, len(report))
    rows = -(-len(report) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 3.8 * rows), squeeze=False)
    for ax in axes.flat[len(report):]:
        ax.set_visible(False)
    for ax, (env_id, entry) in zip(axes.flat, report.items(), strict=False):
        series = plot_series(entry)
        budgets = sorted({updates for _, _, updates in series})
        for (mode, collect, updates), points in sorted(series.items()):
            sizes = sorted(points)
            label = f"{mode} ({collect}" + (f", {updates}u)" if len(budgets) > 1 else ")")
            ax.errorbar(sizes, [np.mean(points[s]) for s in sizes], yerr=[np.std(points[s]) for s in sizes],
                        color=f"C{BOUND_MODES.index(mode)}", marker="o" if collect.startswith("dagger") else "s",
                        capsize=3,
                        label=label, linestyle=":" if updates < budgets[-1] else "-")  # fmt: skip
        ax.axhline(1.0, color="black", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        sizes = sorted({s for points in series.values() for s in points})
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.set_title(env_id)
        ax.set_xlabel("student policy parameters")
        ax.set_ylabel("score (1 = teacher)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def write_report(report: dict[str, Any]) -> None:
    """results/bound-aware.{md,png} from the report (its JSON is written by whoever changed it)."""
    atomic_write_text(RESULTS / "bound-aware.md", markdown(report))
    plot(report, RESULTS / "bound-aware.png")


def collection_label(row: dict[str, Any]) -> str:
    """Who acted while collecting, and how where it was not sampled (rows from before the mode was kept: sampled)."""
    mode = logged_collect_actions(row)
    return row["collect"] + ("" if mode == LEGACY_COLLECT_ACTIONS else f", {mode}")


def row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (collection_label(row), row["hidden"], row["bounds"], row["env_steps"], row["seed"],
            logged_updates(row))  # fmt: skip


def same_teacher(earlier: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether ``earlier`` was measured against ``entry``'s teacher: the same file digest, or the same return on the
    same fixed evaluation episodes. The return also covers entries written before the digest was kept, and a teacher
    trained again to the same weights (SB3 stamps the save time into the zip, so its digest changes); a teacher
    retrained on another machine returns otherwise."""
    return (earlier.get("teacher_sha256") == entry["teacher_sha256"]
            or earlier.get("teacher_return") == entry["teacher_return"])  # fmt: skip


def file_entry(report: dict[str, Any], env_id: str, entry: dict[str, Any]) -> None:
    """Files ``entry`` as ``env_id`` of ``report``. Rows run before against the same teacher and not run again
    (other widths, schemes, budgets) are kept; an earlier teacher's section moves to "ENV (earlier teacher,
    RETURN)", and that of an earlier run of this teacher, if there is one, comes back with the new rows."""
    label = lambda section: f"{env_id} (earlier teacher, {section['teacher_return']:.1f})"  # noqa: E731
    earlier = report.get(env_id)
    if earlier and not same_teacher(earlier, entry):
        report[label(earlier)] = earlier
        earlier = report.pop(label(entry), None)
    fresh = {row_key(r) for r in entry["rows"]}
    kept = [r for r in (earlier or {}).get("rows", []) if row_key(r) not in fresh]
    report[env_id] = {**entry, "rows": kept + entry["rows"]}


def env_value(text: str) -> tuple[str, str]:
    """``ENV=VALUE`` of --teacher, --vecnormalize and --section; argparse turns the error into a one-line exit 2."""
    env, sep, value = text.partition("=")
    if not (env and sep and value):
        raise argparse.ArgumentTypeError(f"expected ENV=VALUE, e.g. Walker2d-v5=runs/x/teacher.zip, got {text!r}")
    return env, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["Pendulum-v1", "Hopper-v5", "HalfCheetah-v5"],
                        help="environments (their preset teachers, or --teacher ENV=ZIP)")
    parser.add_argument("--teacher", action="append", default=[], type=env_value, metavar="ENV=ZIP",
                        help="a teacher trained elsewhere")
    parser.add_argument("--vecnormalize", action="append", default=[], type=env_value, metavar="ENV=PKL",
                        help="that teacher's VecNormalize statistics, when not where rl-distill looks for them")
    parser.add_argument("--section", action="append", default=[], type=env_value, metavar="ENV=NAME",
                        help="file ENV's runs as section NAME, under runs/bench-bounds/NAME (default: ENV): another "
                             "teacher of an env that already has a section, kept beside it")
    parser.add_argument("--widths", type=int, nargs="+", default=[4, 8, 16, 32, 64],
                        help="student widths: two hidden layers of each")
    parser.add_argument("--collect", nargs="+", default=["student", "dagger"], help="who acts while collecting")
    parser.add_argument("--collect-actions", default=DistillConfig.collect_actions, choices=COLLECT_ACTIONS,
                        help=f"how whoever acts picks its actions while collecting (default distill's, "
                        f"{DistillConfig.collect_actions}: {AUTO_RULE}; results/bound-aware was made with sampled, "
                        "distill's until 2026-12-07, and greedy); rows of another mode than sampled are compared "
                        "apart, as 'COLLECT, MODE'")
    parser.add_argument("--modes", nargs="+", default=list(BOUND_MODES), choices=BOUND_MODES,
                        help="bound modes of the Gaussian target (ignore: plain KL)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per run")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per run")
    parser.add_argument("--steps", type=int, default=None, help="distillation steps (default: the preset's)")
    parser.add_argument("--workers", type=int, default=None, help="parallel runs (default: one per core)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite results/bound-aware.{md,png} from its JSON, nothing run")
    add_updates_per_round(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    teachers, sections, statistics_files = dict(args.teacher), dict(args.section), dict(args.vecnormalize)
    path = RESULTS / "bound-aware.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    if args.report_only:
        write_report(report)
        return
    for env_id in args.envs:
        teacher = Path(teachers.get(env_id, ROOT / "runs" / "bench-rl" / env_id / "teacher.zip"))
        section = sections.get(env_id, env_id)
        stats = Path(statistics_files[env_id]) if env_id in statistics_files else None
        table = sweep(env_id, teacher, [(w, w) for w in args.widths], args.collect, args.seeds,
                      out=ROOT / "runs" / "bench-bounds" / section, steps=args.steps, episodes=args.episodes,
                      bounds=args.modes, collect_actions=[args.collect_actions],
                      updates_per_round=args.updates_per_round, workers=args.workers,
                      vecnormalize=stats)  # fmt: skip
        entry = {"teacher_path": str(teacher), "teacher_sha256": file_sha256(teacher),
                 "teacher_return": table["teacher"]["mean_return"], "episodes": args.episodes,
                 "random_return": table["random_mean_return"], "rows": table["rows"],
                 "out_of_bounds": out_of_bounds(teacher, env_id, vecnormalize=stats)}  # fmt: skip
        report = json.loads(path.read_text()) if path.exists() else {}  # another env's run may have written since
        file_entry(report, section, entry)
        atomic_write_json(path, report)
        write_report(report)
        print(markdown({section: report[section]}), flush=True)


if __name__ == "__main__":
    main()
