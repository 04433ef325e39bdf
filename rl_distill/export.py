"""Export a student artifact to ONNX or TorchScript, with a parity check after every export.

ONNX goes through the TorchScript-based exporter (``dynamo=False``): the graph is a small MLP,
and that exporter needs no ``onnxscript``. The parity check runs the exported graph against the
PyTorch student on random in-bounds observations and fails loudly if they differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rl_distill.artifact import Student, StudentNet, load_student
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
    """Random in-bounds observations; unbounded dimensions are drawn around the normalisation mean."""
    space = student.header["observation_space"]
    rng = np.random.default_rng(seed)
    low, high = np.asarray(space["low"], dtype=np.float64), np.asarray(space["high"], dtype=np.float64)
    mean, std = student.net.obs_mean.numpy(), np.sqrt(student.net.obs_var.numpy())
    spread = rng.normal(mean, 2 * std + 1e-3, size=(n, low.size))
    bounded = np.isfinite(low) & np.isfinite(high)
    uniform = rng.uniform(np.where(bounded, low, 0), np.where(bounded, high, 1), size=(n, low.size))
    obs = np.clip(np.where(bounded, uniform, spread), low, high)
    return obs.reshape(n, *space["shape"]).astype(np.float32)


@dataclass(frozen=True)
class ParityReport:
    samples: int
    max_abs_diff: float
    identical_actions: bool


def check_parity(student: Student, run: Any, path: Path) -> ParityReport:
    obs = parity_observations(student)
    with torch.inference_mode():
        want_actions, want_params = ExportedGraph(student.net)(torch.from_numpy(obs))
    got_actions, got_params = run(obs)
    diff = float(max(np.abs(got_params - want_params.numpy()).max(),
                     np.abs(got_actions.astype(np.float64) - want_actions.numpy()).max()
                     if not student.net.discrete else 0.0))  # fmt: skip
    identical = bool(np.array_equal(got_actions, want_actions.numpy())) if student.net.discrete else diff <= 1e-5
    report = ParityReport(samples=len(obs), max_abs_diff=diff, identical_actions=identical)
    if diff > PARITY_TOLERANCE or not identical:
        path.unlink(missing_ok=True)
        raise InputError(f"{path}: parity check failed (max abs diff {diff:.2e}, identical actions {identical}); "
                         "export removed")  # fmt: skip
    return report


def export_student(student_path: Path, fmt: str, out: Path) -> ParityReport:
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    student = load_student(student_path)
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
