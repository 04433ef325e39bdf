"""The report of scripts/bench_kickstart.py: results/kickstart.md's tables and one learning-curve plot per case."""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kickstart_names import BEST, NAMED, UNNAMED_BEST_EPISODES  # sibling scripts: scripts/ is on sys.path

from rl_distill.evaluation.plots import draw_mean_band
from rl_distill.io import atomic_write
from rl_distill.kickstart.config import KickstartConfig


def steps_to(run: dict[str, Any], target: float) -> int | None:
    return next((s for s, r in zip(run["curve_steps"], run["curve_returns"], strict=True)
                 if r is not None and r >= target), None)  # fmt: skip


def chosen_checkpoint(case: dict[str, Any]) -> str:
    """The early teacher's scan, told: which checkpoint it chose and how it scored (empty without a scan)."""
    scan = case.get("teacher_scan", [])
    if not scan:
        return ""
    last = scan[-1]
    sampled = f", {last['sampled_score']:.2f} sampled" if "sampled_score" in last else ""
    episodes = f" on {case['teacher_scan_episodes']} episodes" if "teacher_scan_episodes" in case else ""
    return (f" The teacher is the preset PPO's checkpoint at {last['steps']:,} steps (seed {last['seed']}), scoring "
            f"{last['score']:.2f} greedy{sampled}{episodes}, the first in range of the {len(scan)} checkpoints "
            "scanned.")  # fmt: skip


def scratch_finals(case: dict[str, Any]) -> dict[str, float]:
    """Each PPO-from-scratch variant's mean final return ("scratch", "scratch + scaled rewards: True"...)."""
    methods = dict.fromkeys(r["method"] for r in case["runs"] if r["method"].startswith("scratch"))
    return {m: statistics.fmean(r["mean_return"] for r in case["runs"] if r["method"] == m) for m in methods}


def scratch_twin(method: str, finals: dict[str, float]) -> str:
    """The scratch variant a row is measured against: the one whose variant label (what follows "scratch", e.g.
    " + scaled rewards: True") the row's method carries too, the longest such; else plain scratch, else the
    first."""
    alike = [m for m in finals if m.removeprefix("scratch") in method]
    if alike:
        return max(alike, key=len)
    return "scratch" if "scratch" in finals else next(iter(finals))


def student_size(case: dict[str, Any]) -> str:
    """``"16x16"``; reports written before cases could set the size have no ``student_hidden``: all 16x16."""
    return "x".join(str(h) for h in case.get("student_hidden", (16, 16)))


