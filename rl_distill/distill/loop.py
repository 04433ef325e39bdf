"""Policy distillation: roll out (teacher, student or a DAgger mixture), label every visited state
with the teacher's action distribution, and fit the student to it with the shared KL loss.

Read top to bottom: what a round logs and a run returns, the loop (``distill``), then one training round;
the settings are ``DistillConfig`` in config.py.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv

from rl_distill.distill.budget import gap_still_falling, why_stopped
from rl_distill.distill.buffer import DistillationBuffer
from rl_distill.distill.checkpoint import check_identity, load_checkpoint, save_checkpoint
from rl_distill.distill.collect import Acting, Collector
from rl_distill.distill.config import DistillConfig
from rl_distill.distill.outputs import run_identity
from rl_distill.losses import ActionBounds, BoundMode, policy_distillation_loss
from rl_distill.progress import Progress
from rl_distill.sb3.actor import Actor, decode_rows, greedy_gap
from rl_distill.sb3.policies import LoadedPolicy, actor_parameters, make_student
from rl_distill.sb3.presets import linear_schedule


@dataclass(frozen=True)
class RoundLog:
    """One collection + training round, as logged."""

    round: int
    env_steps: int
    teacher_queries: int
    beta: float
    loss: float
    buffer_states: int
    eval_mean_return: float | None
    wall_seconds: float
    """Distillation time so far (collection, training, checkpoints), per-round evaluation excluded."""
    eval_seconds: float
    """Per-round evaluation time so far."""
    steps_per_second: float
    """env_steps / wall_seconds."""
    action_gap: float | None = None
    """How far the student's greedy actions were from the teacher's on this round's new states, before it trained
    on them (``actor.greedy_gap``: a share of states, or of the action range): its imitation error on states it has
    not fitted yet, measured without evaluation episodes. None in logs written before it existed."""


@dataclass
class DistillResult:
    config: DistillConfig
    student: PPO
    rounds: list[RoundLog] = field(default_factory=list)
    wall_seconds: float = 0.0
    """Distillation time, per-round evaluation excluded."""
    eval_seconds: float = 0.0
    env_seconds: float = 0.0
    """Part of ``wall_seconds`` spent inside the envs' ``step`` (the rest is the distillation's own cost)."""
    stopped: str = "steps"
    """Why collection ended: ``steps`` (the budget), or with ``max_steps`` ``gap`` (the action gap stopped
    falling) or ``max_steps``."""
    kept: dict[str, Any] | None = None
    """With ``keep_best``: the round the student was kept from (``round``, ``env_steps``, ``mean_return``)."""


def adam(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with the fused CPU kernel (about a third less time per step for small students) where torch has it."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):  # torch < 2.4 has no fused CPU Adam
        return torch.optim.Adam(params, lr=lr)


def round_learning_rate(config: DistillConfig, round_index: int) -> float:
    """The rate of one round's updates (see ``DistillConfig.lr_decay``)."""
    if not config.lr_decay:
        return config.learning_rate
    # the linear decay kickstart's --lr-decay uses too, with the round standing for SB3's progress
    return linear_schedule(config.learning_rate)(1 - round_index / rounds_of(config.steps, config.steps_per_round))


def action_bounds(space: gym.Space, mode: BoundMode) -> ActionBounds | None:
    if not isinstance(space, gym.spaces.Box):
        return None
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32).flatten()  # noqa: E731
    return ActionBounds(as_tensor(space.low), as_tensor(space.high), mode)


