"""Many teachers, one student (Rusu et al. 2016, policy distillation): ``rl-distill multitask``.

Each task (an env, with kwargs when its dynamics are changed, and that task's teacher) gets its
own :class:`~rl_distill.distill.collect.Collector`: its envs, its teacher's labels, its buffer. A
round collects an equal share of steps in every task; each minibatch takes an equal share of states
from every task's buffer, and the loss is the mean of the per-task losses (each logged). The student
is an :class:`~rl_distill.artifacts.multitask.MultiTaskNet`, trained on raw observations, so the
artifact it is saved as normalises exactly as it was trained.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv

from rl_distill.artifacts.multitask import TASK_ID_MODES, MultiTaskNet, pooled_normalization, space_groups
from rl_distill.artifacts.student import (
    Student,
    normalization_header,
    observation_shape,
    save_artifact,
    space_header,
)
from rl_distill.distill.checkpoint import check_identity, load_checkpoint, save_checkpoint
from rl_distill.distill.collect import Collector, NetActor
from rl_distill.distill.config import DistillConfig, resolve_collect_actions, resolve_collect_all
from rl_distill.distill.loop import action_bounds, adam, collect_beta, fresh_gap, rounds_of, train_round
from rl_distill.distill.outputs import teacher_identity
from rl_distill.errors import InputError
from rl_distill.progress import Progress
from rl_distill.sb3.actor import Actor
from rl_distill.sb3.envs import check_env_id, join_env, split_env
from rl_distill.sb3.policies import LoadedPolicy, policy_parameters

TaskId = Literal["onehot", "none"]


def parse_task(text: str) -> tuple[str, Path, Path | None]:
    """``ENV[:KWARGS_JSON]=TEACHER_ZIP[,STATS_PKL]`` -> (canonical task string, teacher path, the teacher's
    VecNormalize statistics or None: found beside the teacher, as for one teacher)."""
    cut = text.find("}=")
    env, teacher = (text[: cut + 1], text[cut + 2 :]) if cut >= 0 else text.partition("=")[::2]
    zip_path, comma, stats = teacher.rpartition(",")
    if comma and stats.lower().endswith(".pkl"):
        teacher = zip_path
    else:
        stats = ""
    if not env or not teacher:
        raise InputError(f"--task must look like ENV[:KWARGS_JSON]=TEACHER_ZIP[,STATS_PKL], got {text!r}")
    env_id, kwargs = split_env(env)
    check_env_id(env_id)
    return join_env(env_id, kwargs), Path(teacher), Path(stats) if stats else None


@dataclass(frozen=True)
class MultitaskConfig(DistillConfig):
    """The settings of ``distill`` (per task: ``n_envs``, ``buffer_size``; in total: ``steps``,
    ``steps_per_round``, ``batch_size``), plus the tasks. ``env_id`` is the tasks joined by ' + '."""

    tasks: tuple[str, ...] = ()
    """One task string (ENV or ENV:KWARGS_JSON) per teacher, in order."""
    task_id: TaskId = "onehot"
    """onehot: the student gets the task's index as an input; none: it must tell tasks apart by what it sees."""

    def validate(self) -> None:
        super().validate()
        if self.max_steps is not None:
            raise InputError("--max-steps is distill's (one task); multitask collects exactly --steps")
        if not self.tasks:
            raise InputError("give at least one --task ENV=TEACHER_ZIP")
        twice = sorted({t for t in self.tasks if self.tasks.count(t) > 1})
        if twice:
            raise InputError(f"task {twice[0]} is given twice; each --task must differ (env or kwargs)")
        if self.task_id not in TASK_ID_MODES:
            raise InputError(f"--task-id must be one of {', '.join(TASK_ID_MODES)}, got {self.task_id!r}")
        if self.steps_per_round // len(self.tasks) < self.n_envs:
            raise InputError(f"--steps-per-round ({self.steps_per_round}) must give each of the {len(self.tasks)} "
                             f"tasks at least --n-envs ({self.n_envs}) steps")  # fmt: skip


def multitask_config(tasks: list[str], **settings: Any) -> MultitaskConfig:
    return MultitaskConfig(env_id=" + ".join(tasks), tasks=tuple(tasks), **settings)


def share(total: int, index: int, parts: int) -> int:
    """Task ``index``'s part of ``total`` split evenly over ``parts`` (the first ones take the remainder)."""
    return total // parts + (index < total % parts)


@dataclass(frozen=True)
class MultitaskRound:
    """One round over all tasks, as logged; per-task lists follow the task order."""

    round: int
    env_steps: int
    beta: float
    loss: float
    task_env_steps: list[int]
    task_loss: list[float]
    task_eval_mean_return: list[float] | None
    wall_seconds: float
    eval_seconds: float
    steps_per_second: float
    task_action_gap: list[float] | None = None
    """Each task's action gap this round (``RoundLog.action_gap``); None in logs written before it existed."""