def markdown(report: dict[str, Any]) -> str:
    lines = ["Kickstart vs PPO from scratch vs distillation alone: 16x16 students (unless a case says otherwise), "
             "mean ± std over seeds of each run's mean return on 100 fixed evaluation episodes; score = (return − "
             "random) / (full teacher − random); median episode's score: the score of each run's median episode, "
             "mean over seeds (a tail of failed episodes pulls the mean below it). Learning curves: 5 greedy "
             "episodes every 1/20 of the budget (distill: after each round; kickstart and distill replay the same "
             "5 seeded episodes each time, PPO from scratch gets new ones from SB3's EvalCallback, so its curve is "
             "noisier and reaches a level sooner by chance); runs marked 'best checkpoint' evaluate "
             f"{UNNAMED_BEST_EPISODES} (or as many as their label says) and end with the policy of their best curve "
             "point instead of the last. Curve episodes are seeded apart from the "
             "evaluation's (runs made before best checkpoints existed: the evaluation's first 5). "
             "Kickstart runs from a distilled student count the "
             "distillation's env steps in their curves and step counts. Env steps/s: training only (PPO from "
             "scratch: SB3's EvalCallback time included). Reproduce: `python scripts/bench_kickstart.py`.",
             ""]  # fmt: skip
    for name, case in report.items():
        span = case["full_teacher"] - case["random"]
        target = case["random"] + 0.9 * span
        finals = scratch_finals(case)
        ends = " and ".join(f"{final:.1f}" + ("" if method == "scratch" else f" ({method})")
                            for method, final in finals.items())  # fmt: skip
        if len(finals) > 1:
            ends += ("; a row's steps to scratch's final return count to that of the scratch run with its variant "
                     "label (rewards, best checkpoint)")
        low, high = case.get("teacher_ci95", [float("nan")] * 2)
        length = ""  # reports written before these fields have none of them
        if "full_teacher_mean_length" in case:
            length += (f"; episodes last {case['teacher_mean_length']:.0f} and "
                       f"{case['full_teacher_mean_length']:.0f} steps on average")  # fmt: skip
        if "teacher_median" in case:
            length += f"; the teacher's median episode {case['teacher_median']:.1f}"
        hidden = student_size(case)
        lines += [f"### {name}: {case['env']}" + (f", {hidden} students" if hidden != "16x16" else ""), "",
                  f"Teacher {case['teacher']:.1f} (95% CI {low:.1f} to {high:.1f}; full teacher "
                  f"{case['full_teacher']:.1f}{length}), random {case['random']:.1f}; budget {case['budget']:,} env "
                  f"steps for scratch and kickstart; "
                  + (f"PPO from scratch ends at {ends}." if ends else "no PPO from scratch run (`--no-scratch`).")
                  + chosen_checkpoint(case), "",
                  "| method | seeds | mean return | score (per seed) | median episode's score | lowest seed (its 95% "
                  "CI) | steps to score 0.9 | steps to scratch's final return | env steps/s | wall s |",
                  "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]  # fmt: skip
        for method in dict.fromkeys(r["method"] for r in case["runs"]):
            runs = [r for r in case["runs"] if r["method"] == method]
            returns = [r["mean_return"] for r in runs]
            sd = statistics.stdev(returns) if len(returns) > 1 else 0.0
            worst = min(runs, key=lambda r: r["mean_return"])
            rate = [r["steps_per_second"] for r in runs if r.get("steps_per_second")]
            per_seed = " / ".join(f"{(r['mean_return'] - case['random']) / span:.3f}" for r in runs)
            medians = [(statistics.median(r["returns"]) - case["random"]) / span for r in runs if "returns" in r]
            median = f"{statistics.fmean(medians):.3f}" if len(medians) == len(runs) else "-"  # older runs: none
            baseline = reached(runs, finals[scratch_twin(method, finals)]) if finals else "-"
            lines.append(f"| {method} | {len(runs)} | {statistics.fmean(returns):.1f} ± {sd:.1f} | "
                         f"{(statistics.fmean(returns) - case['random']) / span:.3f} ({per_seed}) | {median} | "
                         f"{worst['mean_return']:.1f} "
                         f"({worst['ci95'][0]:.1f} to {worst['ci95'][1]:.1f}) | {reached(runs, target)} | "
                         f"{baseline} | {f'{statistics.fmean(rate):,.0f}' if rate else '-'} | "
                         f"{statistics.fmean(r['wall_seconds'] for r in runs):.0f} |")  # fmt: skip
        traced = [r for r in case["runs"] if "lambda_zero_at" in r]
        if traced:
            zero = lambda at: "λ never 0" if at is None else f"λ first 0 at {int(at):,}"  # noqa: E731
            ev = lambda at: "never 0.5" if at is None else f"0.5 from {int(at):,}"  # noqa: E731
            lines += ["", "Teacher term per kickstart run: " + "; ".join(
                f"{r['method']} seed {r['seed']}: {zero(r['lambda_zero_at'])}"
                + (f", λ mean {r['lambda_mean']:.2f}" if "lambda_mean" in r else "")  # runs reported before it
                + f", D {r['term_first']:.2f} → {r['term_last']:.2f}"
                + (f", critic's explained variance {ev(r['critic_fit_at'])}" if "critic_fit_at" in r else "")
                + (f", teacher's reference {r['reference']['teacher']:.1f} on {r['reference']['episodes']} episodes"
                   if "reference" in r else "") for r in traced) + "."]  # fmt: skip
        kept = [r for r in case["runs"] if "kept_at" in r]
        if kept:
            lines += ["", "Kept checkpoint per best-checkpoint run (curve steps): " + "; ".join(
                f"{r['method']} seed {r['seed']}: {r['kept_at']:,}" for r in kept) + "."]  # fmt: skip
        lines.append("")
    return "\n".join(lines + settings_table(report) + best_checkpoint_table(report) + one_setting_tables(report))


DECAY, WARMUP = NAMED["lr_decay"].label_of(True), NAMED["critic_warmup"].label_of(20_000)
SETTINGS = {"defaults": "", "--lr-decay": DECAY, "--critic-warmup 20000": WARMUP, "both": DECAY + WARMUP}


def settings_table(report: dict[str, Any]) -> list[str]:
    """``kickstart adaptive:1`` with each of SETTINGS from the same distilled students, one row per case and
    distillation that has all four, over the seeds every one of the five methods has (mean score, per seed)."""
    rows = []
    for name, case in report.items():
        span = case["full_teacher"] - case["random"]
        for distill in dict.fromkeys(r["method"] for r in case["runs"] if r["method"].startswith("distill")):
            start = distill.removeprefix("distill")
            methods = [distill] + [f"kickstart adaptive:1{extra}{' after distill' + start if start else ''}"
                                   for extra in SETTINGS.values()]  # fmt: skip
            by_method = [{r["seed"]: r for r in case["runs"] if r["method"] == m} for m in methods]
            seeds = sorted(set.intersection(*(set(runs) for runs in by_method)))
            if not seeds:
                continue
            cells = []
            for runs in by_method:
                scores = [(runs[s]["mean_return"] - case["random"]) / span for s in seeds]
                cells.append(f"{statistics.fmean(scores):.3f} ({' / '.join(f'{x:.3f}' for x in scores)})")
            rows.append(f"| {name}, {student_size(case)}, {distill} | {', '.join(map(str, seeds))} | "
                        + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["### Settings after --init", "",
            "`kickstart adaptive:1` from the same distilled students with and without `--lr-decay` and "
            "`--critic-warmup 20000`; score, mean over the seeds all five rows have (per seed).", "",
            "| case, student, start | seeds | distill alone | "
            + " | ".join(f"kickstart, {s}" for s in SETTINGS) + " |",
            "|---|---|---:|" + "---:|" * len(SETTINGS), *rows, ""]


def twin_rows(report: dict[str, Any], twin_of: Callable[[str], tuple[str, str] | None]) -> list[str]:
    """One table row per method that ``twin_of`` pairs with another, as (twin, detail): the same seeds and
    settings but one, side by side over the seeds both have (mean score, per seed, how many under 0.95)."""
    rows = []
    for name, case in report.items():
        span = case["full_teacher"] - case["random"]
        for method in dict.fromkeys(r["method"] for r in case["runs"]):
            if (twin := twin_of(method)) is None:
                continue
            pair = [{r["seed"]: r for r in case["runs"] if r["method"] == m} for m in (twin[0], method)]
            seeds = sorted(set(pair[0]) & set(pair[1]))
            if not seeds:
                continue
            cells = []
            for runs in pair:
                scores = [(runs[s]["mean_return"] - case["random"]) / span for s in seeds]
                low = sum(x < 0.95 for x in scores)
                cells.append(f"{statistics.fmean(scores):.3f} ({' / '.join(f'{x:.3f}' for x in scores)}); {low} "
                             "under 0.95")  # fmt: skip
            rows.append(f"| {name}, {student_size(case)} | {twin[0]} | {twin[1]} | {', '.join(map(str, seeds))} | "
                        + " | ".join(cells) + " |")  # fmt: skip
    return rows


def best_checkpoint_table(report: dict[str, Any]) -> list[str]:
    """Each method beside its best-checkpoint twin: the same training runs, ending with the last policy or with
    the best curve point's."""

    def twin_of(method: str) -> tuple[str, str] | None:
        last, _, episodes = method.partition(BEST)
        return (last, episodes.removeprefix(" of ") or str(UNNAMED_BEST_EPISODES)) if last != method else None

    rows = twin_rows(report, twin_of)
    if not rows:
        return []
    return ["### Last policy or best checkpoint", "",
            "Runs of the same seeds and settings ending with their last policy or with the policy of their best "
            "learning-curve point (`--keep-best`; validation episodes per point as the table says, seeded apart from "
            "the 100 evaluation episodes). The choice does not change training: a kickstart run's last policy is "
            "bit-identical to its twin's. Score, mean over the seeds both have (per seed).", "",
            "| case, student | method | validation episodes | seeds | last policy | best checkpoint |",
            "|---|---|---:|---|---:|---:|", *rows,
            ""]  # fmt: skip


UNNAMED_REFERENCE = NAMED["reference_episodes"].unnamed
ONE_SETTING = [  # (the setting; title; what the table compares; columns)
    (NAMED["log_std_init"], "Exploration noise after --init",
     "Kickstart from the same distilled students, starting with their own Gaussian log std (distill copies the "
     "teacher's) or with `--log-std-init LOG_STD` (-0.5: a fresh student's).",
     ("LOG_STD", "the teacher's noise", "--log-std-init LOG_STD")),
    (NAMED["reference_episodes"], "The adaptive reference's episodes",
     f"Kickstart `adaptive:1` with its teacher and random reference returns measured on {UNNAMED_REFERENCE} "
     f"episodes (the default until it became {KickstartConfig('').reference_episodes}) or on "
     "`--reference-episodes N`.",
     ("N", f"{UNNAMED_REFERENCE} episodes", "--reference-episodes N")),
    (NAMED["critic_init"], "The teacher's critic",
     "Kickstart with a fresh value function, or with the teacher's (`--critic-init teacher`: its sizes and weights, "
     "on the rewards the teacher's PPO saw).",
     ("start", "a fresh critic", "--critic-init teacher")),
    (NAMED["average_steps"], "Weight averaging",
     "Kickstart evaluating, keeping and writing PPO's own iterate, or a moving average of its iterates "
     "(`--average-steps STEPS`: the time constant in env steps; PPO trains its iterate either way).",
     ("STEPS", "the iterate", "--average-steps STEPS")),
]  # fmt: skip


def one_setting_tables(report: dict[str, Any]) -> list[str]:
    """For each of ONE_SETTING, every run beside its twin without that setting (the same seeds and the rest)."""
    lines = []
    for setting, title, intro, (value, without, with_it) in ONE_SETTING:
        pattern = setting.pattern()

        def twin_of(method: str, pattern: re.Pattern[str] = pattern) -> tuple[str, str] | None:
            found = pattern.search(method)
            return (pattern.sub("", method), found.group(1)) if found else None

        rows = twin_rows(report, twin_of)
        if rows:
            lines += [f"### {title}", "", f"{intro} Score, mean over the seeds both have (per seed).", "",
                      f"| case, student | method | {value} | seeds | {without} | {with_it} |",
                      "|---|---|---:|---|---:|---:|", *rows, ""]  # fmt: skip
    return lines


def reached(runs: list[dict[str, Any]], target: float) -> str:
    """Median over seeds of the first curve point at or above ``target`` (and how many seeds got there)."""
    steps = [s for s in (steps_to(r, target) for r in runs) if s is not None]
    return f"{statistics.median(steps):,.0f} ({len(steps)}/{len(runs)})" if steps else f"not reached (0/{len(runs)})"


def plot(name: str, case: dict[str, Any], path: Path) -> None:
    """Learning curves, mean ± sd over seeds. With more than one distill or kickstart variant, the left panel
    keeps scratch and the best of each (by final return) and the right one compares every variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    methods = list(dict.fromkeys(r["method"] for r in case["runs"]))
    final = {m: statistics.fmean(r["mean_return"] for r in case["runs"] if r["method"] == m) for m in methods}
    best = [max(group, key=final.__getitem__) for kind in ("distill", "kickstart")
            if (group := [m for m in methods if m.startswith(kind)])]  # fmt: skip
    scratch = [m for m in methods if m.startswith("scratch")]
    panels = [methods] if len(methods) <= 3 else [[m for m in methods if m in scratch or m in best],
                                                  [m for m in methods if m not in scratch]]  # fmt: skip
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 4.2), squeeze=False,
                             gridspec_kw={"wspace": 0.3})
    palette = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")  # one colour per method, in both panels
    for ax, shown in zip(axes[0], panels, strict=True):
        for method in shown:
            curves = [(r["curve_steps"], r["curve_returns"]) for r in case["runs"] if r["method"] == method]
            draw_mean_band(ax, curves, label=method, color=to_hex(palette(methods.index(method) % palette.N)))
        ax.axhline(case["teacher"], color="black", linestyle="--", label="teacher")
        if case["full_teacher"] != case["teacher"]:
            ax.axhline(case["full_teacher"], color="black", linestyle=":", label="full teacher")
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k")  # plain counts overlap at this width
        ax.set_ylabel("greedy evaluation return")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14))  # below: long labels hide no curve
        ax.grid(alpha=0.3)
    hidden = student_size(case)
    axes[0][0].set_title(f"{name}: {hidden} student" + (", best variants" if len(panels) > 1 else ""))
    if len(panels) > 1:
        axes[0][1].set_title(f"{name}: every distill and kickstart variant")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