def distill(
    config: DistillConfig,
    teacher: LoadedPolicy,
    *,
    evaluate_student: Callable[[PPO], float] | None = None,
    on_round: Callable[[RoundLog], None] | None = None,
    progress_bar: bool = True,
    checkpoint: Path | None = None,
    resume: bool = False,
) -> DistillResult:
    """Distil ``teacher`` into a fresh student; returns the student and a log per round.

    With ``checkpoint``, the state is saved atomically after every complete round (an interrupted
    round saves nothing, so the file always holds a round boundary); with ``resume`` too, a run
    continues from there, after checking the checkpoint belongs to this teacher and these settings.
    """
    config.validate()
    torch.manual_seed(config.seed)
    venv: VecEnv = teacher.make_env(config.env_id, n_envs=config.n_envs, seed=config.seed)
    state = load_checkpoint(checkpoint) if resume and checkpoint is not None and checkpoint.exists() else None
    config = config.continuing(None if state is None else state.get("identity", {})).resolved(venv.action_space)
    student = make_student(venv, config.student_hidden, seed=config.seed)
    teacher_actor = Actor(teacher.policy, n_envs=config.n_envs, sde_sample_freq=getattr(teacher.model,
                          "sde_sample_freq", -1))  # fmt: skip
    teacher.policy.set_training_mode(False)
    student_actor = Actor(student.policy)
    collector = Collector(venv, teacher_actor, student_actor, capacity=config.buffer_size, raw_inputs=False,
                          collect_actions=config.collect_actions, noise_cap=config.noise_cap)
    optimizer = adam(actor_parameters(student.policy), config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)  # minibatches
    action_generator = torch.Generator().manual_seed(config.seed + 1)  # sampled actions
    rng = np.random.default_rng(config.seed)  # DAgger's coin
    bounds = action_bounds(venv.action_space, config.bounds)
    result = DistillResult(config=config, student=student)
    identity = run_identity(config, teacher)
    buffer = collector.buffer
    best: dict[str, Any] | None = None  # keep_best: the best round so far, its weights under "student"

    first_round = 0
    if state is not None and checkpoint is not None:
        check_identity(checkpoint, state.get("identity", {}), identity)
        student.policy.load_state_dict(state["student"])
        optimizer.load_state_dict(state["optimizer"])
        buffer.load_state_dict(state["buffer"])
        generator.set_state(state["generator"])
        action_generator.set_state(state["action_generator"])
        rng.bit_generator.state = state["rng"]
        first_round, collector.env_steps = state["next_round"], state["env_steps"]
        result.wall_seconds, result.eval_seconds = state["elapsed"], state["eval_seconds"]
        collector.env_seconds = result.env_seconds = state["env_seconds"]
        result.rounds = [RoundLog(**r) for r in state["rounds"]]
        best = state.get("best") if config.keep_best else None  # resumed without it: the last round, as asked
        collector.restart(config.seed + 1_000 * first_round)

    def save(next_round: int) -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                "identity": identity, "student": student.policy.state_dict(), "optimizer": optimizer.state_dict(),
                "buffer": buffer.state_dict(), "generator": generator.get_state(),
                "action_generator": action_generator.get_state(), "rng": rng.bit_generator.state,
                "next_round": next_round, "env_steps": collector.env_steps, "queries": collector.env_steps,
                "elapsed": result.wall_seconds, "eval_seconds": result.eval_seconds, "env_seconds": result.env_seconds,
                "rounds": [asdict(r) for r in result.rounds], "best": best,
            })  # fmt: skip

    # One line per round is the log; on a terminal a bar moves between them.
    bar = Progress(config.steps, f"distil {config.collect}", initial=collector.env_steps, enabled=progress_bar,
                   line_every=0)  # fmt: skip
    base_rounds = rounds_of(config.steps, config.steps_per_round)
    try:
        while keeps_collecting(config, result.rounds, collector.env_steps):
            round_index = len(result.rounds)
            budget = config.steps if round_index < base_rounds else config.max_steps or config.steps
            if bar.total < budget:  # past --steps: the bar counts toward --max-steps
                bar.extend(budget)
            started = time.perf_counter()
            beta = collect_beta(config, round_index)
            student.policy.set_training_mode(False)
            steps_before = collector.env_steps
            collector.collect(min((round_index + 1) * config.steps_per_round, budget), budget=budget,
                              beta=beta, rng=rng, generator=action_generator, on_steps=bar.update)  # fmt: skip
            result.env_seconds = collector.env_seconds
            gap = fresh_gap(student_actor, buffer, collector.env_steps - steps_before, venv.action_space)
            loss = train_round([(student_actor, buffer, bounds)], optimizer, config, generator, round_index)[0]
            result.wall_seconds += time.perf_counter() - started
            eval_return = None
            if evaluate_student:
                eval_started = time.perf_counter()
                eval_return = evaluate_student(student)
                result.eval_seconds += time.perf_counter() - eval_started
            env_steps = collector.env_steps
            if config.keep_best and eval_return is not None and (best is None or eval_return > best["mean_return"]):
                best = {"round": round_index, "env_steps": env_steps, "mean_return": eval_return,
                        "student": copy.deepcopy(student.policy.state_dict())}
            log = RoundLog(round=round_index, env_steps=env_steps, teacher_queries=env_steps, beta=beta, loss=loss,
                           buffer_states=len(buffer), eval_mean_return=eval_return, wall_seconds=result.wall_seconds,
                           eval_seconds=result.eval_seconds, action_gap=gap,
                           steps_per_second=env_steps / max(result.wall_seconds, 1e-9))  # fmt: skip
            result.rounds.append(log)
            saving = time.perf_counter()
            save(round_index + 1)
            result.wall_seconds += time.perf_counter() - saving
            bar.write(round_line(log))
            if on_round:
                on_round(log)
        gaps = [r.action_gap for r in result.rounds]
        if config.max_steps is not None:
            result.stopped = "max_steps" if collector.env_steps >= config.max_steps else "gap"
            bar.write(f"collected {collector.env_steps:,} env steps (--steps {config.steps:,}, --max-steps "
                      f"{config.max_steps:,}): " + ("the budget's end" if result.stopped == "max_steps"
                                                     else why_stopped(gaps, base_rounds)))  # fmt: skip
        elif gaps and not config.lr_decay and gap_still_falling(gaps, base_rounds):  # lr_decay refuses max_steps
            bar.write(f"the action gap was still falling at --steps {config.steps:,}: --max-steps (e.g. "
                      f"{10 * config.steps:,}) collects on while it does")
        if best is not None:
            student.policy.load_state_dict(best["student"])
            result.kept = {key: best[key] for key in ("round", "env_steps", "mean_return")}
            bar.write(f"kept round {best['round']} ({best['env_steps']:,} env steps): episodic_return "
                      f"{best['mean_return']:.1f} on the validation episodes, the best of {len(result.rounds)} rounds "
                      "(chosen on them, so likely above its return on others: rl-distill evaluate measures that)")
    finally:  # on Ctrl-C nothing is saved: the file on disk already holds the last complete round
        bar.close()
        venv.close()
    return result


