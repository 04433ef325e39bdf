"""MNIST benchmark: `rl-distill mnist` defaults, full data, 3 seeds -> results/mnist.{json,md}.

Run: .venv/bin/python scripts/bench_mnist.py [--seeds 0 1 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import torch

from rl_distill.io import atomic_write_json, atomic_write_text
from supervised.config import MnistConfig
from supervised.data import load_mnist
from supervised.train import run_mnist

ROOT = Path(__file__).resolve().parent.parent


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=ROOT / "results", help="folder for mnist.{json,md}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    runs = []
    for seed in args.seeds:
        start = time.perf_counter()
        result, _ = run_mnist(MnistConfig(seed=seed), data)
        runs.append({"seed": seed, "wall_seconds": time.perf_counter() - start,
                     "models": [asdict(m) for m in result.models]})  # fmt: skip
        print(f"seed {seed}: " + ", ".join(f"{m.name} {m.test_errors}" for m in result.models), flush=True)
    names = [m["name"] for m in runs[0]["models"]]
    summary = []
    for i, name in enumerate(names):
        acc = mean_std([r["models"][i]["test_accuracy"] for r in runs])
        err = mean_std([r["models"][i]["test_errors"] for r in runs])
        secs = mean_std([r["models"][i]["train_seconds"] for r in runs])
        ips = mean_std([r["models"][i]["images_per_second"] for r in runs])
        summary.append({"name": name, "params": runs[0]["models"][i]["params"], "test_accuracy_mean": acc[0],
                        "test_accuracy_std": acc[1], "test_errors_mean": err[0], "test_errors_std": err[1],
                        "train_seconds_mean": secs[0], "images_per_second_mean": ips[0]})  # fmt: skip
    config = asdict(MnistConfig())
    atomic_write_json(args.out / "mnist.json", {
        "command": "python scripts/bench_mnist.py", "threads": args.threads, "config": config,
        "seeds": args.seeds, "summary": summary, "runs": runs,
        "run_wall_seconds_mean": statistics.fmean(r["wall_seconds"] for r in runs),
    })  # fmt: skip
    lines = [
        f"MNIST, teacher `{config['teacher']}` ({config['epochs']} epochs), student MLP "
        f"784-{'-'.join(map(str, config['student_hidden']))}-10 ({config['student_epochs']} epochs), "
        f"T={config['temperature']}, lam={config['lam']}; mean ± std over seeds {args.seeds}; "
        f"{args.threads} CPU threads.",
        "",
        "| model | params | test accuracy | test errors | train s | images/s (batch 1024) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        lines.append(
            f"| {s['name']} | {s['params']:,} | {100 * s['test_accuracy_mean']:.2f} ± "
            f"{100 * s['test_accuracy_std']:.2f}% | {s['test_errors_mean']:.1f} ± {s['test_errors_std']:.1f} "
            f"| {s['train_seconds_mean']:.1f} | {s['images_per_second_mean']:,.0f} |"
        )
    wall = statistics.fmean(r["wall_seconds"] for r in runs)
    lines += ["", f"One `rl-distill mnist` run with defaults (train + evaluate): {wall:.0f} s on average."]
    atomic_write_text(args.out / "mnist.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
