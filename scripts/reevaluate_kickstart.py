"""How much of a benchmark seed's score is evaluation noise: re-evaluate finished runs on more episodes.

``scripts/bench_kickstart.py`` scores every run on 100 fixed evaluation episodes. Where a student loses a
few whole episodes in 100 (HalfCheetah-v5: a cheetah stuck for the rest of the episode), one seed's score
moves by a few hundredths with the episodes drawn, so "every seed at 0.95" is partly a draw. This script takes
the runs of one case in ``results/kickstart/`` whose method contains any of the ``--methods`` texts,
evaluates them and the case's teacher and random policy on ``--episodes`` episodes (which include the
benchmark's 100: each evaluation env plays its first ten again), and writes
``results/kickstart-reevaluated-<case>.{md,json}`` (or ``--stem``). About 30 s per 500 HalfCheetah-v5
episodes of a 16x16 student on one core.

With ``--validation-episodes N`` each run is also played on the N validation episodes its learning curves use
(``VALIDATION_SEED``): a run that kept its best curve point (``--keep-best``) chose it on those very episodes,
so their return against the 100 evaluation episodes' is the optimism of that choice; a run that kept its last
policy shows how far two sets of episodes differ with no choice made. ``--episodes 100`` then plays no more
evaluation episodes than the benchmark's.

A run's folder and a case's teacher path are reused when a teacher is trained again, so the files there
may no longer be the ones a section of ``results/kickstart/`` scored (an "earlier teacher" section's
above all). Each teacher and run is therefore first played on the benchmark's 100 episodes again, and the
script stops with exit status 2 unless it returns exactly what the JSON records. The session-32 table:

    python scripts/reevaluate_kickstart.py --case HalfCheetah-v5 --episodes 500 \\
        --methods "distill 1,000,000 steps, clamp bounds, greedy collection"

(the greedy-collected students and every kickstart run from them, whose methods end in that text).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

import torch
from kickstart_store import load_report

from rl_distill.evaluation.compare import score
from rl_distill.evaluation.evaluate import EvalResult, evaluate, evaluate_random
from rl_distill.io import atomic_write_json, atomic_write_text, with_extension
from rl_distill.sb3.envs import VALIDATION_SEED
from rl_distill.sb3.policies import LoadedPolicy, load_policy

RESULTS = Path(__file__).resolve().parent.parent / "results"
BENCHMARK_EPISODES = 100


class NotTheScoredPolicy(ValueError):
    """The file at a recorded path is not the policy the benchmark scored there (trained again since)."""


def scored_policy(path: str | None, env: str, recorded_return: float, episodes: int,
                  what: str) -> tuple[LoadedPolicy, EvalResult]:  # fmt: skip
    """Load ``path`` after checking that it returns ``recorded_return`` on the benchmark's ``episodes`` again
    (that evaluation is returned with it)."""
    if path is None or not Path(path).exists():
        raise NotTheScoredPolicy(f"{what}: {path or 'no file recorded'} is missing (runs/ stays on the machine that "
                                 "trained it)")
    policy = load_policy(path, env)
    again = evaluate(policy, env, episodes=episodes)
    if not math.isclose(again.mean_return, recorded_return, rel_tol=1e-9, abs_tol=1e-6):
        raise NotTheScoredPolicy(f"{what}: {path} returns {again.mean_return:.1f} on the benchmark's {episodes} "
                                 f"episodes, not the {recorded_return:.1f} results/kickstart/ records: it was "
                                 "trained again since")
    return policy, again


def chosen_runs(case: dict[str, Any], methods: list[str], exact: bool = False) -> list[dict[str, Any]]:
    """The case's runs whose method contains any of ``methods`` (``exact``: is one of them)."""
    return [run for run in case["runs"] if any(text == run["method"] or not exact and text in run["method"]
                                               for text in methods)]  # fmt: skip


def reevaluate(case: dict[str, Any], methods: list[str], episodes: int, validation_episodes: int = 0,
               exact: bool = False) -> dict[str, Any]:  # fmt: skip
    """Raises :class:`NotTheScoredPolicy` before evaluating anything long when a file has changed."""
    env = case["env"]
    chosen = chosen_runs(case, methods, exact)
    scored = case.get("episodes", BENCHMARK_EPISODES)

    def more_episodes(policy: LoadedPolicy, benchmarks: EvalResult) -> EvalResult:
        return benchmarks if episodes == scored else evaluate(policy, env, episodes=episodes)

    teacher_policy, teacher_scored = scored_policy(case["teacher_path"], env, case["teacher"], scored,
                                                   "the case's teacher")  # fmt: skip
    policies = [scored_policy(run["path"], env, run["mean_return"], scored, f"{run['method']} seed {run['seed']}")
                for run in chosen]  # fmt: skip
    teacher = more_episodes(teacher_policy, teacher_scored)
    random = evaluate_random(env, episodes=episodes).mean_return
    rows = []
    for run, (policy, scored_result) in zip(chosen, policies, strict=True):
        result = more_episodes(policy, scored_result)
        row = {"method": run["method"], "seed": run["seed"],
               "benchmark_score": score(run["mean_return"], case["teacher"], case["random"]),
               "score": score(result.mean_return, teacher.mean_return, random),
               "score_ci95": [score(end, teacher.mean_return, random) for end in result.ci95],
               "mean_return": result.mean_return, "returns": [round(r, 1) for r in result.returns]}  # fmt: skip
        if validation_episodes:  # against the benchmark's teacher and random, as benchmark_score is
            validation = evaluate(policy, env, episodes=validation_episodes, seed=VALIDATION_SEED).mean_return
            row["validation_score"] = score(validation, case["teacher"], case["random"])
        rows.append(row)
        on_validation = f", {row['validation_score']:.3f} on the validation ones" if validation_episodes else ""
        print(f"{run['method']} seed {run['seed']}: {row['benchmark_score']:.3f} on 100 episodes, "
              f"{row['score']:.3f} on {episodes}{on_validation}", flush=True)  # fmt: skip
    return {"env": env, "episodes": episodes, "teacher": teacher.mean_return, "teacher_ci95": list(teacher.ci95),
            "benchmark_teacher": case["teacher"], "random": random, "validation_episodes": validation_episodes,
            "rows": rows}  # fmt: skip


