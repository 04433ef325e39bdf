"""Which collection scheme and mode to default to: every (scheme, mode) pair measured on the same teachers.

Reads bench_collect_actions.py's reports (``results/STEM.json``, student-driven or DAgger-driven rows; a teacher
whose rows come from two reports, one per scheme, is one row here) and, with ``--bound-aware SECTION``, one
section of ``results/bound-aware.json`` (its 16x16 one-sided rows at 1,000 updates per round: a budget
bench_collect_actions does not run). For each teacher and budget it gives each pair's mean score over seeds and,
over the rows where every pair ran, each pair's shortfall from the best pair of the row. Nothing is run; writes
``results/STEM.{md,json}``. Session 59's comparison, which made DAgger with greedy collection distill's default for
Box actions, and the old default against the new one on every row where both ran:

    python scripts/report_collection_pairs.py
    python scripts/report_collection_pairs.py --pairs "student, capped" "dagger, greedy" --stem collection-default
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

from bench_collect_actions import SCHEME_WORDS, shortfalls  # a sibling script: scripts/ is on sys.path

from rl_distill.io import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
REPORTS = ["collect-actions-box", "collect-actions-dagger", "collect-actions-dagger-easy", "collect-actions-holdout",
           "collect-actions-dagger-holdout", "collect-actions-holdout-hard", "collect-actions-dagger-holdout-hard"]
BOUND_AWARE = ["Walker2d-v5-seed1", "Hopper-v5-200k", "Hopper-v5-sac-200k"]
PAIRS = ["student, capped", "student, greedy", "dagger, capped", "dagger, greedy"]


def report_rows(stem: str) -> list[dict[str, Any]]:
    """A bench_collect_actions report's rows as ``{env, teacher, budget, scores: {"SCHEME, MODE": per seed}}``."""
    rows = json.loads((RESULTS / f"{stem}.json").read_text())
    return [{"env": row["env"], "teacher": row["teacher"], "budget": "the preset's steps",
             "scores": {f"{row.get('collect', 'student')}, {mode}": s for mode, s in row["scores"].items()}}
            for row in rows if row["student_hidden"] == [16, 16]]  # fmt: skip


def bound_aware_row(section: str) -> dict[str, Any]:
    """One section of results/bound-aware.json: its 16x16 one-sided rows at 1,000 updates per round, by pair."""
    data = json.loads((RESULTS / "bound-aware.json").read_text())[section]
    scores: dict[str, list[float]] = {}
    steps = set()
    for row in data["rows"]:
        if row["hidden"] == "16x16" and row["bounds"] == "one-sided" and row["updates_per_round"] == 1000:
            scores.setdefault(f"{row['collect']}, {row.get('collect_actions') or 'sampled'}", []).append(row["score"])
            steps.add(row["env_steps"])
    if len(steps) != 1:
        raise ValueError(f"section {section} of results/bound-aware.json has 16x16 one-sided rows at "
                         f"{len(steps)} budgets ({sorted(steps)}), not one")
    return {"env": data["rows"][0]["env"], "teacher": data["teacher_path"], "budget": f"{steps.pop():,} steps",
            "scores": scores}


def merged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (teacher, budget), with the pairs of every report that ran it."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["teacher"], row["budget"])
        out.setdefault(key, {**row, "scores": {}})["scores"].update(row["scores"])
    return list(out.values())


def pair_words(pair: str) -> str:
    scheme, mode = pair.split(", ")
    return f"{SCHEME_WORDS[scheme]}, {mode}"


def markdown(rows: list[dict[str, Any]], pairs: list[str], command: str) -> str:
    lines = ["Every (collection scheme, collection mode) pair of `distill` on the same teachers: mean score over "
             "seeds (how many in brackets), 16x16 students, one-sided bounds, 1,000 updates per round, 100 "
             f"evaluation episodes per run. Reproduce: `{command}`.", "",
             f"| env | teacher | budget | {' | '.join(pair_words(p) for p in pairs)} |",
             f"|---|---|---|{'---:|' * len(pairs)}"]  # fmt: skip
    for row in rows:
        cells = [f"{statistics.fmean(row['scores'][p]):.3f} ({len(row['scores'][p])})" if p in row["scores"] else "-"
                 for p in pairs]  # fmt: skip
        lines.append(f"| {row['env']} | {row['teacher']} | {row['budget']} | {' | '.join(cells)} |")
    complete = [{**row, "scores": {p: row["scores"][p] for p in pairs}} for row in rows
                if all(p in row["scores"] for p in pairs)]  # fmt: skip
    if complete:
        lines += ["", f"Each pair's shortfall from the best pair's mean score of each row, over the {len(complete)} "
                  "rows where every pair ran (0: the best there):", "",
                  "| pair | mean shortfall | largest | best in |", "|---|---:|---:|---:|"]  # fmt: skip
        for pair, gaps in shortfalls(complete).items():
            lines.append(f"| {pair_words(pair)} | {statistics.fmean(gaps):.3f} | {max(gaps):.3f} | "
                         f"{sum(gap == 0 for gap in gaps)} of {len(gaps)} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", nargs="+", default=REPORTS, metavar="STEM",
                        help=f"bench_collect_actions.py reports to read (default {' '.join(REPORTS)})")
    parser.add_argument("--bound-aware", nargs="*", default=BOUND_AWARE, metavar="SECTION",
                        help="sections of results/bound-aware.json to add, each one budget (default "
                        f"{' '.join(BOUND_AWARE)}: twice the preset's steps)")
    parser.add_argument("--pairs", nargs="+", default=PAIRS, metavar="SCHEME,_MODE",
                        help=f"the pairs to compare, as 'SCHEME, MODE' (default: {'; '.join(PAIRS)})")
    parser.add_argument("--stem", default="collection-pairs", help="write results/STEM.{md,json}")
    args = parser.parse_args()
    if missing := [stem for stem in args.reports if not (RESULTS / f"{stem}.json").is_file()]:
        parser.error(f"no report results/{missing[0]}.json")
    sections = json.loads((RESULTS / "bound-aware.json").read_text()) if args.bound_aware else {}
    if missing := [section for section in args.bound_aware if section not in sections]:
        parser.error(f"no section {missing[0]!r} in results/bound-aware.json")
    try:
        extra = [bound_aware_row(section) for section in args.bound_aware]
    except ValueError as exc:
        parser.error(str(exc))
    rows = merged([row for stem in args.reports for row in report_rows(stem)] + extra)
    rows = [row for row in rows if any(p in row["scores"] for p in args.pairs)]
    command = shlex.join(["python", "scripts/report_collection_pairs.py", *sys.argv[1:]])
    atomic_write_json(RESULTS / f"{args.stem}.json", rows)
    text = markdown(rows, args.pairs, command)
    atomic_write_text(RESULTS / f"{args.stem}.md", text)
    print(text)


if __name__ == "__main__":
    main()