@dataclass
class MultitaskResult:
    config: MultitaskConfig
    student: Student
    rounds: list[MultitaskRound] = field(default_factory=list)
    wall_seconds: float = 0.0
    eval_seconds: float = 0.0
    env_seconds: float = 0.0


def student_header(config: MultitaskConfig, teachers: list[LoadedPolicy], venvs: list[VecEnv]) -> dict:
    """The artifact header: architecture, and per task its spaces, normalisation and provenance."""
    tasks = []
    for task, teacher, venv in zip(config.tasks, teachers, venvs, strict=True):
        norm = normalization_header(teacher.normalization)
        tasks.append({"name": task, "env_id": task, "env_kwargs": split_env(task)[1],
                      "observation_space": space_header(venv.observation_space),
                      "action_space": space_header(venv.action_space), "normalization": norm,
                      "teacher": str(teacher.path), "teacher_policy_params": policy_parameters(teacher.policy)})
    if config.task_id == "none":  # a group runs one policy, so one normalisation
        groups = space_groups(tasks)
        for group in set(groups):
            members = [t for t, g in zip(tasks, groups, strict=True) if g == group]
            pooled = pooled_normalization([t["normalization"] for t in members])
            for t in members:
                t["normalization"] = pooled
    return {"env_id": config.env_id, "tasks": tasks,
            "architecture": {"hidden": list(config.student_hidden), "activation": "tanh", "task_id": config.task_id},
            "distillation": asdict(config)}  # fmt: skip


