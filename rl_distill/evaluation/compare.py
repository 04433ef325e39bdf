"""Compare a teacher with its students (and PPO-from-scratch baselines): return, size, latency."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from rl_distill.artifacts.student import load_student, observation_shape
from rl_distill.evaluation.evaluate import (
    Agent,
    EvalResult,
    evaluate,
    evaluate_random,
    load_agent,
    predict_latency_us,
)
from rl_distill.io import atomic_write_json, atomic_write_text
from rl_distill.sb3.policies import LoadedPolicy, load_policy, policy_parameters

ROLES = ("teacher", "student", "scratch", "kickstart")


@dataclass(frozen=True)
class CompareRow:
    name: str
    role: str
    path: str
    mean_return: float
    std_return: float
    ci95: tuple[float, float]
    episodes: int
    policy_params: int
    compression_ratio: float
    """Teacher policy parameters / this model's."""
    percent_of_teacher: float | None
    """100 * mean return / teacher's mean return; None when the teacher's is not positive (Acrobot, Pendulum),
    where a ratio of returns reads backwards: see score."""
    score: float
    """(return - random) / (teacher - random): 1 matches the teacher, 0 is a random policy."""
    latency_us: float
    """Median microseconds per SB3 ``predict`` call on one observation."""
    fast_latency_us: float
    """Median microseconds per action on one observation through ``fast_path``, the way to deploy it."""
    fast_path: str
    """``onnxruntime`` (the model exported like a student), or ``torch`` (``load_student``) without onnxruntime."""


def fastest_latency_us(policy: LoadedPolicy, env_id: str) -> tuple[float, str]:
    """Batch-1 latency of any MLP policy (teacher or student) once written as a student artifact and exported:
    what a deployer pays, without SB3's ``predict`` overhead, which is the same for every network size."""
    from rl_distill.artifacts.student import export_sb3_student

    with tempfile.TemporaryDirectory() as tmp:
        artifact = export_sb3_student(policy.policy, policy.normalization, Path(tmp) / "model.safetensors",
                                      {"env_id": env_id}, greedy_only=True)  # fmt: skip
        return artifact_latency_us(artifact, env_id)


def artifact_latency_us(artifact: Path, env_id: str, task: str | None = None) -> tuple[float, str]:
    """Batch-1 latency of a student artifact (one task of a multi-task one) exported to ONNX, or through
    ``load_student`` when onnxruntime is missing; returns the latency and the path taken."""
    from rl_distill.artifacts.export import export_student, load_onnx
    from rl_distill.errors import InputError
    from rl_distill.evaluation.evaluate import RawObservationAgent

    student = load_student(artifact).for_task(task)
    shape = observation_shape(student.header["observation_space"])
    with tempfile.TemporaryDirectory() as tmp:
        try:
            export_student(artifact, "onnx", Path(tmp) / "model.onnx", task=task)
            agent, path = RawObservationAgent(load_onnx(Path(tmp) / "model.onnx"), artifact, shape), "onnxruntime"
        except InputError:  # no onnxruntime installed
            agent, path = RawObservationAgent(student, artifact, shape), "torch"
        return predict_latency_us(agent, env_id), path


def score(value: float, teacher: float, random: float) -> float:
    return (value - random) / (teacher - random) if teacher != random else float("nan")


