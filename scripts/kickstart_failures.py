"""Where kickstart's students lose to the aims, measured -> results/kickstart-failures-<part>.{json,md}.

Two parts, on runs that scripts/bench_kickstart.py left under runs/:
- lunar: how LunarLander-v3 episodes end (landed, crashed, timed out) for the imperfect case's teacher, the
  full teacher, and the case's distilled, kickstarted and scratch students, greedy and sampled; kickstart and
  scratch also stopped after 50k, 100k and 200k steps (trained here, under runs/kickstart-failures/; about 15
  minutes on one core). PPO learns from sampled episodes: a student whose sampled episodes never land has
  little to learn landing from.
- cheetah: the HalfCheetah-v5 case's failed episodes, for the teacher and the case's distilled and
  kickstarted students (seeds 0-4). A policy is stuck when its forward speed stays under 2 m/s for 50 steps
  after it got going: at the start, or later in the episode. From the stuck state, does the teacher get out?
  From some steps before, does the teacher keep going where the student got stuck? And how far is the
  student's greedy action from the teacher's just before, against elsewhere? (About 15 minutes on one core.)
Run, e.g.: .venv/bin/python scripts/kickstart_failures.py --part cheetah --threads 1
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.evaluation import evaluate_policy

from rl_distill.cli.arguments import positive_int
from rl_distill.evaluation.evaluate import EVAL_ENVS
from rl_distill.io import atomic_write_json, atomic_write_text, with_extension
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import run_kickstart
from rl_distill.sb3.envs import EVAL_SEED
from rl_distill.sb3.policies import LoadedPolicy, load_policy
from rl_distill.sb3.training import train_ppo

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs"
RESULTS = ROOT / "results"
LUNAR = "bench-kickstart/imperfect"
LUNAR_TEACHER = "bench-rl/LunarLander-v3-early-sampled/teacher.zip"
LUNAR_SEEDS = (0, 1, 2)
LUNAR_STOPS = (50_000, 100_000, 200_000)
"""Budgets of the short kickstart and scratch runs trained here (the case's own ran 1M steps)."""
LUNAR_POLICIES = {  # label -> models, relative to runs/
    "imperfect teacher": [LUNAR_TEACHER],
    "full teacher": ["bench-rl/LunarLander-v3/teacher.zip"],
    "distill (50k)": [f"{LUNAR}/distill-{s}/student.zip" for s in LUNAR_SEEDS],
    **{f"{kind} after {steps // 1000}k": [f"kickstart-failures/{kind}-{steps}-{s}/{kind}.zip" for s in LUNAR_SEEDS]
       for kind in ("kickstart", "scratch") for steps in LUNAR_STOPS},  # fmt: skip
    "kickstart after 1M": [f"{LUNAR}/kickstart-adaptive_1-ref100-scaledTrue-{s}/student.zip" for s in LUNAR_SEEDS],
    "scratch after 1M": [f"{LUNAR}/scratch-scaledTrue-{s}/scratch.zip" for s in LUNAR_SEEDS],
}
CHEETAH_TEACHER = "bench-rl/HalfCheetah-v5/teacher.zip"
CHEETAH = "bench-kickstart/HalfCheetah-v5"
CHEETAH_STUDENTS = {  # label -> model per seed, relative to runs/: the case's defaults, distil 1M steps then kickstart
    "distill 1M steps, clamp bounds": f"{CHEETAH}/distill-1000000-clamp-{{seed}}/student.zip",
    "then kickstart adaptive:1": f"{CHEETAH}/kickstart-adaptive_1-ref100-d1000000-clamp-{{seed}}/student.zip",
}
SLOW, HOLD, AFTER = 2.0, 50, 300
"""Stuck: forward speed under SLOW m/s for HOLD steps; a rollout from a state runs AFTER steps and ends stuck when
its last 100 steps average under SLOW."""
BEFORE = (15, 30, 60)
"""Steps before the stuck onset from which the teacher takes over."""
START = 60
"""A stuck episode whose onset comes before this step failed at the start (never got into its stride)."""


def episode_outcome(last_reward: float, truncated: bool) -> str:
    """LunarLander-v3 sets the last reward to -100 on a crash (or leaving the screen), +100 on coming to rest."""
    if truncated:
        return "timed out"
    return "crashed" if last_reward <= -100 else "landed" if last_reward >= 100 else "other"


def stuck_onset(speeds: np.ndarray, slow: float = SLOW, hold: int = HOLD) -> int | None:
    """The first step of the first ``hold`` slow steps in a row after the first fast one (every episode starts at
    rest), or None."""
    fast = np.flatnonzero(speeds >= slow)
    if fast.size == 0:
        return None
    run = 0
    for t in range(int(fast[0]), len(speeds)):
        run = run + 1 if speeds[t] < slow else 0
        if run == hold:
            return t - hold + 1
    return None


def lunar_outcomes(policy: LoadedPolicy, *, deterministic: bool, episodes: int) -> dict[str, Any]:
    """SB3's evaluate_policy on the envs ``evaluate`` uses (the greedy returns are the benchmark's), its callback
    noting how each counted episode ended."""
    ends: list[str] = []

    def note_end(local: dict[str, Any], _: dict[str, Any]) -> None:
        if local["done"]:  # evaluate_policy only calls back for episodes it still counts
            ends.append(episode_outcome(float(local["reward"]), bool(local["info"].get("TimeLimit.truncated"))))

    venv = policy.make_env("LunarLander-v3", n_envs=min(EVAL_ENVS, episodes), seed=EVAL_SEED)
    returns, lengths = evaluate_policy(policy, venv, n_eval_episodes=episodes, deterministic=deterministic,
                                       return_episode_rewards=True, warn=False, callback=note_end)  # fmt: skip
    venv.close()
    counts = {name: ends.count(name) for name in ("landed", "crashed", "timed out", "other")}
    return {**counts, "mean_length": statistics.fmean(lengths), "mean_return": statistics.fmean(returns)}


def train_lunar_stops() -> None:
    """The imperfect case's kickstart (adaptive:1) and scratch runs, scaled rewards, stopped at each of LUNAR_STOPS;
    a finished run is skipped, a stopped one resumes."""
    for steps in LUNAR_STOPS:
        for seed in LUNAR_SEEDS:
            kick = RUNS / "kickstart-failures" / f"kickstart-{steps}-{seed}"
            if not (kick / "kickstart.json").is_file():
                config = KickstartConfig("LunarLander-v3", timesteps=steps, seed=seed, scale_rewards=True,
                                         eval_every=steps, keep_best=False)  # the policy at `steps`  # fmt: skip
                run_kickstart(config, RUNS / LUNAR_TEACHER, kick, name="kickstart", resume=True, progress_bar=False)
            scratch = RUNS / "kickstart-failures" / f"scratch-{steps}-{seed}"
            if not (scratch / "scratch.json").is_file():
                train_ppo("LunarLander-v3", out=scratch, name="scratch", hidden=(16, 16), timesteps=steps, seed=seed,
                          progress_bar=False, scale_rewards=True)  # fmt: skip


def summed(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts added and means averaged over equal-sized rows (one per seed)."""
    return {key: sum(r[key] for r in rows) if isinstance(rows[0][key], int) else statistics.fmean(r[key] for r in rows)
            for key in rows[0]}  # fmt: skip


class Cheetah:
    """One HalfCheetah-v5 env that policies can take over from any saved physics state."""

    def __init__(self) -> None:
        self.env = gym.make("HalfCheetah-v5")

    @staticmethod
    def act(policy: LoadedPolicy, raw: np.ndarray) -> np.ndarray:
        obs = raw[None].astype(np.float32)
        obs = policy.normalization.normalize_obs(obs) if policy.normalization is not None else obs
        return policy.predict(obs, deterministic=True)[0][0]

    def episode(self, driver: LoadedPolicy, other: LoadedPolicy, seed: int) -> dict[str, Any]:
        """A greedy episode of ``driver``: forward speeds, physics states, and the gap to ``other``'s actions."""
        raw, _ = self.env.reset(seed=seed)
        data, speeds, states, gaps, total = self.env.unwrapped.data, [], [], [], 0.0
        for _ in range(1000):
            states.append((data.qpos.copy(), data.qvel.copy()))
            action = self.act(driver, raw)
            gaps.append(float(np.abs(action - self.act(other, raw)).max()) if other is not driver else 0.0)
            raw, reward, terminated, truncated, _ = self.env.step(action)
            speeds.append(float(raw[8]))  # observation 8: the torso's forward velocity
            total += float(reward)
            if terminated or truncated:
                break
        return {"speeds": np.array(speeds), "states": states, "gaps": np.array(gaps), "return": total}

    def stuck_from(self, policy: LoadedPolicy, state: tuple[np.ndarray, np.ndarray]) -> bool:
        self.env.reset(seed=0)
        self.env.unwrapped.set_state(*state)
        raw, speeds = self.env.unwrapped._get_obs(), []  # the observation of the state just set
        for _ in range(AFTER):
            raw, *_ = self.env.step(self.act(policy, raw))
            speeds.append(raw[8])
        return float(np.mean(speeds[-100:])) < SLOW


def cheetah_runs(cheetah: Cheetah, teacher: LoadedPolicy, student: LoadedPolicy, episodes: int) -> dict[str, Any]:
    """``student``'s greedy episodes on env seeds 1000, 1001...: returns, stuck episodes and the teacher's takeovers
    (``student`` may be the teacher itself: then its own failures)."""
    stuck, gaps, returns = [], {"first_30": [], "start": [], "before": [], "elsewhere": []}, []
    for seed in range(1000, 1000 + episodes):
        run = cheetah.episode(student, teacher, seed)
        returns.append(run["return"])
        gaps["first_30"].append(run["gaps"][:30].mean())
        onset = stuck_onset(run["speeds"])
        if onset is None:
            gaps["elsewhere"].append(run["gaps"].mean())
            continue
        record: dict[str, Any] = {"seed": seed, "onset": onset, "return": run["return"], "start": onset < START}
        if student is not teacher:
            record["teacher_stays_stuck"] = cheetah.stuck_from(teacher, run["states"][onset + HOLD - 1])
        if record["start"]:
            gaps["start"].append(run["gaps"][:30].mean())
        else:
            gaps["before"].append(run["gaps"][onset - 40 : onset - 10].mean())
            gaps["elsewhere"].append(run["gaps"][: onset - 60].mean())
            if student is not teacher:
                record |= {f"teacher_stuck_from_{k}_before": cheetah.stuck_from(teacher, run["states"][onset - k])
                           for k in BEFORE}  # fmt: skip
        stuck.append(record)
    later = [r for r in stuck if not r["start"]]
    shares = {f"share_{key}": statistics.fmean(r[key] for r in later) if later else float("nan")
              for key in ("teacher_stays_stuck", *(f"teacher_stuck_from_{k}_before" for k in BEFORE))
              if student is not teacher}  # fmt: skip
    if student is teacher:  # its gap to itself is 0
        gaps = {where: [] for where in gaps}
    return {"episodes": episodes, "mean_return": statistics.fmean(returns), "stuck": stuck,
            "stuck_at_start": len(stuck) - len(later), "stuck_later": len(later), **shares,
            **{f"gap_{where}": statistics.fmean(g) if g else float("nan") for where, g in gaps.items()}}


def lunar_table(rows: dict[str, dict[str, Any]], episodes: int) -> str:
    lines = [f"How LunarLander-v3 episodes end, {episodes} per policy and seed (students: seeds "
             f"{', '.join(map(str, LUNAR_SEEDS))}, episodes added up), for the imperfect case of results/kickstart.md "
             "and its students stopped early (scaled rewards, as the case's; kickstart adaptive:1 from a fresh "
             "student; budgets rounded up to whole rollouts of 16,384 steps):", "",
             "| policy | actions | landed | crashed | timed out | mean length | mean return |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for key, r in rows.items():
        label, _, actions = key.rpartition(" | ")
        lines.append(f"| {label} | {actions} | {r['landed']} | {r['crashed']} | {r['timed out']} | "
                     f"{r['mean_length']:.0f} | {r['mean_return']:.1f} |")  # fmt: skip
    return "\n".join(lines)


def cell(value: float | None, spec: str) -> str:
    """A table cell: empty when there is nothing to show (the teacher takes no takeover; no such episode: nan)."""
    return "" if value is None or math.isnan(value) else format(value, spec)


def cheetah_table(rows: dict[str, dict[str, Any]], episodes: int) -> str:
    befores = " | ".join(f"from {k} steps before" for k in BEFORE)
    lines = [f"HalfCheetah-v5, greedy episodes on env seeds 1000-{999 + episodes}: stuck when the forward speed stays "
             f"under {SLOW:g} m/s for {HOLD} steps, at the start if that begins before step {START}. The teacher "
             f"then takes over from the student's states for {AFTER} steps: the share of the later stuck episodes "
             "in which it ends stuck too. Action gap: the largest |student - teacher| over the action's dimensions, "
             "mean over the first 30 steps of every episode and of the episodes stuck at the start, over steps 40 "
             "to 10 before the later ones, and over the rest (episodes not stuck, and the later ones' steps before "
             "onset - 60).", "",
             f"| policy | mean return | stuck at the start | stuck later | teacher, once stuck, stays | {befores} | "
             "action gap: first 30 steps | start failures | before later ones | elsewhere |",
             "|---|---:|---:|---:|---:|" + "---:|" * len(BEFORE) + "---:|---:|---:|---:|"]  # fmt: skip
    for name, r in rows.items():
        keys = ["share_teacher_stays_stuck", *(f"share_teacher_stuck_from_{k}_before" for k in BEFORE)]
        shares = " | ".join(cell(r.get(key), ".2f") for key in keys)
        gaps = " | ".join(cell(r[f"gap_{where}"], ".3f") for where in ("first_30", "start", "before", "elsewhere"))
        lines.append(f"| {name} | {r['mean_return']:.0f} | {r['stuck_at_start']}/{episodes} | "
                     f"{r['stuck_later']}/{episodes} | {shares} | {gaps} |")  # fmt: skip
    return "\n".join(lines)


MADE_BY = {"lunar": "imperfect --scale-rewards",
           "cheetah": "HalfCheetah-v5 --distill-steps 1000000 --bounds clamp --seeds 5"}
"""The benchmark's arguments that train the runs each part reads."""


def needed_runs(part: str, seeds: list[int]) -> list[str]:
    """The models a part reads and does not train itself, relative to runs/."""
    if part == "lunar":
        return [p for paths in LUNAR_POLICIES.values() for p in paths if not p.startswith("kickstart-failures/")]
    return [CHEETAH_TEACHER, *(path.format(seed=s) for path in CHEETAH_STUDENTS.values() for s in seeds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["lunar", "cheetah"], required=True, help="which measurement")
    parser.add_argument("--episodes", type=positive_int, default=100, help="episodes per policy (default 100)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="cheetah: the students' seeds (default 0-4)")  # fmt: skip
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if missing := [p for p in needed_runs(args.part, args.seeds) if not (RUNS / p).is_file()]:
        parser.exit(2, f"error: runs/{missing[0]} and {len(missing) - 1} more missing: run "
                       f"scripts/bench_kickstart.py --cases {MADE_BY[args.part]} first\n")  # fmt: skip
    if args.part == "lunar":
        train_lunar_stops()
        rows = {f"{label} | {'greedy' if det else 'sampled'}": summed([lunar_outcomes(
                    load_policy(RUNS / path, "LunarLander-v3"), deterministic=det, episodes=args.episodes)
                    for path in paths])
                for label, paths in LUNAR_POLICIES.items() for det in (True, False)}  # fmt: skip
        text = lunar_table(rows, args.episodes)
    else:
        cheetah, teacher = Cheetah(), load_policy(RUNS / CHEETAH_TEACHER, "HalfCheetah-v5")
        rows = {"teacher": cheetah_runs(cheetah, teacher, teacher, args.episodes)}
        rows |= {f"{label}, seed {s}": cheetah_runs(
                     cheetah, teacher, load_policy(RUNS / path.format(seed=s), "HalfCheetah-v5"), args.episodes)
                 for label, path in CHEETAH_STUDENTS.items() for s in args.seeds}  # fmt: skip
        text = cheetah_table(rows, args.episodes)
    stem = RESULTS / f"kickstart-failures-{args.part}"
    atomic_write_json(with_extension(stem, ".json"), {"episodes": args.episodes, "rows": rows})
    atomic_write_text(with_extension(stem, ".md"), text + "\n")
    print(text)


if __name__ == "__main__":
    main()
