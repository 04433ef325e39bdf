"""Self-describing student artifacts: safetensors weights with a JSON header, loaded without pickle.

The header (stored in the safetensors metadata under ``rl_distill``) carries everything needed to
rebuild and run the student: spaces, architecture, observation-normalisation statistics, and
provenance (teacher, distillation settings). Loading needs neither SB3 nor the teacher.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from rl_distill.errors import InputError
from rl_distill.io import atomic_write

FORMAT_VERSION = 1
METADATA_KEY = "rl_distill"
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def observation_shape(space: dict[str, Any]) -> tuple[int, ...]:
    """The shape of one raw observation: a Discrete observation is one integer, shape ()."""
    return () if space["type"] == "Discrete" else tuple(space["shape"])


@dataclass
class SharedLayers:
    """The trainable parts of a student net; a multi-task student hands the same objects to several tasks."""

    policy_net: nn.Sequential
    action_net: nn.Linear
    log_std: nn.Parameter | None
    task_code: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    """Appended to the (normalised) observation: the task's one-hot code, or empty."""


class StudentNet(nn.Module):
    """Raw observation -> action, with normalisation (or one-hot coding of a Discrete observation)
    and, for Box actions, clipping inside the graph."""

    def __init__(self, header: dict[str, Any], *, shared: SharedLayers | None = None) -> None:
        super().__init__()
        obs, act, arch = header["observation_space"], header["action_space"], header["architecture"]
        self.discrete = act["type"] == "Discrete"
        self.one_hot = obs["type"] == "Discrete"
        obs_dim = int(obs["n"]) if self.one_hot else int(np.prod(obs["shape"]))
        self.register_buffer("obs_index", torch.arange(obs_dim, dtype=torch.float32) if self.one_hot
                             else torch.zeros(0), persistent=False)  # fmt: skip
        norm = header.get("normalization")
        self.register_buffer("obs_mean", torch.tensor(norm["mean"] if norm else [0.0] * obs_dim))
        self.register_buffer("obs_var", torch.tensor(norm["var"] if norm else [1.0] * obs_dim))
        self.clip_obs = float(norm["clip"]) if norm else float("inf")
        self.epsilon = float(norm["epsilon"]) if norm else 0.0
        self.normalize = norm is not None
        action_dim = act["n"] if self.discrete else int(np.prod(act["shape"]))
        if shared is None:
            layers: list[nn.Module] = []
            width = obs_dim
            for size in arch["hidden"]:
                layers += [nn.Linear(width, size), ACTIVATIONS[arch["activation"]]()]
                width = size
            shared = SharedLayers(nn.Sequential(*layers), nn.Linear(width, action_dim),
                                  None if self.discrete else nn.Parameter(torch.zeros(action_dim)))  # fmt: skip
        # A multi-task student's task nets share these modules (artifacts/multitask.py)
        self.policy_net, self.action_net = shared.policy_net, shared.action_net
        self.register_buffer("task_code", shared.task_code, persistent=False)
        self.has_task_code = shared.task_code.numel() > 0
        if not self.discrete:
            self.log_std = shared.log_std
            self.register_buffer("low", torch.tensor(act["low"], dtype=torch.float32))
            self.register_buffer("high", torch.tensor(act["high"], dtype=torch.float32))

    def distribution_params(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits (discrete) or the Gaussian mean (continuous) for raw observations."""
        x = obs.reshape(obs.shape[0], -1).float()
        if self.one_hot:  # as SB3 preprocesses a Discrete observation; == exports to ONNX as plain Equal
            x = (x == self.obs_index).float()
        if self.normalize:
            x = torch.clamp((x - self.obs_mean) / torch.sqrt(self.obs_var + self.epsilon), -self.clip_obs,
                            self.clip_obs)  # fmt: skip
        if self.has_task_code:  # a multi-task student told which task it acts in
            x = torch.cat([x, self.task_code.expand(x.shape[0], -1)], dim=1)
        return self.action_net(self.policy_net(x))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        params = self.distribution_params(obs)
        if self.discrete:
            return params.argmax(dim=-1)
        return torch.maximum(torch.minimum(params, self.high), self.low)


def space_header(space: gym.Space) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": space.low.flatten().tolist(), "high": space.high.flatten().tolist()}  # fmt: skip
    raise InputError(f"unsupported space {space}")


def normalization_header(stats: Any) -> dict[str, Any] | None:
    """A (frozen) VecNormalize's observation statistics as the artifact header stores them; None if it has none."""
    if stats is None or not stats.norm_obs:
        return None
    rms = stats.obs_rms
    return {"mean": rms.mean.astype(float).tolist(), "var": rms.var.astype(float).tolist(),
            "clip": float(stats.clip_obs), "epsilon": float(stats.epsilon)}  # fmt: skip


def actor_mlp(policy: Any) -> tuple[nn.Sequential, nn.Linear, type[nn.Module]]:
    """The MLP that computes an SB3 policy's greedy action: (hidden layers, output layer, activation). For a
    PPO/A2C policy, its actor; a DQN's Q-network (argmax of its outputs); a SAC or TD3 actor, whose tanh and
    rescaling after the output layer the artifact lacks."""
    if hasattr(policy, "mlp_extractor"):
        return policy.mlp_extractor.policy_net, policy.action_net, policy.activation_fn
    if hasattr(policy, "q_net"):
        layers = list(policy.q_net.q_net)
        return nn.Sequential(*layers[:-1]), layers[-1], policy.q_net.activation_fn
    actor = policy.actor
    if hasattr(actor, "latent_pi"):
        # gSDE: mu is (Linear, Hardtanh clipping the mean)
        return actor.latent_pi, actor.mu if isinstance(actor.mu, nn.Linear) else actor.mu[0], actor.activation_fn
    layers = list(actor.mu)[:-1]  # TD3: the last module is the tanh
    return nn.Sequential(*layers[:-1]), layers[-1], actor.activation_fn


def export_sb3_student(policy: Any, normalization: Any, path: Path, provenance: dict[str, Any], *,
                       greedy_only: bool = False) -> Path:  # fmt: skip
    """Write an SB3 ActorCriticPolicy student (MLP extractor) as a safetensors artifact. With ``greedy_only``
    (latency of the greedy actions, which costs what the policy's does), also a gSDE policy, whose
    state-dependent noise has no artifact form (log std left at 0), or an off-policy teacher's network
    (:func:`actor_mlp`)."""
    trunk, head, activation_fn = actor_mlp(policy)
    hidden = [m.out_features for m in trunk if isinstance(m, nn.Linear)]
    activation = next((name for name, cls in ACTIVATIONS.items() if activation_fn is cls), None)
    if activation is None:
        raise InputError(f"activation {activation_fn.__name__} has no artifact form")
    gsde = bool(getattr(policy, "use_sde", False))
    if gsde and not greedy_only:
        raise InputError("a gSDE policy's state-dependent exploration noise has no artifact form")
    actor_critic = hasattr(policy, "mlp_extractor")
    if not actor_critic and not greedy_only:
        raise InputError(f"a {type(policy).__name__} has an artifact form for its latency only")
    header: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "observation_space": space_header(policy.observation_space),
        "action_space": space_header(policy.action_space),
        "architecture": {"hidden": hidden, "activation": activation},
        "normalization": normalization_header(normalization),
        **provenance,
    }
    net = StudentNet(header)
    net.policy_net.load_state_dict(trunk.state_dict())
    net.action_net.load_state_dict(head.state_dict())
    if not net.discrete and not gsde and actor_critic:
        net.log_std.data.copy_(policy.log_std.detach())
    return save_artifact(net, header, path)


