"""Multi-task students (Rusu et al. 2016): one shared trunk, an input layer and an action head per space.

Tasks whose observation and action spaces are identical form a *group* and share everything; a
group of its own gets its own input layer (observation size) and action head (action space), as
Rusu et al. gave each game its own output branch. With ``task_id = "onehot"`` each task's index is
appended to its (normalised) observation; with ``"none"`` the student must tell the tasks of a
group apart from what it observes, and the group normalises with statistics pooled over its tasks,
so its tasks really run one and the same policy.

Each task runs through an ordinary :class:`~rl_distill.artifacts.student.StudentNet` whose layers
are the shared ones, so acting, evaluation and export of one task are those of a single-task student.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from torch import nn

from rl_distill.artifacts.student import ACTIVATIONS, SharedLayers, StudentNet
from rl_distill.errors import InputError
from rl_distill.sb3.envs import split_env

TASK_ID_MODES: tuple[str, ...] = ("onehot", "none")


def space_groups(tasks: list[dict[str, Any]]) -> list[int]:
    """Each task's group: tasks with identical observation and action spaces share one, in order of first use."""
    keys: list[str] = []
    groups = []
    for task in tasks:
        key = json.dumps([task["observation_space"], task["action_space"]], sort_keys=True)
        if key not in keys:
            keys.append(key)
        groups.append(keys.index(key))
    return groups


def observation_size(space: dict[str, Any]) -> int:
    return int(space["n"]) if space["type"] == "Discrete" else int(np.prod(space["shape"]))


def action_size(space: dict[str, Any]) -> int:
    return int(space["n"]) if space["type"] == "Discrete" else int(np.prod(space["shape"]))


class MultiTaskNet(nn.Module):
    """The trainable layers (``inputs``, ``trunk``, ``heads``, ``log_stds``) and one :class:`StudentNet`
    view per task in ``task_nets`` (not registered: their layers are these, their buffers come from the header)."""

    def __init__(self, header: dict[str, Any]) -> None:
        super().__init__()
        tasks, arch = header["tasks"], header["architecture"]
        hidden, activation = list(arch["hidden"]), ACTIVATIONS[arch["activation"]]
        if arch.get("task_id") not in TASK_ID_MODES:
            raise ValueError(f"task_id must be one of {TASK_ID_MODES}, got {arch.get('task_id')!r}")
        code_size = len(tasks) if arch["task_id"] == "onehot" else 0
        groups = space_groups(tasks)
        trunk: list[nn.Module] = [activation()]
        for width, size in zip(hidden, hidden[1:], strict=False):
            trunk += [nn.Linear(width, size), activation()]
        self.trunk = nn.Sequential(*trunk)
        self.inputs, self.heads, self.log_stds = nn.ModuleList(), nn.ModuleList(), nn.ParameterDict()
        for group in range(max(groups) + 1):
            first = tasks[groups.index(group)]
            self.inputs.append(nn.Linear(observation_size(first["observation_space"]) + code_size, hidden[0]))
            self.heads.append(nn.Linear(hidden[-1], action_size(first["action_space"])))
            if first["action_space"]["type"] == "Box":
                self.log_stds[str(group)] = nn.Parameter(torch.zeros(action_size(first["action_space"])))
        self.task_nets: list[StudentNet] = []
        for index, (task, group) in enumerate(zip(tasks, groups, strict=True)):
            code = torch.eye(len(tasks))[index] if code_size else torch.zeros(0)
            shared = SharedLayers(nn.Sequential(self.inputs[group], *self.trunk), self.heads[group],
                                  self.log_stds.get(str(group), None), code)
            self.task_nets.append(StudentNet({**task, "architecture": arch}, shared=shared))


def task_index(names: list[str], task: str | None, what: str) -> int:
    """The index of ``task`` among ``names``: its full name, its env id when only one task has it, or its index."""
    listing = ", ".join(repr(n) for n in names)
    if task is None:
        if len(names) == 1:
            return 0
        raise InputError(f"{what} is a multi-task student; pass --task with one of {listing}")
    if task in names:
        return names.index(task)
    if task.isdigit() and int(task) < len(names):
        return int(task)
    by_id = [i for i, name in enumerate(names) if split_env(name)[0] == task]
    if len(by_id) == 1:
        return by_id[0]
    why = "several tasks use that env; give its full name" if by_id else "no such task"
    raise InputError(f"{what}: {why} ({task!r}); tasks: {listing}")


def pooled_normalization(stats: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """One normalisation for a group of tasks: mean and variance of the equal mixture of theirs
    (a task without statistics counts as mean 0, variance 1), the widest clip."""
    present = [s for s in stats if s is not None]
    if not present:
        return None
    size = len(present[0]["mean"])
    means = np.array([s["mean"] if s else [0.0] * size for s in stats], dtype=np.float64)
    variances = np.array([s["var"] if s else [1.0] * size for s in stats], dtype=np.float64)
    mean = means.mean(axis=0)
    var = (variances + means**2).mean(axis=0) - mean**2
    return {"mean": mean.tolist(), "var": np.maximum(var, 0.0).tolist(),
            "clip": max(float(s["clip"]) for s in present), "epsilon": float(present[0]["epsilon"])}  # fmt: skip
