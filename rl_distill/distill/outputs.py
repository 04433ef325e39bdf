"""What a distillation run leaves behind, and what makes a checkpoint that run's.

Student files (SB3 zip, statistics tied to it, ``.safetensors`` with provenance) are written the same
way by ``distill`` and ``kickstart``; a run's identity (teacher file, its statistics, the settings)
is what ``--resume`` checks a checkpoint against.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from stable_baselines3 import PPO

from rl_distill.sb3.policies import LoadedPolicy


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def teacher_identity(teacher: LoadedPolicy) -> dict[str, str | None]:
    """A teacher file's digest and its statistics' (a resumed run must have the same)."""
    stats = teacher.normalization
    digest = None
    if stats is not None:
        blob = stats.obs_rms.mean.tobytes() + stats.obs_rms.var.tobytes() + repr(stats.clip_obs).encode()
        digest = hashlib.sha256(blob).hexdigest()
    return {"teacher_sha256": file_sha256(teacher.path), "normalization_sha256": digest}


def run_identity(config: Any, teacher: LoadedPolicy) -> dict[str, Any]:
    """What makes a checkpoint this run's: the teacher file, its statistics, the env and the settings."""
    return {**teacher_identity(teacher), **config.identity()}


def result_summary(result: Any) -> dict:
    return {"config": asdict(result.config), "wall_seconds": result.wall_seconds,
            "eval_seconds": result.eval_seconds, "env_seconds": result.env_seconds,
            "rounds": [asdict(r) for r in result.rounds], "kept": getattr(result, "kept", None)}  # fmt: skip


def save_student(result: Any, teacher: LoadedPolicy, out: Path, name: str = "student") -> Path:
    """Save a distilled student (see :func:`save_student_model`), its settings in the provenance."""
    return save_student_model(result.student, teacher, out, name=name, env_id=result.config.env_id,
                              settings={"distillation": asdict(result.config)})  # fmt: skip


def save_student_model(model: PPO, teacher: LoadedPolicy, out: Path, *, name: str, env_id: str,
                       settings: dict[str, Any]) -> Path:  # fmt: skip
    """``<out>/<name>.zip`` (an SB3 PPO model) with the teacher's statistics tied to it, and
    ``<name>.safetensors``, the pickle-free artifact with the statistics inside; all atomically.
    The artifact records the task (env id and kwargs), the teacher and ``settings``."""
    from rl_distill.artifacts.student import export_sb3_student
    from rl_distill.io import atomic_write
    from rl_distill.sb3.envs import split_env
    from rl_distill.sb3.policies import policy_parameters
    from rl_distill.sb3.training import normalization_name

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.zip"
    atomic_write(path, lambda tmp: model.save(tmp))
    if teacher.normalization is not None:
        atomic_write(out / normalization_name(name), lambda tmp: teacher.normalization.save(str(tmp)))
    provenance = {"env_id": env_id, "env_kwargs": split_env(env_id)[1], "teacher": str(teacher.path),
                  "teacher_policy_params": policy_parameters(teacher.policy), **settings}  # fmt: skip
    export_sb3_student(model.policy, teacher.normalization, out / f"{name}.safetensors", provenance)
    return path