def distill_multitask(
    config: MultitaskConfig,
    teachers: list[LoadedPolicy],
    *,
    out: Path,
    progress_bar: bool = True,
    resume: bool = False,
    on_round: Callable[[MultitaskRound], None] | None = None,
) -> MultitaskResult:
    """Distil every task's teacher into one student; checkpoints to ``<out>/student.ckpt`` after each round."""
    from rl_distill.evaluation.evaluate import RawObservationAgent, evaluate

    config.validate()
    torch.manual_seed(config.seed)
    venvs = [teacher.make_env(task, n_envs=config.n_envs, seed=config.seed + 10_000 * k)
             for k, (task, teacher) in enumerate(zip(config.tasks, teachers, strict=True))]  # fmt: skip
    for teacher in teachers:
        teacher.policy.set_training_mode(False)
    checkpoint = out / "student.ckpt"
    state = load_checkpoint(checkpoint) if resume and checkpoint.exists() else None
    config = config.continuing(None if state is None else state.get("identity", {}))
    scheme = resolve_collect_all(config.collect, [venv.action_space for venv in venvs])
    config = replace(config, collect=scheme)  # type: ignore[arg-type]
    modes = [resolve_collect_actions(config.collect_actions, venv.action_space, config.collect) for venv in venvs]
    if len(set(modes)) == 1:  # recorded as the mode every task used; 'auto' over Box and discrete tasks
        config = replace(config, collect_actions=modes[0])  # type: ignore[arg-type]
    header = student_header(config, teachers, venvs)
    net = MultiTaskNet(header)
    students = [NetActor(task_net) for task_net in net.task_nets]
    collectors = [Collector(venv, Actor(teacher.policy, n_envs=config.n_envs,
                                        sde_sample_freq=getattr(teacher.model, "sde_sample_freq", -1)),
                            student, capacity=config.buffer_size, raw_inputs=True,
                            collect_actions=mode, noise_cap=config.noise_cap)
                  for teacher, venv, student, mode in zip(teachers, venvs, students, modes, strict=True)]  # fmt: skip
    parts = [(student, c.buffer, action_bounds(c.venv.action_space, config.bounds))
             for student, c in zip(students, collectors, strict=True)]  # fmt: skip
    optimizer = adam(list(net.parameters()), config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)  # minibatches
    action_generator = torch.Generator().manual_seed(config.seed + 1)  # sampled actions
    rng = np.random.default_rng(config.seed)  # DAgger's coin
    result = MultitaskResult(config=config, student=Student(net=net, header=header, path=out / "student.safetensors"))
    identity = {"teachers": [teacher_identity(t) for t in teachers], **config.identity()}
    n = len(config.tasks)
    budgets = [share(config.steps, k, n) for k in range(n)]
    first_round = 0
    if state is not None:
        check_identity(checkpoint, state.get("identity", {}), identity)
        net.load_state_dict(state["student"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        action_generator.set_state(state["action_generator"])
        rng.bit_generator.state = state["rng"]
        first_round = state["next_round"]
        for k, collector in enumerate(collectors):
            collector.buffer.load_state_dict(state["buffers"][k])
            collector.env_steps = state["task_env_steps"][k]
            collector.restart(config.seed + 10_000 * k + 1_000 * first_round)
        result.wall_seconds, result.eval_seconds, result.env_seconds = state["elapsed"], state["eval_seconds"], \
            state["env_seconds"]  # fmt: skip
        result.rounds = [MultitaskRound(**r) for r in state["rounds"]]

    def evaluate_tasks() -> list[float]:
        views = [result.student.for_task(str(k)) for k in range(n)]
        agents = [RawObservationAgent(v, v.path, observation_shape(v.header["observation_space"])) for v in views]
        return [evaluate(agent, task, episodes=config.eval_episodes).mean_return
                for agent, task in zip(agents, config.tasks, strict=True)]  # fmt: skip

    out.mkdir(parents=True, exist_ok=True)  # only now: bad tasks or teachers above leave nothing behind
    total_rounds = rounds_of(config.steps, config.steps_per_round)
    done = sum(c.env_steps for c in collectors)
    bar = Progress(config.steps, f"multitask {config.collect}", initial=done, enabled=progress_bar, line_every=0)
    try:
        for round_index in range(first_round, total_rounds):
            started = time.perf_counter()
            beta = collect_beta(config, round_index)
            env_seconds = sum(c.env_seconds for c in collectors)
            gaps = []
            for k, (collector, student) in enumerate(zip(collectors, students, strict=True)):
                last = round_index == total_rounds - 1
                end = budgets[k] if last else min((round_index + 1) * share(config.steps_per_round, k, n), budgets[k])
                before = collector.env_steps
                collector.collect(end, budget=budgets[k], beta=beta, rng=rng, generator=action_generator,
                                  on_steps=bar.update)  # fmt: skip
                gaps.append(fresh_gap(student, collector.buffer, collector.env_steps - before,
                                      collector.venv.action_space))  # fmt: skip
            result.env_seconds += sum(c.env_seconds for c in collectors) - env_seconds
            task_loss = train_round(parts, optimizer, config, generator, round_index)
            result.wall_seconds += time.perf_counter() - started
            returns = None
            if config.eval_episodes:
                eval_started = time.perf_counter()
                returns = evaluate_tasks()
                result.eval_seconds += time.perf_counter() - eval_started
            steps = sum(c.env_steps for c in collectors)
            log = MultitaskRound(round=round_index, env_steps=steps, beta=beta, loss=sum(task_loss) / n,
                                 task_env_steps=[c.env_steps for c in collectors], task_loss=task_loss,
                                 task_eval_mean_return=returns, wall_seconds=result.wall_seconds,
                                 eval_seconds=result.eval_seconds, task_action_gap=gaps,
                                 steps_per_second=steps / max(result.wall_seconds, 1e-9))  # fmt: skip
            result.rounds.append(log)
            saving = time.perf_counter()
            save_checkpoint(checkpoint, {
                "identity": identity, "student": net.state_dict(), "optimizer": optimizer.state_dict(),
                "buffers": [c.buffer.state_dict() for c in collectors], "generator": generator.get_state(),
                "action_generator": action_generator.get_state(), "rng": rng.bit_generator.state,
                "next_round": round_index + 1, "task_env_steps": [c.env_steps for c in collectors],
                "elapsed": result.wall_seconds, "eval_seconds": result.eval_seconds, "env_seconds": result.env_seconds,
                "rounds": [asdict(r) for r in result.rounds],
            })  # fmt: skip
            result.wall_seconds += time.perf_counter() - saving
            bar.write(round_line(log))
            if on_round:
                on_round(log)
    finally:  # on Ctrl-C nothing is saved: the checkpoint holds the last complete round
        bar.close()
        for collector in collectors:
            collector.venv.close()
    return result


def round_line(log: MultitaskRound) -> str:
    returns = log.task_eval_mean_return
    per_task = " / ".join(f"{x:.1f}" for x in returns) if returns else "-"
    losses = " / ".join(f"{x:.4f}" for x in log.task_loss)
    gaps = " / ".join(f"{x:.4f}" for x in log.task_action_gap) if log.task_action_gap else "-"
    return (f"round {log.round:3d}  env_steps {log.env_steps:8,d}  beta {log.beta:.3f}  loss {losses}  "
            f"action_gap {gaps}  episodic_return {per_task}  SPS {log.steps_per_second:,.0f}")


def save_multitask(result: MultitaskResult, out: Path) -> Path:
    """``<out>/student.safetensors``: the multi-task artifact (``load_student(path).act(obs, task=NAME)``)."""
    out.mkdir(parents=True, exist_ok=True)
    return save_artifact(result.student.net, result.student.header, out / "student.safetensors")
