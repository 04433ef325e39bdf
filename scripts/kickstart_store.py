"""Where scripts/bench_kickstart.py keeps its runs and results: a run's folder is finished once its log is
written (``finished``), held by one invocation while it trains (``claimed``); each case's file under
results/kickstart/ keeps the runs of earlier invocations that the latest did not redo (``file_result``), and
``load_report`` joins the files for the report; a finished kickstart log gives its kept curve point
(``kept_step``) and its teacher term's course (``guide_trace``)."""

from __future__ import annotations

import fcntl
import json
import math
import statistics
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ORDER = {"scratch": 0, "distill": 1}  # then every kickstart variant


def finished(path: Path, teacher: Path | None = None) -> dict[str, Any] | None:
    """A finished run's log (None: not finished); one that learnt from another teacher than ``teacher`` stops the
    benchmark, since its folder name does not say which teacher it had (a case whose teacher changed)."""
    log = json.loads(path.read_text()) if path.exists() else None
    if log and teacher and log.get("teacher", str(teacher)) != str(teacher):
        raise SystemExit(f"{path} learnt from {log['teacher']}, not from the case's teacher {teacher}: move "
                         f"{path.parent.parent} away to keep its runs, or delete it")  # fmt: skip
    return log


class Busy(Exception):
    """Another invocation is training the run (``claimed(..., wait=False)``)."""


@contextmanager
def claimed(folder: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold a run's folder while it is trained, so that invocations running side by side train a run they share
    (PPO from scratch, a distillation) once: the second waits for it, then finds it finished; with ``wait=False``
    it raises Busy at once instead, and can take another seed meanwhile."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        try:  # released when the file closes, or the process dies
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Busy(folder) from None
        yield


def case_file(folder: Path, name: str) -> Path:
    """Case ``name``'s sections: the case and its earlier teachers' (``file_result``). One file per case, since
    the whole report in one file passed 2 MB, and so that copies of the benchmark running other cases side by
    side never write the same file."""
    return folder / f"{name}.json"


def load_sections(folder: Path, name: str) -> dict[str, Any]:
    path = case_file(folder, name)
    return json.loads(path.read_text()) if path.exists() else {}


def load_report(folder: Path, order: Iterable[str] = ()) -> dict[str, Any]:
    """Every case's sections, the cases named in ``order`` first (in that order), then the others by name."""
    names = list(dict.fromkeys([*order, *sorted(path.stem for path in folder.glob("*.json"))]))
    return {section: data for name in names for section, data in load_sections(folder, name).items()}


def tenths(returns: list[float] | list[float | None]) -> list[float | None]:
    """Returns as results/kickstart/ keeps them, to 0.1 (None: a curve point not measured): the tables and
    plots read them no finer, and full floats made the file about 15% larger (it passed 2 MB)."""
    return [None if r is None else round(r, 1) for r in returns]


def merged(earlier: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` plus the runs of an earlier report of the case that it did not redo (other schedules, seeds)."""
    done = {(r["method"], r["seed"]) for r in result["runs"]}
    kept = [r for r in (earlier or {}).get("runs", []) if (r["method"], r["seed"]) not in done]
    order = lambda r: (ORDER.get(r["method"], 2), r["method"], r["seed"])  # noqa: E731
    return {**result, "runs": sorted(result["runs"] + kept, key=order)}


def file_result(report: dict[str, Any], name: str, result: dict[str, Any]) -> None:
    """Files ``result`` as case ``name`` of ``report``, one teacher per section.

    A teacher trained again on another machine can differ (other float kernels): the case's runs of the
    teacher it replaces move to "NAME (earlier teacher, RETURN)", and the section of an earlier run of the
    new teacher, if there is one, comes back to NAME with the new runs.
    """
    label = lambda teacher: f"{name} (earlier teacher, {teacher:.1f})"  # noqa: E731
    earlier = report.get(name)
    if earlier and earlier["teacher"] != result["teacher"]:
        report[label(earlier["teacher"])] = merged(report.get(label(earlier["teacher"])), earlier)
        earlier = report.pop(label(result["teacher"]), None)
    report[name] = merged(earlier, result)


def kept_step(log: dict[str, Any], start: int) -> dict[str, int]:
    """A best-checkpoint run's kept curve point, in the curve's steps (``start``: steps before the run)."""
    kept = log.get("kept") or {}
    return {"kept_at": start + kept["steps"]} if "steps" in kept else {}


def guide_trace(updates: list[dict[str, float]], warmup: int) -> dict[str, Any]:
    """When λ first reached 0 and its mean, both after the critic's warm-up (λ is 0 during it), the
    distillation term D over the first and last 5 PPO updates, and when the critic first explained half the
    variance of the returns it learns from (SB3's train/explained_variance; None: never)."""
    guided = [u for u in updates if u["env_steps"] > warmup]
    zero = next((u["env_steps"] for u in guided if u["lambda"] == 0), None)
    fit = next((u["env_steps"] for u in updates if u.get("explained_variance", -math.inf) >= 0.5), None)
    return {"lambda_zero_at": zero, "lambda_mean": statistics.fmean(u["lambda"] for u in guided) if guided else 0.0,
            "critic_fit_at": fit,
            "term_first": statistics.fmean(u["distill_term"] for u in updates[:5]),
            "term_last": statistics.fmean(u["distill_term"] for u in updates[-5:])}  # fmt: skip
