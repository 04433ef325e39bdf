"""The two pictures users choose a student by: return vs size, and learning curves vs PPO from scratch."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rl_distill.errors import InputError
from rl_distill.io import atomic_write


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)


Curve = tuple[Sequence[float], Sequence[float | None]]
"""One run's learning curve: evaluation steps and returns (None where a run has no value)."""


def draw_mean_band(ax: Any, curves: Sequence[Curve], *, label: str, color: str | None = None) -> None:
    """Mean ± sd over runs of one method, each run interpolated onto the first run's evaluation steps."""
    grid = np.asarray(curves[0][0], dtype=float)
    values = np.asarray([np.interp(grid, steps, [np.nan if v is None else v for v in returns])
                         for steps, returns in curves])  # fmt: skip
    mean, sd = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    (line,) = ax.plot(grid, mean, label=label, color=color, zorder=3)  # above reference lines it may sit on
    ax.fill_between(grid, mean - sd, mean + sd, alpha=0.2, color=line.get_color(), zorder=2)


def compact_count(value: float, _position: object = None) -> str:
    """1500 -> "1.5k", 50000 -> "50k", 2e6 -> "2M": tick labels that stay short on a log axis."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def step_axis(ax: Any) -> None:
    """A log x axis of environment steps (call it once the curves are drawn) labelled in compact counts (2k, 50k,
    1M), at 1, 2 and 5 per decade on a short range, fewer on a longer one: matplotlib's own labels on a short
    range also label minor ticks ("3x10^3 4x10^3"), which overlap."""
    import matplotlib.ticker as ticker

    ax.set_xscale("log")
    low, high = ax.get_xlim()
    decades = np.log10(high / low) if low > 0 else math.inf
    subs = (1.0, 2.0, 5.0) if decades <= 3 else (1.0, 3.0) if decades <= 4.5 else (1.0,)
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(compact_count))
    ax.xaxis.set_minor_locator(ticker.LogLocator(base=10, subs=tuple(range(2, 10))))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def plot_curves(curves: dict[str, list[Curve]], path: Path, *, title: str, references: dict[str, float]) -> None:
    """One panel: each method's learning curve (mean ± sd over its runs) and horizontal reference returns
    (teacher, random policy) on a log step axis, where a short distillation and a long PPO run both show."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, runs in curves.items():
        if runs and len(runs[0][0]):
            draw_mean_band(ax, runs, label=label)
    for (label, value), style in zip(references.items(), ("--", ":", "-."), strict=False):
        ax.axhline(value, color="black" if style == "--" else "grey", linestyle=style, label=label)
    step_axis(ax)
    ax.set_xlabel("environment steps (log scale)")
    ax.set_ylabel("greedy evaluation return")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def series(row: dict[str, Any], table: dict[str, Any]) -> str:
    """A row's line in the plots: PPO from scratch, kickstart, or distillation by its collection scheme; with
    the bound mode when the table compares several, and greedy collection when the row used it (rows written
    before ``collect_actions`` existed sampled)."""
    collect = row["collect"]
    if collect == "scratch":
        return "PPO from scratch"
    details = [] if collect == "kickstart" else [f"{collect}-driven"]
    if len({r.get("bounds") for r in table["rows"] if r["collect"] != "scratch"}) > 1:
        details.append(str(row.get("bounds")))
    if row.get("collect_actions") == "greedy":
        details.append("greedy actions")
    name = "kickstart" if collect == "kickstart" else "distilled"
    return f"{name} ({', '.join(details)})" if details else name


def plot_return_vs_size(table: dict[str, Any], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    by_collect: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in table["rows"]:
        if row["collect"] != "scratch":
            by_collect[series(row, table)][row["policy_params"]].append(row["mean_return"])
    all_sizes = sorted({size for points in by_collect.values() for size in points})
    for label, points in sorted(by_collect.items()):
        sizes = sorted(points)
        means = [np.mean(points[s]) for s in sizes]
        errors = [np.std(points[s]) for s in sizes]
        ax.errorbar(sizes, means, yerr=errors, marker="o", capsize=3, label=label)
    ax.axhline(table["teacher"]["mean_return"], color="black", linestyle="--",
               label=f"teacher ({table['teacher']['policy_params']:,} params)")  # fmt: skip
    ax.axhline(table["random_mean_return"], color="grey", linestyle=":", label="random policy")
    ax.set_xscale("log")
    # Ticks at the sizes that were run, as plain counts: log-axis minor labels ("2x10^2 3x10^2...") overlap.
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks(all_sizes, [f"{size:,}" for size in all_sizes], rotation=45 if len(all_sizes) > 6 else 0)
    ax.set_xlabel("student policy parameters (log scale)")
    ax.set_ylabel(f"mean return ({table['episodes']} episodes)")
    ax.set_title(f"{table['env_id']}: return vs student size")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_learning_curves(table: dict[str, Any], path: Path, hidden: str | None = None) -> None:
    """Evaluation return vs env steps, one shaded band per scheme (and PPO from scratch)."""
    rows = [r for r in table["rows"] if r["curve_steps"]]
    scratch = [r for r in rows if r["collect"] == "scratch"]
    hidden = hidden or (scratch[0]["hidden"] if scratch else (rows[0]["hidden"] if rows else None))
    groups: dict[str, list[Curve]] = defaultdict(list)
    for row in rows:
        if row["hidden"] == hidden:
            groups[series(row, table)].append((row["curve_steps"], row["curve_returns"]))
    title = f"{table['env_id']}: {hidden} student, learning curves"  # the legend names each method
    plot_curves(dict(sorted(groups.items())), path, title=title,
                references={"teacher": table["teacher"]["mean_return"], "random policy": table["random_mean_return"]})


def plot_all(table: dict[str, Any], out: Path, stem: str = "sweep") -> list[Path]:
    paths = [out / f"{stem}-return-vs-size.png", out / f"{stem}-learning-curves.png"]
    plot_return_vs_size(table, paths[0])
    plot_learning_curves(table, paths[1])
    return paths


def plot_from_file(results: Path, out: Path | None = None) -> list[Path]:
    """``rl-distill plot``: regenerate the plots from a sweep table alone."""
    try:
        table = json.loads(results.read_text())
        table["rows"], table["teacher"]["mean_return"]  # noqa: B018  (fail early on a foreign file)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{results}: not a sweep table ({type(exc).__name__})") from None
    return plot_all(table, out or results.parent, stem=results.stem)