def markdown(name: str, table: dict[str, Any]) -> str:
    n, v = table["episodes"], table.get("validation_episodes", 0)
    more = n != BENCHMARK_EPISODES  # else the benchmark's own episodes only: no second column of the same scores
    against = ([f"{n}"] if more else []) + ([f"the learning curves' {v} validation episodes"] if v else [])
    lines = [f"# {name}: the benchmark's 100 evaluation episodes against {' and '.join(against)}", "",
             f"Teacher {table['teacher']:.1f} on {n} episodes (95% CI {table['teacher_ci95'][0]:.1f} to "
             f"{table['teacher_ci95'][1]:.1f}; {table['benchmark_teacher']:.1f} on the benchmark's 100), random "
             f"{table['random']:.1f}. Scores on {n} episodes are against the teacher's and random policy's on {n}"
             + (f"; on the {v} validation episodes (those a kept best point was chosen on), against the benchmark's"
                if v else "") + ".", ""]  # fmt: skip

    def table_lines(header: list[str], rows: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1),
                *("| " + " | ".join(row) + " |" for row in rows)]  # fmt: skip

    header = ["method", "seed", "score, 100 episodes", *([f"score, {n} episodes"] if more else []), "its 95% CI",
              *([f"score, {v} validation episodes"] if v else [])]  # fmt: skip
    rows = [[row["method"], str(row["seed"]), f"{row['benchmark_score']:.3f}",
             *([f"{row['score']:.3f}"] if more else []), "{:.3f} to {:.3f}".format(*row["score_ci95"]),
             *([f"{row['validation_score']:.3f}"] if v else [])] for row in table["rows"]]  # fmt: skip
    lines += table_lines(header, rows) + [""]
    header = ["method", "seeds", "mean score, 100 episodes", "seeds at 0.95",
              *([f"mean score, {n} episodes", "seeds at 0.95"] if more else []),
              *(["validation − 100 episodes: mean (runs higher on validation)"] if v else [])]  # fmt: skip
    rows = []
    for method in dict.fromkeys(row["method"] for row in table["rows"]):
        runs = [row for row in table["rows"] if row["method"] == method]
        cells = [method, str(len(runs))]
        for key in ("benchmark_score", "score") if more else ("benchmark_score",):
            scores = [row[key] for row in runs]
            cells += [f"{statistics.mean(scores):.3f}", str(sum(s >= 0.95 for s in scores))]
        if v:
            gaps = [row["validation_score"] - row["benchmark_score"] for row in runs]
            cells.append(f"{statistics.mean(gaps):+.3f} ({sum(g > 0 for g in gaps)} of {len(gaps)})")
        rows.append(cells)
    return "\n".join(lines + table_lines(header, rows)) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", required=True, help="a case of results/kickstart/, e.g. HalfCheetah-v5")
    parser.add_argument("--methods", nargs="+", default=[], help="texts a run's method must contain (any)")
    parser.add_argument("--exact", action="store_true",
                        help="--methods are whole methods, not parts (a method that others contain, alone)")
    parser.add_argument("--episodes", type=int, default=500, help="evaluation episodes per run (default 500)")
    parser.add_argument("--validation-episodes", type=int, default=0,
                        help="also play each run on N validation episodes, those of its learning curves when N is "
                             "theirs (50 unless the run says otherwise), which a kept best point was chosen on; 0: not")
    parser.add_argument("--stem", default=None,
                        help="output name under results/ (default kickstart-reevaluated-<case>)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the case's Markdown from its JSON, nothing evaluated")
    args = parser.parse_args()
    stem = RESULTS / (args.stem or f"kickstart-reevaluated-{args.case}")
    if args.report_only:
        table = json.loads(with_extension(stem, ".json").read_text())
        atomic_write_text(with_extension(stem, ".md"), markdown(args.case, table))
        return
    torch.set_num_threads(1)
    cases = load_report(RESULTS / "kickstart")
    if args.case not in cases:
        parser.error(f"no case {args.case!r} in results/kickstart/; one of {', '.join(cases)}")
    if not args.methods:
        parser.error("--methods: name at least one text a run's method contains")
    if args.episodes < BENCHMARK_EPISODES:
        parser.error(f"--episodes must be at least the benchmark's {BENCHMARK_EPISODES}, got {args.episodes}")
    if args.validation_episodes < 0:
        parser.error(f"--validation-episodes must be 0 or more, got {args.validation_episodes}")
    if not chosen_runs(cases[args.case], args.methods, args.exact):
        parser.error(f"no run of {args.case} has a method {'equal to' if args.exact else 'containing'} any of "
                     f"{args.methods}")
    try:
        table = reevaluate(cases[args.case], args.methods, args.episodes, args.validation_episodes, args.exact)
    except NotTheScoredPolicy as exc:
        parser.exit(2, f"error: {exc}; re-run its case of scripts/bench_kickstart.py first\n")
    atomic_write_json(with_extension(stem, ".json"), table)
    atomic_write_text(with_extension(stem, ".md"), markdown(args.case, table))
    print(f"wrote {stem}.md and .json")


if __name__ == "__main__":
    main()
