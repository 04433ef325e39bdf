"""Student-size x collection-scheme x seed sweeps, run locally in processes or as Ray tasks.

Every run is one call of :func:`run_one` on a picklable :class:`SweepRun`; the local and Ray
backends only differ in who calls it, so they return the same rows for the same seeds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rl_distill.distill.config import (
    DAGGER_DECAY,
    LEGACY_COLLECT_ACTIONS,
    LEGACY_UPDATES_PER_ROUND,
    NOISE_CAP,
    collect_tag,
    resolve_collect,
    resolve_collect_actions,
    updates_tag,
)
from rl_distill.errors import InputError
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.losses import DEFAULT_BOUND_MODE

CSV_FIELDS = ["env", "collect", "bounds", "collect_actions", "updates_per_round", "hidden", "policy_params",
              "compression_ratio", "seed", "mean_return", "score", "env_steps", "wall_seconds"]  # fmt: skip


@dataclass(frozen=True)
class SweepRun:
    """One distillation run of a sweep, or a PPO one: ``collect="scratch"`` (from scratch) or ``"kickstart"``."""

    env_id: str
    teacher: str
    hidden: tuple[int, ...]
    collect: str
    seed: int
    steps: int
    episodes: int
    work_dir: str
    bounds: str = DEFAULT_BOUND_MODE
    """Box actions: the distillation loss's bound mode (``--bounds``); ignored by scratch runs."""
    init: str | None = None
    """Kickstart: start from this distilled student (a sweep run's ``.zip``) instead of a fresh one."""
    init_steps: int = 0
    """Kickstart from ``init``: the env steps its distillation used, counted in the row's steps and curve."""
    scale_rewards: bool | None = None
    """PPO runs (scratch, kickstart): learn from scaled (True) or raw (False) rewards; None: scratch as the preset,
    kickstart as the teacher's PPO did (the default until 2026-12; rows saved before it carry no such field)."""
    collect_actions: str = LEGACY_COLLECT_ACTIONS
    """Distillation runs: how whoever acts picks its actions while collecting (``--collect-actions``, resolved:
    sampled or greedy; this field's default is what runs saved before it had)."""
    keep_best: int = 0
    """PPO runs (scratch, kickstart): keep the policy of the best learning-curve point, each point scored on this
    many validation episodes (``kickstart --keep-best --eval-episodes N``); 0 keeps the last policy, for scratch
    and kickstart alike (kickstart's own default after ``--init`` keeps the best: a sweep compares like with like)."""
    lr_decay: bool = False
    """Kickstart runs: PPO's learning rate decays linearly to 0 (``kickstart --lr-decay``)."""
    vecnormalize: str | None = None
    """The teacher's VecNormalize statistics (``--vecnormalize``); None: found beside the teacher."""
    updates_per_round: int = LEGACY_UPDATES_PER_ROUND
    """Distillation runs: minibatch gradient steps per round (``--updates-per-round``; ``sweep`` passes distill's
    default when not told; this field's default is what runs saved before it had, so their names still match)."""
    max_steps: int | None = None
    """Distillation runs: go on past ``steps`` while the action gap still falls, up to this many (``--max-steps``)."""
    noise_cap: float = NOISE_CAP
    """Distillation runs with capped collection: the largest std, as a share of each half-range (``--noise-cap``)."""
    dagger_decay: float = DAGGER_DECAY
    """DAgger runs: the teacher acts with probability dagger_decay**round (``--dagger-decay``)."""

    @property
    def distilled(self) -> bool:
        """A distillation run (collection settings apply), not a PPO one (scratch, kickstart)."""
        return self.collect not in ("scratch", "kickstart")

    @property
    def name(self) -> str:
        hidden = "x".join(map(str, self.hidden))
        most = f"-max{self.max_steps}" if self.max_steps else ""
        budget = f"{updates_tag(self.updates_per_round)}{most}"
        cap = f"-cap{self.noise_cap:g}" if self.noise_cap != NOISE_CAP else ""
        decay = f"-decay{self.dagger_decay:g}" if self.dagger_decay != DAGGER_DECAY else ""
        variant = f"-{self.bounds}{collect_tag(self.collect_actions)}{cap}{decay}{budget}" if self.distilled else ""
        rewards = "" if self.scale_rewards is None else "-scaled" if self.scale_rewards else "-raw"
        ppo = ("-lr-decay" if self.lr_decay else "") + (f"-best{self.keep_best}" if self.keep_best else "")
        # The budget is in the name so that a sweep at another --steps in the same folder keeps this run's files.
        name = f"{self.collect}{variant}{rewards}{ppo}-{hidden}-{self.steps}steps-{self.seed}"
        return f"{name}-after-{Path(self.init).stem}" if self.init else name


