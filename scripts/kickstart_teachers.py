"""The cases of scripts/bench_kickstart.py and their teachers, each trained here the first time a case needs it.

A case names its teacher's folder under runs/ (``teacher``) and how it is made (``made``): ``preset``, the
env preset's PPO as scripts/bench_rl.py trains it (the same folder, so either script reuses the other's);
``early``, the first checkpoint of that PPO scoring 0.5-0.7 of the full teacher; ``plain-sb3``, plain SB3
code (scripts/train_sb3_teacher.py; ``algo`` names its recipe: ppo, the default, a2c or ppo-raw; ``teacher_seed``
its seed, default 0). ``teacher_env`` (default: the case's env) is the task it is trained on.
``teacher_reference`` evaluates a case's teacher (and random play), which its scores are measured against.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rl_distill.evaluation.evaluate import evaluate, evaluate_random
from rl_distill.io import atomic_write, atomic_write_json
from rl_distill.sb3.envs import join_env
from rl_distill.sb3.policies import load_policy
from rl_distill.sb3.presets import preset_for
from rl_distill.sb3.training import train_ppo

RUNS = Path(__file__).resolve().parent.parent / "runs"
FULL_LUNAR_LANDER: dict[str, Any] = {"env": "LunarLander-v3", "teacher_env": "LunarLander-v3",
                                      "teacher": "bench-rl/LunarLander-v3", "made": "preset"}
"""The full LunarLander-v3 teacher: the windy case's, and the yardstick of the imperfect one."""
WINDY = join_env("LunarLander-v3", {"enable_wind": True, "wind_power": 15.0, "turbulence_power": 1.5})
CASES: dict[str, dict[str, Any]] = {  # teacher, made: see ensure_teacher
    "imperfect": {"env": "LunarLander-v3", "teacher": "bench-rl/LunarLander-v3-early-sampled", "made": "early",
                  "budget": 1_000_000, "init": False},
    "imperfect-256x256": {"env": "LunarLander-v3", "teacher": "bench-rl/LunarLander-v3-early-sampled", "made": "early",
                          "budget": 400_000, "init": False, "hidden": (256, 256)},
    "windy": {**FULL_LUNAR_LANDER, "env": WINDY, "budget": 1_000_000, "init": False},
    "HalfCheetah-v5": {"env": "HalfCheetah-v5", "teacher": "bench-rl/HalfCheetah-v5", "made": "preset",
                       "budget": 300_000, "init": True},
    "Hopper-v5": {"env": "Hopper-v5", "teacher": "bench-rl/Hopper-v5", "made": "preset", "budget": 300_000,
                  "init": True},
    "LunarLanderContinuous-v3": {"env": "LunarLanderContinuous-v3", "teacher": "bench-rl/LunarLanderContinuous-v3",
                                 "made": "preset", "budget": 1_000_000, "init": False},
    "Pendulum-v1": {"env": "Pendulum-v1", "teacher": "bench-rl/Pendulum-v1", "made": "preset", "budget": 100_000,
                    "init": False},
    "Walker2d-v5": {"env": "Walker2d-v5", "teacher": "sb3-teachers/Walker2d-v5", "made": "plain-sb3",
                    "budget": 300_000, "init": True},
    "Walker2d-v5-32x32": {"env": "Walker2d-v5", "teacher": "sb3-teachers/Walker2d-v5", "made": "plain-sb3",
                          "budget": 300_000, "init": True, "hidden": (32, 32)},
    "InvertedDoublePendulum-v5": {"env": "InvertedDoublePendulum-v5", "made": "plain-sb3", "algo": "a2c",
                                  "teacher": "sb3-teachers/InvertedDoublePendulum-v5-a2c", "budget": 300_000,
                                  "init": False},
    "InvertedDoublePendulum-v5-weak": {"env": "InvertedDoublePendulum-v5", "made": "plain-sb3", "algo": "a2c",
                                       "teacher_seed": 3, "teacher": "sb3-teachers/InvertedDoublePendulum-v5-a2c-3",
                                       "budget": 300_000, "init": False},
    "Hopper-v5-a2c": {"env": "Hopper-v5", "made": "plain-sb3", "algo": "a2c", "teacher": "sb3-teachers/Hopper-v5-a2c",
                      "budget": 300_000, "init": False},
    "InvertedDoublePendulum-v5-raw": {"env": "InvertedDoublePendulum-v5", "made": "plain-sb3", "algo": "ppo-raw",
                                      "teacher": "sb3-teachers/InvertedDoublePendulum-v5-ppo-raw", "budget": 300_000,
                                      "init": False},
}  # fmt: skip


