"""MNIST teacher -> student knowledge distillation, on the loss from :mod:`rl_distill.losses`."""