ADDED_FIELDS: dict[str, Any] = {"init": None, "init_steps": 0, "scale_rewards": None,
                                "collect_actions": LEGACY_COLLECT_ACTIONS,
                                "keep_best": 0, "lr_decay": False, "vecnormalize": None,
                                "updates_per_round": LEGACY_UPDATES_PER_ROUND, "max_steps": None,
                                "noise_cap": NOISE_CAP, "dagger_decay": DAGGER_DECAY}
"""SweepRun fields newer than the first saved rows, and their unset values: left out of a run's cache key when
unset, so that those rows still match."""


def cache_settings(run: SweepRun) -> dict[str, Any]:
    unset = {k for k, v in asdict(run).items()
             if k in ADDED_FIELDS and type(v) is type(ADDED_FIELDS[k]) and v == ADDED_FIELDS[k]}  # False is not None
    return {k: v for k, v in asdict(run).items() if k not in unset}


def run_one(run: SweepRun) -> dict[str, Any]:
    """Train, evaluate on ``episodes`` fixed-seed episodes, and return one tidy row.

    The row is also saved next to the model, so a sweep that is stopped and started again skips
    every run that already finished with the same settings and the same teacher file contents.
    """
    name = run.name
    saved = Path(run.work_dir) / f"{name}.row.json"
    # The teacher's digest is in the key because a teacher retrained in place keeps its path.
    key = {"run": json.loads(json.dumps(cache_settings(run))),
           "teacher_sha256": hashlib.sha256(Path(run.teacher).read_bytes()).hexdigest()}  # fmt: skip
    if saved.exists():
        try:
            cached = json.loads(saved.read_text())
        except (OSError, ValueError):
            cached = {}
        if isinstance(cached, dict) and "row" in cached and all(cached.get(k) == v for k, v in key.items()):
            return cached["row"]
    row = train_and_evaluate(run, name)
    atomic_write_json(saved, {**key, "row": row})
    return row