def ensure_teacher(case: dict[str, Any], *, early_steps: int = 500_000) -> Path:
    """The case's teacher.zip, trained first if it is missing (``early_steps``: how far an early scan goes)."""
    folder, env = RUNS / case["teacher"], case.get("teacher_env", case["env"])
    if (folder / "teacher.zip").exists():
        return folder / "teacher.zip"
    if case["made"] == "preset":
        train_ppo(env, out=folder, name="teacher", seed=0,
                  checkpoint_every=100_000, resume=True, progress_bar=False)  # fmt: skip
    elif case["made"] == "early":
        early_teacher(folder, last_step=early_steps)
    else:
        from train_sb3_teacher import train_teacher  # a sibling script: scripts/ is on sys.path

        train_teacher(env, folder, algo=case.get("algo", "ppo"), seed=case.get("teacher_seed", 0))
    return folder / "teacher.zip"


@contextmanager
def kept_random_state() -> Iterator[None]:
    """Python's, NumPy's and torch's global generators as they were before the block."""
    import random

    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])


def after_each_update(act: Callable[[], bool]) -> Any:
    """An SB3 callback that calls ``act`` once before PPO's first rollout and after each update (where the policy
    changes); ``learn`` stops when ``act`` returns True."""
    from stable_baselines3.common.callbacks import BaseCallback

    class AfterEachUpdate(BaseCallback):
        stop = False

        def _on_rollout_start(self) -> None:
            self.stop = act()

        def _on_step(self) -> bool:
            return not self.stop

    return AfterEachUpdate()


def imperfect_enough(score: float, sampled: float) -> bool:
    """Whether a checkpoint scoring ``score`` greedily and ``sampled`` with sampled actions is the imperfect
    teacher: both in 0.5-0.7 of the full teacher."""
    return 0.5 <= score <= 0.7 and 0.5 <= sampled <= 0.7


