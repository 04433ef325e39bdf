"""``rl-distill multitask``: load every task's teacher, distil them into one student, write the artifact."""

from __future__ import annotations

from pathlib import Path

from rl_distill.distill.multitask import MultitaskConfig, MultitaskRound, distill_multitask, save_multitask
from rl_distill.distill.outputs import result_summary
from rl_distill.io import atomic_write_json
from rl_distill.progress import ScalarLog
from rl_distill.sb3.policies import load_policy


def run_multitask(config: MultitaskConfig, teacher_paths: list[Path], out: Path, *, resume: bool = False,
                  vecnormalize: list[Path | None] | None = None, tensorboard: str | None = None,
                  progress_bar: bool = True) -> Path:  # fmt: skip
    """Writes ``<out>/student.safetensors`` and ``<out>/student.json`` (settings, per-round, per-task log);
    every teacher is loaded and checked against its task before anything is written. ``vecnormalize``: each
    teacher's statistics (None, or a None entry: found beside it)."""
    config.validate()
    stats = vecnormalize or [None] * len(teacher_paths)
    teachers = [load_policy(path, task, vecnormalize=pkl)
                for task, path, pkl in zip(config.tasks, teacher_paths, stats, strict=True)]  # fmt: skip
    scalars = ScalarLog(tensorboard)

    def log_round(log: MultitaskRound) -> None:
        returns = log.task_eval_mean_return or [None] * len(config.tasks)
        gaps = log.task_action_gap or []
        scalars.add(log.env_steps, {"distill/loss": log.loss, "charts/SPS": log.steps_per_second,
                                    **{f"distill/loss/task{k}": x for k, x in enumerate(log.task_loss)},
                                    **{f"distill/action_gap/task{k}": x for k, x in enumerate(gaps)},
                                    **{f"charts/episodic_return/task{k}": x for k, x in enumerate(returns)}})

    result = distill_multitask(config, teachers, out=out, resume=resume, on_round=log_round,
                               progress_bar=progress_bar)  # fmt: skip
    scalars.close()
    path = save_multitask(result, out)
    atomic_write_json(out / "student.json", {"tasks": list(config.tasks), "teachers": [str(p) for p in teacher_paths],
                                             **result_summary(result)})  # fmt: skip
    return path