def train_and_evaluate(run: SweepRun, name: str) -> dict[str, Any]:
    import torch

    from rl_distill.distill.config import DistillConfig
    from rl_distill.evaluation.evaluate import evaluate
    from rl_distill.experiments.pipeline import run_distill
    from rl_distill.sb3.policies import load_policy, policy_parameters
    from rl_distill.sb3.training import CURVE_EPISODES, CURVE_INTERVALS, train_ppo

    torch.set_num_threads(1)
    out = Path(run.work_dir)
    stats = Path(run.vecnormalize) if run.vecnormalize else None
    start = time.perf_counter()
    if run.collect == "kickstart":
        from rl_distill.kickstart.config import KickstartConfig
        from rl_distill.kickstart.run import run_kickstart

        config = KickstartConfig(run.env_id, student_hidden=run.hidden, timesteps=run.steps, seed=run.seed,
                                 bounds=run.bounds, eval_every=max(run.steps // CURVE_INTERVALS, 1000),  # type: ignore[arg-type]
                                 init=run.init, scale_rewards=run.scale_rewards, lr_decay=run.lr_decay,
                                 keep_best=run.keep_best > 0,
                                 eval_episodes=run.keep_best or CURVE_EPISODES)  # fmt: skip
        run_kickstart(config, Path(run.teacher), out, name=name, vecnormalize=stats, progress_bar=False)
        log = json.loads((out / f"{name}.json").read_text())
        curve = ([run.init_steps + s for s in log["curve_steps"]], log["curve_returns"])
        steps = run.init_steps + run.steps
    elif run.collect == "scratch":
        trained = train_ppo(run.env_id, out=out, name=name, hidden=run.hidden, timesteps=run.steps, seed=run.seed,
                            eval_every=max(run.steps // CURVE_INTERVALS, 1000),
                            eval_episodes=run.keep_best or CURVE_EPISODES, keep_best=run.keep_best > 0,
                            progress_bar=False, scale_rewards=run.scale_rewards)  # fmt: skip
        curve, steps = (trained.curve_steps, trained.curve_returns), run.steps
    else:
        config = DistillConfig(env_id=run.env_id, student_hidden=run.hidden, steps=run.steps,
                               collect=run.collect, collect_actions=run.collect_actions,  # type: ignore[arg-type]
                               seed=run.seed, bounds=run.bounds,  # type: ignore[arg-type]
                               updates_per_round=run.updates_per_round, max_steps=run.max_steps,
                               noise_cap=run.noise_cap, dagger_decay=run.dagger_decay)  # fmt: skip
        run_distill(config, Path(run.teacher), out, name=name, vecnormalize=stats, progress_bar=False)
        rounds = json.loads((out / f"{name}.json").read_text())["rounds"]
        curve = ([r["env_steps"] for r in rounds], [r["eval_mean_return"] for r in rounds])
        steps = rounds[-1]["env_steps"]  # more than run.steps where max_steps let the run go on
    wall = time.perf_counter() - start
    student = load_policy(out / f"{name}.zip", run.env_id)
    result = evaluate(student, run.env_id, episodes=run.episodes)
    return {"env": run.env_id, "collect": run.collect, "bounds": None if run.collect == "scratch" else run.bounds,
            "collect_actions": run.collect_actions if run.distilled else None, "hidden": "x".join(map(str, run.hidden)),
            "updates_per_round": run.updates_per_round if run.distilled else None,
            "keep_best": None if run.distilled else run.keep_best,
            "lr_decay": run.lr_decay if run.collect == "kickstart" else None,
            "policy_params": policy_parameters(student.policy), "seed": run.seed,
            "mean_return": result.mean_return, "ci95": list(result.ci95), "env_steps": steps,
            "wall_seconds": wall, "curve_steps": curve[0], "curve_returns": curve[1]}  # fmt: skip


def run_local(runs: list[SweepRun], workers: int | None = None) -> list[dict[str, Any]]:
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        return [run_one(r) for r in runs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_one, runs))


def run_ray(runs: list[SweepRun], address: str) -> list[dict[str, Any]]:
    """One Ray task per run on an existing cluster (``address``: ``auto`` or ``host:port``)."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'rl-distill[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address)
    remote = ray.remote(num_cpus=1)(run_one)
    return ray.get([remote.remote(r) for r in runs])


def add_reference_columns(rows: list[dict[str, Any]], teacher: dict[str, Any], random_return: float) -> None:
    """Compression ratio and score need the teacher's size and return; computed once, here."""
    span = teacher["mean_return"] - random_return
    for row in rows:
        row["compression_ratio"] = teacher["policy_params"] / row["policy_params"]
        row["score"] = (row["mean_return"] - random_return) / span if span else float("nan")


def write_tables(table: dict[str, Any], out: Path, stem: str = "sweep") -> None:
    atomic_write_json(out / f"{stem}.json", table)
    buffer = io.StringIO()
    # "\n" like every other text file here; the csv module's default "\r\n" shows up as ^M in diffs.
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(table["rows"])
    atomic_write_text(out / f"{stem}.csv", buffer.getvalue())


def sweep(env_id: str, teacher_path: Path, hiddens: list[tuple[int, ...]], collects: list[str], seeds: int,
          *, out: Path, vecnormalize: Path | None = None, steps: int | None = None, episodes: int = 100,
          scratch_steps: int = 0, scratch_hidden: tuple[int, ...] | None = None, scratch_seeds: int | None = None,
          bounds: list[str] | None = None, collect_actions: list[str] | None = None, kickstart_steps: int = 0,
          kickstart_init: bool = False, scale_rewards: bool | None = True, keep_best: int = 0,
          kickstart_lr_decay: bool = False, updates_per_round: int | None = None, max_steps: int | None = None,
          noise_cap: float = NOISE_CAP, dagger_decay: float = DAGGER_DECAY,
          ray_address: str | None = None, workers: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Run every (hidden, collect, bounds, collect_actions, seed) combination and write ``sweep.{json,csv}`` and
    the plots.

    ``kickstart_init``: each seed's kickstart run starts from that seed's distilled student of the kickstart
    size (the first of ``collects``, ``bounds`` and ``collect_actions``; its teacher term takes that bound mode
    too), as ``pipeline --kickstart`` does, after the distillations. ``scale_rewards`` applies to the PPO runs
    (scratch and kickstart) alike, as in ``pipeline`` (None: each as before 2026-12), and so does ``keep_best``
    (the best learning-curve point's policy, each point on that many episodes; 0: the last policy);
    ``kickstart_lr_decay`` decays the kickstart runs' PPO rate. ``updates_per_round``: the distillations' (default:
    ``DistillConfig``'s); ``max_steps``: theirs too (``distill --max-steps``; not with ``kickstart_init``, whose
    budget counts the distilled student's steps); ``noise_cap`` and ``dagger_decay`` theirs where they apply
    (capped collection, DAgger), so runs they do not touch keep their names. ``vecnormalize``: the teacher's
    statistics (default: found beside it).
    """
    from rl_distill.distill.config import DistillConfig
    from rl_distill.evaluation.evaluate import evaluate, evaluate_random
    from rl_distill.evaluation.plots import plot_all
    from rl_distill.sb3.policies import load_policy, policy_parameters
    from rl_distill.sb3.presets import preset_for

    if max_steps and kickstart_init:
        raise InputError("--kickstart-init counts the distilled student's env steps in the kickstart runs' budget; "
                         "with --max-steps they are not known in advance: drop one of them")
    preset = preset_for(env_id)
    steps = steps or preset.distill_steps
    updates = updates_per_round or DistillConfig.updates_per_round
    # the distillations' budget, checked before any run: a worker's one-line error would come after the teacher's
    DistillConfig(env_id, steps=steps, max_steps=max_steps, updates_per_round=updates, noise_cap=noise_cap,
                  dagger_decay=dagger_decay).validate()
    ppo_hidden = scratch_hidden or preset.student_hidden  # the PPO runs' student: scratch and kickstart
    if kickstart_init and ppo_hidden not in hiddens:
        raise InputError(f"--kickstart-init starts from the distilled {'x'.join(map(str, ppo_hidden))} student: "
                         "add that size to --student-hidden")  # fmt: skip
    teacher = load_policy(teacher_path, env_id, vecnormalize=vecnormalize)
    teacher_eval = evaluate(teacher, env_id, episodes=episodes)
    random_eval = evaluate_random(env_id, episodes=episodes)
    work = out / "models"
    # The PPO-from-scratch runs are the longest, so they start first and the short ones fill in around them.
    bounds = bounds or [DEFAULT_BOUND_MODE]
    space, requested = teacher.policy.action_space, collect_actions or [DistillConfig.collect_actions]
    collects = list(dict.fromkeys(resolve_collect(c, space) for c in collects))  # auto is one of the others

    def modes(scheme: str) -> list[str]:  # auto is one of the others (which one depends on the scheme): run it once
        return list(dict.fromkeys(resolve_collect_actions(a, space, scheme) for a in requested))

    source, folder, stats = str(teacher_path), str(work), vecnormalize and str(vecnormalize)

    def distillation(hidden: tuple[int, ...], scheme: str, bound: str, mode: str, seed: int) -> SweepRun:
        return SweepRun(env_id, source, hidden, scheme, seed, steps, episodes, folder, bound, collect_actions=mode,
                        vecnormalize=stats, updates_per_round=updates, max_steps=max_steps,
                        noise_cap=noise_cap if mode == "capped" else NOISE_CAP,
                        dagger_decay=dagger_decay if scheme == "dagger" else DAGGER_DECAY)  # fmt: skip

    runs = [SweepRun(env_id, source, ppo_hidden, "scratch", s, scratch_steps, episodes, folder,
                     scale_rewards=scale_rewards, keep_best=keep_best)
            for s in range(scratch_seeds or seeds) if scratch_steps]  # fmt: skip
    for s in range(seeds if kickstart_steps else 0):
        distilled = distillation(ppo_hidden, collects[0], bounds[0], modes(collects[0])[0], s)
        runs.append(SweepRun(env_id, source, ppo_hidden, "kickstart", s, kickstart_steps, episodes, folder,
                             bounds[0] if kickstart_init else DEFAULT_BOUND_MODE,  # the distilled student's
                             init=str(work / f"{distilled.name}.zip") if kickstart_init else None,
                             init_steps=steps if kickstart_init else 0, scale_rewards=scale_rewards,
                             keep_best=keep_best, lr_decay=kickstart_lr_decay, vecnormalize=stats))  # fmt: skip
    runs += [distillation(h, c, b, a, s)
             for h in hiddens for c in collects for b in bounds for a in modes(c) for s in range(seeds)]
    # A kickstart run from a distilled student waits for the distillations: two passes.
    passes = [[r for r in runs if not r.init], [r for r in runs if r.init]]
    rows = [row for group in passes if group
            for row in (run_ray(group, ray_address) if ray_address else run_local(group, workers))]  # fmt: skip
    teacher_info = {"mean_return": teacher_eval.mean_return, "policy_params": policy_parameters(teacher.policy),
                    "path": str(teacher_path)}  # fmt: skip
    add_reference_columns(rows, teacher_info, random_eval.mean_return)
    table = {"env_id": env_id, "teacher": teacher_info, "random_mean_return": random_eval.mean_return,
             "episodes": episodes, "rows": rows}  # fmt: skip
    write_tables(table, out)
    plot_all(table, out)
    return table
