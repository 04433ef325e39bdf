"""Export a student artifact to ONNX or TorchScript, with a parity check after every export.

ONNX goes through the TorchScript-based exporter (``dynamo=False``): the graph is a small MLP,
and that exporter needs no ``onnxscript``. The parity check runs the exported graph against the
PyTorch student and the SB3 student's own ``predict`` (when its zip is beside the artifact) on random
observations, including ones at and beyond the normalisation clip, and fails loudly if they differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rl_distill.artifacts.student import Student, StudentNet, load_student
from rl_distill.errors import InputError
from rl_distill.io import atomic_write

FORMATS = ("onnx", "torchscript")
PARITY_SAMPLES = 1_000
PARITY_TOLERANCE = 1e-5


class ExportedGraph(nn.Module):
    """Raw observations -> (actions, distribution parameters): what deployers run."""

    def __init__(self, net: StudentNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(obs), self.net.distribution_params(obs)


def parity_observations(student: Student, n: int = PARITY_SAMPLES, seed: int = 0) -> np.ndarray:
    """Random observations: in-bounds ones, unbounded dimensions drawn around the normalisation mean,
    and, when the student normalises, a quarter of them at and beyond the clip (``±clip_obs`` standard
    deviations and further), where the clipping inside the graph decides the action."""
    space = student.header["observation_space"]
    rng = np.random.default_rng(seed)
    if space["type"] == "Discrete":
        return rng.integers(0, int(space["n"]), size=n).astype(np.float32)
    low, high = np.asarray(space["low"], dtype=np.float64), np.asarray(space["high"], dtype=np.float64)
    mean, std = student.net.obs_mean.numpy(), np.sqrt(student.net.obs_var.numpy() + student.net.epsilon)
    spread = rng.normal(mean, 2 * std + 1e-3, size=(n, low.size))
    bounded = np.isfinite(low) & np.isfinite(high)
    uniform = rng.uniform(np.where(bounded, low, 0), np.where(bounded, high, 1), size=(n, low.size))
    obs = np.where(bounded, uniform, spread)
    if student.net.normalize:
        edge = n // 4
        reach = rng.choice([1.0, 1.0 + 1e-3, 1.5, 4.0], size=(edge, 1)) * student.net.clip_obs
        sign = rng.choice([-1.0, 1.0], size=(edge, low.size))
        obs[:edge] = mean + sign * reach * std
    obs = np.clip(obs, low, high)
    return obs.reshape(n, *space["shape"]).astype(np.float32)


@dataclass(frozen=True)
class ParityReport:
    samples: int
    max_abs_diff: float
    identical_actions: bool


def sb3_predict(student: Student) -> Callable[[np.ndarray], np.ndarray] | None:
    """The SB3 student's own greedy ``predict`` on raw observations, if its ``.zip`` lies beside the artifact."""
    zip_path = student.path.with_suffix(".zip")
    if not zip_path.is_file() or not student.header.get("env_id") or "name" in student.header:  # name: a task's
        return None
    from rl_distill.sb3.policies import load_policy

    sb3 = load_policy(zip_path, student.header["env_id"])
    discrete_obs = student.header["observation_space"]["type"] == "Discrete"

    def predict(obs: np.ndarray) -> np.ndarray:
        seen = sb3.normalization.normalize_obs(obs) if sb3.normalization is not None else obs
        return sb3.model.predict(seen.astype(np.int64) if discrete_obs else seen, deterministic=True)[0]

    return predict


def check_parity(student: Student, run: Any, path: Path) -> ParityReport:
    """The exported graph against the PyTorch student and, when its zip is beside it, the SB3 student."""
    obs = parity_observations(student)
    with torch.inference_mode():
        want_actions, want_params = ExportedGraph(student.net)(torch.from_numpy(obs))
    got_actions, got_params = run(obs)
    references = [want_actions.numpy()]
    reference = sb3_predict(student)
    if reference is not None:
        references.append(np.asarray(reference(obs)).reshape(want_actions.shape))
    if student.net.discrete:
        diff = float(np.abs(got_params - want_params.numpy()).max())
        identical = all(np.array_equal(got_actions, ref) for ref in references)
    else:
        diff = float(max(np.abs(got_params - want_params.numpy()).max(),
                         *(np.abs(got_actions.astype(np.float64) - ref).max() for ref in references)))  # fmt: skip
        identical = diff <= PARITY_TOLERANCE
    report = ParityReport(samples=len(obs), max_abs_diff=diff, identical_actions=identical)
    if diff > PARITY_TOLERANCE or not identical:
        path.unlink(missing_ok=True)
        raise InputError(f"{path}: parity check failed (max abs diff {diff:.2e}, identical actions {identical}); "
                         "export removed")  # fmt: skip
    return report


def export_student(student_path: Path, fmt: str, out: Path, *, task: str | None = None) -> ParityReport:
    """Export a student (or one task of a multi-task student) to ``out`` and check the graph's parity."""
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return export_one(load_student(student_path).for_task(task), fmt, out)


def export_each(student_path: Path, fmt: str, out: Path, *, task: str | None = None) -> list[tuple[Path, ParityReport]]:
    """What ``rl-distill export`` writes: ``out``, or for a multi-task student without ``task`` one graph per
    task, ``<stem>-task<K><suffix>``."""
    tasks = load_student(student_path).tasks
    if task is not None or not tasks:
        return [(out, export_student(student_path, fmt, out, task=task))]
    paths = [out.with_name(f"{out.stem}-task{k}{out.suffix}") for k in range(len(tasks))]
    return [(path, export_student(student_path, fmt, path, task=str(k))) for k, path in enumerate(paths)]


def export_one(student: Student, fmt: str, out: Path) -> ParityReport:
    """Export one (single-task view of a) student and check the graph's parity with it."""
    graph = ExportedGraph(student.net).eval()
    example = torch.from_numpy(parity_observations(student, n=2))
    if fmt == "onnx":
        atomic_write(out, lambda tmp: torch.onnx.export(
            graph, (example,), str(tmp), dynamo=False, input_names=["obs"], output_names=["action", "params"],
            dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}, "params": {0: "batch"}}))  # fmt: skip
        session = onnx_session(out)
        return check_parity(student, lambda obs: tuple(session.run(None, {"obs": obs})), out)
    scripted = torch.jit.trace(graph, example)
    atomic_write(out, lambda tmp: torch.jit.save(scripted, str(tmp)))
    loaded = torch.jit.load(str(out))

    def run(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            actions, params = loaded(torch.from_numpy(obs))
        return actions.numpy(), params.numpy()

    return check_parity(student, run, out)


def onnx_session(path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError("ONNX needs onnxruntime: pip install 'rl-distill[export]'") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types for a damaged model
        raise InputError(f"{path}: not a loadable ONNX model ({type(exc).__name__})") from None


class OnnxPolicy:
    """An exported ONNX student with SB3's ``predict`` signature (greedy actions only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.session = onnx_session(path)
        self.obs_shape = tuple(self.session.get_inputs()[0].shape[1:])

    def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:  # fmt: skip
        batch = np.asarray(obs, dtype=np.float32).reshape(-1, *self.obs_shape)
        return self.session.run(["action"], {"obs": batch})[0], None


def load_onnx(path: str | Path) -> OnnxPolicy:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such ONNX file")
    return OnnxPolicy(path)
