"""A teacher trained by plain SB3 code, as a user would bring one: PPO defaults, VecNormalize, a 2x256 net.

Saved the way SB3's docs do it: ``<out>/teacher.zip`` and ``<out>/vecnormalize.pkl`` beside it (rl-distill
finds those statistics and says so). Used for the bring-your-own-teacher rows of scripts/bench_bounds.py and
the Walker2d-v5 case of scripts/bench_kickstart.py:
    .venv/bin/python scripts/train_sb3_teacher.py --env Walker2d-v5 --out runs/sb3-teachers/Walker2d-v5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize


def train_teacher(env_id: str, out: Path, timesteps: int = 1_000_000, seed: int = 0) -> None:
    """Train and save ``<out>/teacher.zip`` with ``<out>/vecnormalize.pkl`` (rewards scaled too: SB3's default)."""
    venv = VecNormalize(make_vec_env(env_id, n_envs=1, seed=seed))
    model = PPO("MlpPolicy", venv, policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu", verbose=1)
    model.learn(timesteps)
    out.mkdir(parents=True, exist_ok=True)
    venv.save(str(out / "vecnormalize.pkl"))
    model.save(out / "teacher.zip")  # last: a teacher.zip means the folder is complete


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_teacher(args.env, args.out, args.timesteps, args.seed)


if __name__ == "__main__":
    main()