def early_teacher(folder: Path, last_step: int, episodes: int = 100, seeds: int = 3) -> None:
    """The imperfect teacher: the first checkpoint of the preset's PPO that scores 0.5-0.7 of the full teacher
    both greedily (as every score here) and with its actions sampled (the policy PPO trains, and the one
    ``distill`` and kickstart's term copy).

    The preset's PPO (seed 0, then 1, ... up to ``seeds``) saves a checkpoint after every update (its
    policy changes there only); each is scored on ``episodes`` episodes each way against the full teacher,
    and training stops at the first in range (the scan is kept in ``early-scan.json``). ``episodes`` are the
    benchmark's evaluation episodes (the first of them, if fewer), so the score the report gives the teacher is
    the one checked: on 30, the scan's count until 2026-12, seed 1's checkpoint at 425,984 steps scored 0.52
    greedily, and 0.40 on the benchmark's 100 (docs/kickstart.md). Early in training the
    greedy score swings from update to update while the sampled one climbs steadily: on seed 0 the greedy
    score alone picked a near-uniform policy at 65,536 steps (greedy 0.65, sampled 0.25), two updates before
    the same PPO's greedy score was back at 0.15 (docs/kickstart.md). A seed whose PPO jumps over the range
    in one update gives way to the next. A stopped scan scores the checkpoints it has, then continues from
    the last.
    """
    from stable_baselines3 import PPO

    from rl_distill.sb3.envs import make_env
    from rl_distill.sb3.presets import TEACHER_NET

    env, preset = "LunarLander-v3", preset_for("LunarLander-v3")
    full = evaluate(load_policy(ensure_teacher(FULL_LUNAR_LANDER), env), env, episodes=episodes).mean_return
    random = evaluate_random(env, episodes=episodes).mean_return
    scan: list[dict[str, Any]] = []

    def in_range(path: Path, seed: int) -> bool:
        with kept_random_state():  # loading a zip reseeds the global generators, and the scan would steer the PPO
            policy = load_policy(path, env)
            score, sampled = ((evaluate(policy, env, episodes=episodes, deterministic=greedy).mean_return - random)
                              / (full - random) for greedy in (True, False))  # fmt: skip
        scan.append({"path": str(path), "seed": seed, "steps": int(path.stem.split("_")[1]), "score": score,
                     "sampled_score": sampled})  # fmt: skip
        atomic_write_json(folder / "early-scan.json", {"full_teacher": full, "random": random, "episodes": episodes,
                                                       "scan": scan})  # fmt: skip
        print(f"early teacher scan: seed {seed}, {scan[-1]['steps']:,} steps, score {score:.3f} (sampled "
              f"{sampled:.3f})", flush=True)  # fmt: skip
        found = imperfect_enough(score, sampled)
        if found:
            atomic_write(folder / "teacher.zip", lambda tmp: tmp.write_bytes(path.read_bytes()))
        return found

    def scan_seed(seed: int) -> bool:
        scan_dir = folder / "scan" / f"seed-{seed}"
        saved = sorted(scan_dir.glob("early_*_steps.zip"), key=lambda p: int(p.stem.split("_")[1]))
        if any(in_range(path, seed) for path in saved):
            return True
        venv = make_env(env, n_envs=preset.n_envs, seed=seed)
        model = (PPO.load(saved[-1], env=venv, device="cpu") if saved else
                 PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0,
                     policy_kwargs=preset.policy_kwargs_for(TEACHER_NET), **preset.ppo_kwargs()))  # fmt: skip

        def score_checkpoint() -> bool:
            path = scan_dir / f"early_{model.num_timesteps}_steps.zip"
            if not model.num_timesteps or path.exists():
                return False
            atomic_write(path, lambda tmp: model.save(tmp))
            return in_range(path, seed)

        model.learn(last_step - model.num_timesteps, callback=after_each_update(score_checkpoint),
                    reset_num_timesteps=False)  # fmt: skip
        return (folder / "teacher.zip").exists()

    if not any(scan_seed(seed) for seed in range(seeds)):
        raise SystemExit(f"no checkpoint scored 0.5-0.7 up to {last_step:,} steps in seeds 0-{seeds - 1}; see "
                         f"{folder}/early-scan.json")


def teacher_reference(case: dict[str, Any], teacher_path: Path, episodes: int) -> dict[str, Any]:
    """The teacher's (and, for an early teacher, the full teacher's) evaluation and the random policy's, which
    every score of the case is measured against; an early teacher's scan too."""
    env = case["env"]
    teacher = load_policy(teacher_path, env)
    teacher_result = evaluate(teacher, env, episodes=episodes)
    full_result = (evaluate(load_policy(ensure_teacher(FULL_LUNAR_LANDER), env), env, episodes=episodes)
                   if case["made"] == "early" else teacher_result)  # fmt: skip
    reference = {"teacher": teacher_result.mean_return, "teacher_ci95": list(teacher_result.ci95),
                 "teacher_mean_length": teacher_result.mean_length,
                 "teacher_median": statistics.median(teacher_result.returns), "full_teacher": full_result.mean_return,
                 "full_teacher_mean_length": full_result.mean_length,
                 "random": evaluate_random(env, episodes=episodes).mean_return}  # fmt: skip
    scan = teacher_path.parent / "early-scan.json"  # how an early teacher was chosen
    if case["made"] == "early" and scan.exists():
        scanned = json.loads(scan.read_text())
        reference["teacher_scan"] = [{k: r[k] for k in ("seed", "steps", "score", "sampled_score") if k in r}
                                     for r in scanned["scan"]]  # fmt: skip
        if "episodes" in scanned:  # scans written before it was stored do not say
            reference["teacher_scan_episodes"] = scanned["episodes"]
    return reference