def save_artifact(net: nn.Module, header: dict[str, Any], path: Path) -> Path:
    """Write a student net's weights with its header, atomically."""
    tensors = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    metadata = {METADATA_KEY: json.dumps({"format_version": FORMAT_VERSION, **header})}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


@dataclass
class Student:
    """A loaded student: ``act`` takes raw numpy observations (one or a batch) and returns actions.

    A multi-task student (``header["tasks"]``) acts in the task ``task`` names (see :meth:`for_task`).
    """

    net: Any
    """A :class:`StudentNet`, or for a multi-task student an ``artifacts.multitask.MultiTaskNet``."""
    header: dict[str, Any]
    path: Path

    @property
    def tasks(self) -> list[str]:
        return [t["name"] for t in self.header.get("tasks", [])]

    def for_task(self, task: str | None) -> Student:
        """One task's single-task view (by name, env id if unique, or index); a single-task student is its own."""
        if not self.tasks:
            if task is not None and task not in (self.header.get("env_id"), "0"):
                raise InputError(f"{self.path} is a single-task student ({self.header.get('env_id')}); "
                                 f"it has no task {task!r}")  # fmt: skip
            return self
        from rl_distill.artifacts.multitask import task_index

        index = task_index(self.tasks, task, str(self.path))
        return Student(net=self.net.task_nets[index], header=self.header["tasks"][index], path=self.path)

    def act(self, obs: np.ndarray, deterministic: bool = True, task: str | None = None) -> np.ndarray:
        if self.tasks or task is not None:
            return self.for_task(task).act(obs, deterministic)
        obs = np.asarray(obs, dtype=np.float32)
        shape = observation_shape(self.header["observation_space"])
        single = obs.shape == shape
        if not single and (obs.ndim == 0 or obs.shape[1:] != shape):
            raise InputError(f"observation shape {obs.shape} is neither {shape} nor a batch of it")
        if not np.isfinite(obs).all():
            raise InputError("observation contains NaN or infinite values")
        batch = torch.from_numpy(obs.reshape(1, -1) if single else obs.reshape(obs.shape[0], -1))
        with torch.inference_mode():
            if deterministic:
                actions = self.net(batch)
            else:
                params = self.net.distribution_params(batch)
                if self.net.discrete:
                    actions = torch.distributions.Categorical(logits=params).sample()
                else:
                    noise = torch.randn_like(params) * self.net.log_std.exp()
                    actions = torch.maximum(torch.minimum(params + noise, self.net.high), self.net.low)
        result = actions.numpy()
        return result[0] if single else result

    def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:  # fmt: skip
        """SB3's ``predict`` signature, so ``evaluate_policy`` can run an artifact."""
        return self.act(obs, deterministic), None


def load_student(path: str | Path) -> Student:
    """Load a ``.safetensors`` student; a damaged or inconsistent file gives an InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such student file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types for damaged files
        twin, hint = path.with_suffix(".safetensors"), ""
        if path.suffix.lower() == ".zip":  # an SB3 zip: a student's artifact lies beside it, a teacher has none
            hint = (f"; pass {twin.name}, written beside it" if twin.is_file() else
                    "; a student's .safetensors is needed (distill, kickstart and multitask write one)")
        raise InputError(f"{path}: not a readable safetensors file ({type(exc).__name__}){hint}") from None
    try:
        header = json.loads(metadata[METADATA_KEY])
        if header.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{path}: unsupported student format version {header.get('format_version')}")
        if "tasks" in header:
            from rl_distill.artifacts.multitask import MultiTaskNet

            net = MultiTaskNet(header)
        else:
            net = StudentNet(header)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: missing or malformed rl_distill header ({type(exc).__name__}: {exc})") from None
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise InputError(f"{path}: weights do not match the header's architecture ({first})") from None
    net.eval()
    return Student(net=net, header=header, path=path)
