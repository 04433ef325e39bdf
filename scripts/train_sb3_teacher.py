"""A teacher trained by plain SB3 code, as a user would bring one, in one of these recipes (``--algo``):

- ``ppo``: SB3's PPO defaults, VecNormalize, a 2x256 net, 1,000,000 steps (the Walker2d-v5 case of
  scripts/bench_kickstart.py, and the bring-your-own-teacher rows of scripts/bench_bounds.py);
- ``a2c``: A2C on 4 envs, VecNormalize, a 2x96 net starting at log std -1, normalised advantages, 300,000
  steps: another algorithm and architecture, whose Gaussian noise can end far below a PPO teacher's (the
  InvertedDoublePendulum-v5 case of scripts/bench_kickstart.py);
- ``ppo-raw``: the plainest code, ``PPO("MlpPolicy", env)`` on 4 envs with nothing else: SB3's 2x64 net, raw
  observations and raw rewards (no VecNormalize), 500,000 steps (the held-out cases of kickstart's scaled
  rewards in scripts/bench_kickstart.py);
- ``ppo-relu-400x300``: the zoo's LunarLander values (16 envs, n_steps 1024, batch 64, gamma 0.999, ...) with a
  400x300 ReLU net, raw observations, 800,000 steps;
- ``ppo-short-horizon``: SB3's 2x64 tanh net on 8 envs, gamma 0.9, n_steps 512, batch 256, VecNormalize with
  gamma 0.9, 400,000 steps (a Reacher-v5 recipe);
- ``ppo-tanh-128``: the zoo's Acrobot values (16 envs, n_steps 256, gae_lambda 0.94, 4 epochs) on a 2x128 tanh
  net, VecNormalize, 300,000 steps.
- ``ppo-zoo-bipedal``: the zoo's BipedalWalker-v3 values: 32 envs, n_steps 2048, batch 64, gamma 0.999, clip
  0.18, no entropy bonus, SB3's 2x64 tanh net, VecNormalize, 5,000,000 steps;
- ``dqn-256``: DQN on a 2x256 ReLU net (lr 6.3e-4, batch 128, a 50,000-step buffer, target copied every 250
  steps, a gradient step per env step, exploration 1 -> 0.1 over 12% of the run), raw observations, 150,000
  steps;
- ``dqn-mountaincar``: the zoo's MountainCar-v0 DQN values (2x256, lr 4e-3, gamma 0.98, 8 gradient steps every
  16 env steps, target copied every 600 steps, exploration 1 -> 0.07 over 20%), 120,000 steps;
- ``sac``: SAC's defaults (2x256 ReLU actor and critics) at lr 1e-3, raw observations, 20,000 steps (the zoo's
  Pendulum values);
- ``sac-gsde``: the zoo's MountainCarContinuous SAC values: gSDE, a 2x64 net starting at log std -3.67, entropy
  weight 0.1, gamma 0.9999, 32 gradient steps every 32 env steps, 50,000 steps;
- ``td3``: TD3's defaults (400x300 ReLU) with Gaussian action noise of std 0.1 and 1,000 random steps first,
  20,000 steps (a Pendulum recipe);
- ``sac-mujoco``: the zoo's MuJoCo SAC values (SAC's defaults: 2x256 ReLU, lr 3e-4, batch 256, a gradient step
  per env step; 10,000 random steps first), raw observations, 300,000 steps (the zoo trains 1M);
- ``td3-mujoco``: the zoo's MuJoCo TD3 values (TD3's defaults: 400x300 ReLU, lr 1e-3; action noise of std 0.1;
  10,000 random steps first), raw observations, 300,000 steps (the zoo trains 1M).
(scripts/own_teachers.py's registry uses all but ``a2c`` and ``ppo-raw``.)

Saved the way SB3's docs do it: ``<out>/teacher.zip`` and, when the recipe normalises, ``<out>/vecnormalize.pkl``
beside it (rl-distill finds those statistics and says so), or under the names ``--name`` gives:
``<out>/<name>.zip`` and ``<out>/<name>_vecnormalize.pkl`` (found by that name, without a note):
    .venv/bin/python scripts/train_sb3_teacher.py --env Walker2d-v5 --out runs/sb3-teachers/Walker2d-v5
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

RECIPES: dict[str, dict[str, Any]] = {
    "ppo": {"algorithm": PPO, "n_envs": 1, "timesteps": 1_000_000,
            "kwargs": {"policy_kwargs": {"net_arch": [256, 256]}}},
    "a2c": {"algorithm": A2C, "n_envs": 4, "timesteps": 300_000,
            "kwargs": {"normalize_advantage": True, "policy_kwargs": {"net_arch": [96, 96], "log_std_init": -1.0}}},
    "ppo-raw": {"algorithm": PPO, "n_envs": 4, "timesteps": 500_000, "kwargs": {}, "normalize": False},
    "ppo-relu-400x300": {"algorithm": PPO, "n_envs": 16, "timesteps": 800_000, "normalize": False,
                         "kwargs": {"n_steps": 1024, "batch_size": 64, "gae_lambda": 0.98, "gamma": 0.999,
                                    "n_epochs": 4, "ent_coef": 0.01,
                                    "policy_kwargs": {"net_arch": {"pi": [400, 300], "vf": [400, 300]},
                                                      "activation_fn": nn.ReLU}}},
    "ppo-short-horizon": {"algorithm": PPO, "n_envs": 8, "timesteps": 400_000, "normalize": {"gamma": 0.9},
                          "kwargs": {"n_steps": 512, "batch_size": 256, "gamma": 0.9, "n_epochs": 10,
                                     "gae_lambda": 0.95}},
    "ppo-tanh-128": {"algorithm": PPO, "n_envs": 16, "timesteps": 300_000,
                     "kwargs": {"n_steps": 256, "gae_lambda": 0.94, "n_epochs": 4,
                                "policy_kwargs": {"net_arch": [128, 128]}}},
    "ppo-zoo-bipedal": {"algorithm": PPO, "n_envs": 32, "timesteps": 5_000_000,
                        "kwargs": {"n_steps": 2048, "batch_size": 64, "gae_lambda": 0.95, "gamma": 0.999,
                                   "n_epochs": 10, "ent_coef": 0.0, "learning_rate": 3e-4, "clip_range": 0.18}},
    "dqn-256": {"algorithm": DQN, "n_envs": 1, "timesteps": 150_000, "normalize": False,
                "kwargs": {"learning_rate": 6.3e-4, "batch_size": 128, "buffer_size": 50_000, "learning_starts": 0,
                           "target_update_interval": 250, "train_freq": 4, "gradient_steps": -1,
                           "exploration_fraction": 0.12, "exploration_final_eps": 0.1,
                           "policy_kwargs": {"net_arch": [256, 256]}}},
    "dqn-mountaincar": {"algorithm": DQN, "n_envs": 1, "timesteps": 120_000, "normalize": False,
                        "kwargs": {"learning_rate": 4e-3, "batch_size": 128, "buffer_size": 10_000,
                                   "learning_starts": 1_000, "gamma": 0.98, "target_update_interval": 600,
                                   "train_freq": 16, "gradient_steps": 8, "exploration_fraction": 0.2,
                                   "exploration_final_eps": 0.07, "policy_kwargs": {"net_arch": [256, 256]}}},
    "sac": {"algorithm": SAC, "n_envs": 1, "timesteps": 20_000, "normalize": False, "kwargs": {"learning_rate": 1e-3}},
    "sac-gsde": {"algorithm": SAC, "n_envs": 1, "timesteps": 50_000, "normalize": False,
                 "kwargs": {"learning_rate": 3e-4, "buffer_size": 50_000, "batch_size": 512, "ent_coef": 0.1,
                            "train_freq": 32, "gradient_steps": 32, "gamma": 0.9999, "tau": 0.01, "learning_starts": 0,
                            "use_sde": True, "policy_kwargs": {"log_std_init": -3.67, "net_arch": [64, 64]}}},
    "td3": {"algorithm": TD3, "n_envs": 1, "timesteps": 20_000, "normalize": False, "action_noise": 0.1,
            "kwargs": {"learning_starts": 1_000}},
    "sac-mujoco": {"algorithm": SAC, "n_envs": 1, "timesteps": 300_000, "normalize": False,
                   "kwargs": {"learning_starts": 10_000}},
    "td3-mujoco": {"algorithm": TD3, "n_envs": 1, "timesteps": 300_000, "normalize": False, "action_noise": 0.1,
                   "kwargs": {"learning_starts": 10_000}},
}  # fmt: skip


def train_teacher(env_id: str, out: Path, timesteps: int | None = None, seed: int = 0, algo: str = "ppo",
                  name: str | None = None) -> Path:  # fmt: skip
    """Train and save ``<out>/teacher.zip``, with ``<out>/vecnormalize.pkl`` when the recipe normalises (rewards
    scaled too: SB3's default); with ``name``, ``<out>/<name>.zip`` and ``<out>/<name>_vecnormalize.pkl``.
    Returns the zip's path."""
    recipe = RECIPES[algo]
    venv = make_vec_env(env_id, n_envs=recipe["n_envs"], seed=seed)
    normalize = recipe.get("normalize", True)
    if normalize:
        venv = VecNormalize(venv, **(normalize if isinstance(normalize, dict) else {}))
    kwargs = dict(recipe["kwargs"])
    if "action_noise" in recipe:  # off-policy exploration: Gaussian noise of this std on every action
        dims = venv.action_space.shape[0]
        kwargs["action_noise"] = NormalActionNoise(np.zeros(dims), recipe["action_noise"] * np.ones(dims))
    model = recipe["algorithm"]("MlpPolicy", venv, seed=seed, device="cpu", verbose=1, **kwargs)
    model.learn(timesteps or recipe["timesteps"])
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(venv, VecNormalize):
        venv.save(str(out / (f"{name}_vecnormalize.pkl" if name else "vecnormalize.pkl")))
    model.save(out / f"{name or 'teacher'}.zip")  # last: the zip means the folder is complete
    return out / f"{name or 'teacher'}.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="Gymnasium environment id")
    parser.add_argument("--out", type=Path, required=True, help="folder for teacher.zip (+ vecnormalize.pkl)")
    parser.add_argument("--algo", choices=list(RECIPES), default="ppo", help="the recipe (default ppo)")
    parser.add_argument("--timesteps", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--seed", type=int, default=0, help="seeds the algorithm and the envs")
    parser.add_argument("--name", default=None,
                        help="save <out>/NAME.zip and <out>/NAME_vecnormalize.pkl (default: teacher.zip and "
                        "vecnormalize.pkl)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_teacher(args.env, args.out, args.timesteps, args.seed, args.algo, args.name)


if __name__ == "__main__":
    main()
