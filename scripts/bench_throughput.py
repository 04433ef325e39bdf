"""Environment steps per second: raw env stepping, PPO's own rate and distillation's, in one run per env.
-> results/throughput.{json,md}

Rates, all with 8 vectorised envs (SB3's DummyVecEnv) and one torch thread:
- raw, random actions: the env alone, actions drawn uniformly (the issue's "limit");
- raw, teacher's actions: the env alone (only the time inside ``VecEnv.step``) while the teacher acts,
  i.e. the states distillation actually visits; this is the real ceiling for distillation;
- PPO: SB3 PPO training the student-sized network with the env's preset (as ``rl-distill teacher`` does);
- kickstart: the same PPO plus the teacher's KL term (``rl-distill kickstart``, λ constant 1, evaluation
  excluded); both runs time their envs' ``step`` apart, so the term's own cost is compared at equal env cost;
- distillation: ``rl-distill distill`` defaults (student-driven, 5-episode greedy evaluation per round,
  checkpoint per round), all included, without the evaluation time, and the rate of its own env stepping
  alone (the states the student visits, which cost more or less to simulate than the teacher's), so the
  distillation's own cost per step (networks, buffer, training, checkpoints) is the difference.
An env may carry kwargs for ``gymnasium.make`` (``'LunarLander-v3:{"render_mode": "rgb_array"}'``, what SB3's
``make_vec_env`` asks for by default, shows what rendering decorations cost); its teacher is the plain env's.
Uses the teachers under runs/bench-rl/<env>/teacher.zip (trained by ``rl-distill teacher --env ENV
--out runs/bench-rl/ENV``). An env already in results/throughput.json is skipped unless --force. Run:
    .venv/bin/python scripts/bench_throughput.py --envs LunarLander-v3 HalfCheetah-v5
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rl_distill.cli.arguments import add_updates_per_round
from rl_distill.distill.config import DistillConfig, logged_updates
from rl_distill.experiments.pipeline import run_distill
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import run_kickstart
from rl_distill.sb3.actor import Actor
from rl_distill.sb3.envs import make_env, split_env
from rl_distill.sb3.policies import load_policy
from rl_distill.sb3.presets import preset_for
from rl_distill.sb3.training import train_ppo

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
N_ENVS = 8


def raw_random(env_id: str, steps: int) -> float:
    venv = make_env(env_id, n_envs=N_ENVS, seed=0)
    venv.reset()
    venv.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps // N_ENVS):
        venv.step(np.stack([venv.action_space.sample() for _ in range(N_ENVS)]))
    return steps / (time.perf_counter() - start)


def raw_under_teacher(teacher_path: Path, env_id: str, steps: int) -> float:
    teacher = load_policy(teacher_path, env_id)
    venv = teacher.make_env(env_id, n_envs=N_ENVS, seed=0)
    actor, generator = Actor(teacher.policy, n_envs=N_ENVS), torch.Generator().manual_seed(0)
    obs, inside = venv.reset(), 0.0
    for _ in range(steps // N_ENVS):
        actions = actor.act(torch.as_tensor(obs, dtype=torch.float32).reshape(N_ENVS, -1), generator)[1]
        start = time.perf_counter()
        obs, *_ = venv.step(actions)
        inside += time.perf_counter() - start
    return steps / inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["LunarLander-v3", "HalfCheetah-v5"], help="environments to time")
    parser.add_argument("--raw-steps", type=int, default=40_000, help="env steps per raw-stepping rate")
    parser.add_argument("--ppo-steps", type=int, default=40_000,
                        help="env steps per PPO, kickstart and distillation rate")
    parser.add_argument("--force", action="store_true", help="measure envs already in the results again")
    add_updates_per_round(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = RESULTS / "throughput.json"
    table = json.loads(path.read_text()) if path.exists() else {"rows": []}
    for env_id in args.envs:
        if any(r["env"] == env_id for r in table["rows"]) and not args.force:
            continue
        teacher = ROOT / "runs" / "bench-rl" / split_env(env_id)[0] / "teacher.zip"
        preset = preset_for(env_id)
        row = {"env": env_id, "raw_random": raw_random(env_id, args.raw_steps),
               "raw_teacher": raw_under_teacher(teacher, env_id, args.raw_steps)}  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            ppo = train_ppo(env_id, out=Path(tmp), name="scratch", hidden=preset.student_hidden,
                            timesteps=args.ppo_steps, progress_bar=False)  # fmt: skip
            row.update(ppo=ppo.timesteps / ppo.wall_seconds, ppo_own_us=1e6 * (ppo.wall_seconds - ppo.env_seconds)
                       / ppo.timesteps, ppo_env_us=1e6 * ppo.env_seconds / ppo.timesteps)  # fmt: skip
            kickstart = KickstartConfig(env_id, student_hidden=preset.student_hidden, timesteps=args.ppo_steps,
                                        schedule="constant:1", eval_every=args.ppo_steps, keep_best=False,
                                        scale_rewards=None)  # rewards and last policy as PPO's above  # fmt: skip
            run_kickstart(kickstart, teacher, Path(tmp) / "kickstart", progress_bar=False)
            log = json.loads((Path(tmp) / "kickstart" / "student.json").read_text())
            steps = log["steps_per_second"] * log["wall_seconds"]
            row.update(kickstart=log["steps_per_second"], kickstart_env_us=1e6 * log["env_seconds"] / steps,
                       kickstart_own_us=1e6 * (log["wall_seconds"] - log["env_seconds"]) / steps)  # fmt: skip
            config = DistillConfig(env_id=env_id, student_hidden=preset.student_hidden, steps=preset.distill_steps,
                                   updates_per_round=args.updates_per_round)
            run_distill(config, teacher, Path(tmp), progress_bar=False)
            log = json.loads((Path(tmp) / "student.json").read_text())
        row.update(distill_steps=preset.distill_steps, updates_per_round=args.updates_per_round,
                   distill_seconds=log["wall_seconds"],
                   eval_seconds=log["eval_seconds"], distill_env_seconds=log["env_seconds"],
                   distill_env_only=preset.distill_steps / log["env_seconds"],
                   distill_all_in=preset.distill_steps / (log["wall_seconds"] + log["eval_seconds"]),
                   distill_without_eval=preset.distill_steps / log["wall_seconds"])  # fmt: skip
        print(row, flush=True)
        table["rows"] = [r for r in table["rows"] if r["env"] != env_id] + [row]
        atomic_write_json(path, table)
    lines = ["Environment steps per second, 8 envs (DummyVecEnv), 1 torch thread, this 2-core CPU; "
             "`python scripts/bench_throughput.py`.", "",
             "| env | raw, random actions | raw, teacher's actions | PPO (student net) | distillation's updates per "
             "round | distillation, all in | distillation without its evaluation | its env stepping alone | own cost "
             "µs/step |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in table["rows"]:
        own_us = 1e6 * (r["distill_seconds"] - r["distill_env_seconds"]) / r["distill_steps"]
        updates = logged_updates(r)
        lines.append(f"| {r['env']} | {r['raw_random']:,.0f} | {r['raw_teacher']:,.0f} | {r['ppo']:,.0f} | {updates} | "
                     f"{r['distill_all_in']:,.0f} | {r['distill_without_eval']:,.0f} | {r['distill_env_only']:,.0f} | "
                     f"{own_us:.0f} |")  # fmt: skip
    lines += ["", "Kickstart (PPO + the teacher's KL term, λ = 1) against PPO alone, same student net and preset. "
              "A kickstarted student visits the teacher's states, not those of PPO's first steps, and they can cost "
              "more or less to simulate, so the term's own cost is compared at PPO's env cost.",
              "", "| env | PPO steps/s | PPO env / own µs per step | kickstart steps/s | kickstart env / own µs "
              "per step | kickstart at PPO's env cost | throughput lost to the KL term |",
              "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in (r for r in table["rows"] if "kickstart_own_us" in r):
        equal_env = 1e6 / (r["ppo_env_us"] + r["kickstart_own_us"])
        lines.append(f"| {r['env']} | {r['ppo']:,.0f} | {r['ppo_env_us']:.0f} / {r['ppo_own_us']:.0f} | "
                     f"{r['kickstart']:,.0f} | {r['kickstart_env_us']:.0f} / {r['kickstart_own_us']:.0f} | "
                     f"{equal_env:,.0f} | {1 - equal_env / r['ppo']:.0%} |")  # fmt: skip
    atomic_write_text(RESULTS / "throughput.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
