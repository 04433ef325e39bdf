"""The ``rl-distill`` command line."""

from rl_distill.cli.main import main

__all__ = ["main"]
