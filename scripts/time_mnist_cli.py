"""Wall time of one `rl-distill mnist` run with default flags -> results/mnist-cli-time.json.

Run it on an otherwise idle machine: .venv/bin/python scripts/time_mnist_cli.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rl_distill.io import atomic_write_json

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    out = ROOT / "runs" / "mnist-cli-time"
    cli = Path(sys.executable).parent / "rl-distill"
    load_before = os.getloadavg()
    start = time.perf_counter()
    subprocess.run([str(cli), "mnist", "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    models = json.loads((out / "results.json").read_text())["models"]
    result = {"command": "rl-distill mnist (defaults)", "wall_seconds": seconds, "cpu_count": os.cpu_count(),
              "load_average_before": load_before, "models": models}  # fmt: skip
    atomic_write_json(ROOT / "results" / "mnist-cli-time.json", result)
    print(f"rl-distill mnist with defaults: {seconds:.0f} s")


if __name__ == "__main__":
    main()
