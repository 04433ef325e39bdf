"""Distillation-guided RL: SB3's PPO plus the teacher's divergence term, and its runs."""
