"""A teacher trained by plain SB3 code, as a user would bring one: PPO defaults, VecNormalize, a 2x256 net.

Saved the way SB3's docs do it: ``<out>/teacher.zip`` and ``<out>/vecnormalize.pkl`` beside it (rl-distill
finds those statistics and says so). Used for the bring-your-own-teacher rows of scripts/bench_bounds.py:
    .venv/bin/python scripts/train_sb3_teacher.py --env Walker2d-v5 --out runs/sb3-teachers/Walker2d-v5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    venv = VecNormalize(make_vec_env(args.env, n_envs=1, seed=args.seed))
    model = PPO("MlpPolicy", venv, policy_kwargs={"net_arch": [256, 256]}, seed=args.seed, device="cpu", verbose=1)
    model.learn(args.timesteps)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "teacher.zip")
    venv.save(str(args.out / "vecnormalize.pkl"))


if __name__ == "__main__":
    main()
