"""A user's own env, registered when this module is imported: the CLI names it ``tests.registered_env:<id>``."""

import gymnasium as gym

ENV_ID = "RlDistillTest/Imported-v0"

gym.register(ENV_ID, entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv", max_episode_steps=50)