def compare(
    env_id: str,
    teacher: Path,
    students: list[Path],
    scratch: list[Path] | None = None,
    kickstart: list[Path] | None = None,
    *,
    episodes: int = 100,
    deterministic: bool = True,
    vecnormalize: Path | None = None,
    task: str | None = None,
    progress: bool = False,
) -> tuple[list[CompareRow], EvalResult]:
    """Evaluate every model on the same seeds; returns the rows and the random policy's result.

    Students may be SB3 zips or ``.safetensors`` artifacts; a multi-task artifact acts in ``task``
    (default: the task whose name or env id is ``env_id``), so each task gets its own table. ``progress``: a
    bar of each model's episodes."""
    entries = [(teacher, "teacher"), *[(p, "student") for p in students], *[(p, "scratch") for p in scratch or []],
               *[(p, "kickstart") for p in kickstart or []]]  # fmt: skip
    # every file is read before the first episode, so a wrong one fails at once, not after minutes of evaluation
    agents = [load_entry(path, role, env_id, task, vecnormalize) for path, role in entries]
    rows = []
    random = evaluate_random(env_id, episodes=episodes)
    names = row_names([path for path, _ in entries[1:]])
    for (path, role), (agent, chosen) in zip(entries, agents, strict=True):
        if path.suffix.lower() == ".safetensors":
            params = sum(p.numel() for p in agent.policy.net.parameters())
            fast_latency, fast_path = artifact_latency_us(path, env_id, chosen)
        else:
            params = policy_parameters(agent.policy)
            fast_latency, fast_path = fastest_latency_us(agent, env_id)
        name = names[path] if role != "teacher" else "teacher"
        result = evaluate(agent, env_id, episodes=episodes, deterministic=deterministic,
                          progress=f"evaluate {name}" if progress else None)  # fmt: skip
        if role == "teacher":
            teacher_result, teacher_params = result, params
        rows.append(CompareRow(
            name=name, role=role, path=str(path),
            mean_return=result.mean_return, std_return=result.std_return, ci95=result.ci95,
            episodes=result.episodes, policy_params=params, compression_ratio=teacher_params / params,
            percent_of_teacher=100.0 * result.mean_return / teacher_result.mean_return
            if teacher_result.mean_return > 0 else None,
            score=score(result.mean_return, teacher_result.mean_return, random.mean_return),
            latency_us=predict_latency_us(agent, env_id),
            fast_latency_us=fast_latency, fast_path=fast_path,
        ))  # fmt: skip
    return rows, random


def load_entry(path: Path, role: str, env_id: str, task: str | None,
               vecnormalize: Path | None) -> tuple[Agent, str | None]:  # fmt: skip
    """The model at ``path`` and, for a student artifact, the task it acts in (a multi-task student: ``task`` or
    the one named ``env_id``)."""
    if path.suffix.lower() == ".safetensors":
        chosen = (task or env_id) if load_student(path).tasks else task
        return load_agent(path, env_id, task=chosen), chosen
    return load_policy(path, env_id, vecnormalize=vecnormalize if role == "teacher" else None), None


def row_names(paths: list[Path]) -> dict[Path, str]:
    """Each model's file stem, or as much more of its path as tells apart models that share a stem
    (``dagger/student`` and ``plain/student``; ``student.zip`` and ``student.safetensors``)."""
    for name in (lambda p: p.stem, lambda p: f"{p.parent.name}/{p.stem}", lambda p: f"{p.parent.name}/{p.name}"):
        names = {path: name(path) for path in paths}
        if len(set(names.values())) == len(names):
            break
    return names


def markdown(rows: list[CompareRow], env_id: str, random: EvalResult) -> str:
    lines = [
        f"{env_id}: {rows[0].episodes} evaluation episodes per model (fixed seeds); random policy "
        f"{random.mean_return:.1f}.",
        "",
        "| model | role | mean return ± 95% CI | % of teacher | score | policy params | compression | "
        "latency µs, SB3 predict | latency µs, deployed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        half = (r.ci95[1] - r.ci95[0]) / 2
        percent = "-" if r.percent_of_teacher is None else f"{r.percent_of_teacher:.1f}%"
        lines.append(f"| {r.name} | {r.role} | {r.mean_return:.1f} ± {half:.1f} | {percent} | "
                     f"{r.score:.3f} | {r.policy_params:,} | {r.compression_ratio:.1f}x | {r.latency_us:.0f} | "
                     f"{r.fast_latency_us:.1f} ({r.fast_path}) |")
    lines += ["", "Latency: median over repeated calls on one observation. SB3's `predict` costs about the same "
              "for any network; 'deployed' is the model written as a student artifact and exported (normalisation "
              "inside), which is where a smaller network pays off."]
    return "\n".join(lines) + "\n"


def write_compare(rows: list[CompareRow], random: EvalResult, env_id: str, out: Path) -> None:
    atomic_write_json(out / "compare.json", {"env_id": env_id, "random_mean_return": random.mean_return,
                                             "rows": [asdict(r) for r in rows]})  # fmt: skip
    atomic_write_text(out / "compare.md", markdown(rows, env_id, random))
