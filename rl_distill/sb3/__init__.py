"""Stable-Baselines3 glue: tasks and envs, presets, loading policies, the batched actor view, PPO training."""