def rounds_of(steps: int, steps_per_round: int) -> int:
    return -(-steps // steps_per_round)


def keeps_collecting(config: DistillConfig, rounds: list[RoundLog], env_steps: int) -> bool:
    """Whether a round follows ``rounds``: always within ``steps``; past it (``max_steps``) while the action gap
    still falls and the budget lasts."""
    base_rounds = rounds_of(config.steps, config.steps_per_round)
    if len(rounds) < base_rounds:
        return True
    return (config.max_steps is not None and env_steps < config.max_steps
            and gap_still_falling([r.action_gap for r in rounds], base_rounds))  # fmt: skip


@torch.no_grad()
def fresh_gap(student: Acting, buffer: DistillationBuffer, new_states: int, space: gym.Space) -> float:
    """The student's greedy gap to the teacher on the ``new_states`` states collected last."""
    obs, targets = buffer.newest(new_states)
    return greedy_gap(student.raw_rows(obs), targets, space)


def collect_beta(config: DistillConfig, round_index: int) -> float:
    """The probability that the teacher acts in this round."""
    return {"teacher": 1.0, "student": 0.0, "dagger": config.dagger_decay**round_index}[config.collect]


def round_line(log: RoundLog) -> str:
    ret = "-" if log.eval_mean_return is None else f"{log.eval_mean_return:.1f}"
    gap = "-" if log.action_gap is None else f"{log.action_gap:.4f}"
    return (f"round {log.round:3d}  env_steps {log.env_steps:8,d}  teacher_queries {log.teacher_queries:8,d}  "
            f"beta {log.beta:.3f}  loss {log.loss:.5f}  action_gap {gap}  episodic_return {ret}  "
            f"SPS {log.steps_per_second:,.0f}")


def train_round(
    parts: list[tuple[Acting, DistillationBuffer, ActionBounds | None]],
    optimizer: torch.optim.Optimizer,
    config: DistillConfig,
    generator: torch.Generator,
    round_index: int,
) -> list[float]:
    """``updates_per_round`` minibatch steps of the distillation loss, at the round's learning rate; returns
    each part's mean loss.

    A part is one task's student view, buffer and action bounds; each minibatch takes an equal share
    of ``batch_size`` from every part and weighs their losses equally (one part: plain distillation).
    """
    share = max(1, config.batch_size // len(parts))
    for group in optimizer.param_groups:
        group["lr"] = round_learning_rate(config, round_index)
    losses = []
    for _ in range(config.updates_per_round):
        terms = []
        for student, buffer, bounds in parts:
            obs, targets = buffer.sample(share, generator)
            terms.append(policy_distillation_loss(decode_rows(targets, student.discrete),
                                                  decode_rows(student.raw_rows(obs), student.discrete),
                                                  loss=config.loss, temperature=config.temperature,
                                                  bounds=bounds).total)  # fmt: skip
        per_part = torch.stack(terms)
        optimizer.zero_grad(set_to_none=True)
        per_part.mean().backward()
        optimizer.step()
        losses.append(per_part.detach())
    return torch.stack(losses).mean(dim=0).tolist()
