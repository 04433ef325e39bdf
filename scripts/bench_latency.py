"""Inference latency of teacher and student: SB3 predict, the lean torch path, onnxruntime.

Uses the models scripts/bench_rl.py left in runs/bench-rl/<env>/ (teacher.zip, student-student-0.zip).
Writes results/latency.{json,md}. Run: .venv/bin/python scripts/bench_latency.py [--envs LunarLander-v3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from rl_distill.artifacts.export import export_student, load_onnx
from rl_distill.artifacts.student import export_sb3_student, load_student
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.sb3.policies import load_policy, policy_parameters

ROOT = Path(__file__).resolve().parent.parent


def time_call(call, batch: np.ndarray, min_seconds: float = 1.0) -> float:  # noqa: ANN001
    """Median seconds per call over repeated calls (after warm-up)."""
    for _ in range(10):
        call(batch)
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < 20:
        t0 = time.perf_counter()
        call(batch)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_model(env_id: str, zip_path: Path, role: str, work: Path) -> list[dict]:
    policy = load_policy(zip_path, env_id)
    artifact = export_sb3_student(policy.policy, policy.normalization, work / f"{role}.safetensors",
                                  {"env_id": env_id, "role": role}, greedy_only=True)  # fmt: skip
    lean = load_student(artifact)
    export_student(artifact, "onnx", work / f"{role}.onnx")
    onnx = load_onnx(work / f"{role}.onnx")
    venv = policy.make_env(env_id, n_envs=1, seed=0)
    space = venv.observation_space
    rng = np.random.default_rng(0)
    rows = []
    for batch_size in (1, 1024):
        obs = rng.normal(size=(batch_size, *space.shape)).astype(np.float32)
        paths = {"sb3 predict": lambda b: policy.model.predict(b, deterministic=True),
                 "torch (load_student)": lambda b: lean.act(b),
                 "onnxruntime": lambda b: onnx.predict(b)}  # fmt: skip
        for path, call in paths.items():
            seconds = time_call(call, obs)
            rows.append({"env": env_id, "model": role, "policy_params": policy_parameters(policy.policy),
                         "path": path, "batch": batch_size, "us_per_call": seconds * 1e6,
                         "us_per_action": seconds * 1e6 / batch_size, "actions_per_second": batch_size / seconds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "LunarLander-v3"],
                        help="environments whose teacher and student (from runs/bench-rl) are timed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for env_id in args.envs:
        folder = ROOT / "runs" / "bench-rl" / env_id
        work = ROOT / "runs" / "bench-latency" / env_id
        work.mkdir(parents=True, exist_ok=True)
        rows += bench_model(env_id, folder / "teacher.zip", "teacher", work)
        rows += bench_model(env_id, folder / "student-student-0.zip", "student", work)
    atomic_write_json(ROOT / "results" / "latency.json", {"command": "python scripts/bench_latency.py",
                                                          "threads": 1, "rows": rows})  # fmt: skip
    lines = ["Median over ≥1 s of repeated calls, 1 torch/onnxruntime thread, this 2-core CPU.", "",
             "| env | model | policy params | path | batch | µs per call | µs per action | actions/s |",
             "|---|---|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['env']} | {r['model']} | {r['policy_params']:,} | {r['path']} | {r['batch']} "
                     f"| {r['us_per_call']:,.1f} | {r['us_per_action']:,.2f} | {r['actions_per_second']:,.0f} |")
    atomic_write_text(ROOT / "results" / "latency.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
