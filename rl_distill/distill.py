"""Policy distillation: roll out (teacher, student or a DAgger mixture), label every visited state
with the teacher's action distribution, and fit the student to it with the shared KL loss.

Read top to bottom: config, buffer, one collection round, one training round, the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv
from tqdm import tqdm

from rl_distill.checkpoint import load_checkpoint, save_checkpoint
from rl_distill.errors import InputError
from rl_distill.losses import (
    POLICY_LOSSES,
    ActionDistribution,
    Categorical,
    DiagGaussian,
    PolicyLossName,
    check_temperature,
    policy_distillation_loss,
)
from rl_distill.policies import LoadedPolicy, actor_parameters, make_student, to_action_distribution

Collect = Literal["teacher", "student", "dagger"]
COLLECT_SCHEMES: tuple[str, ...] = ("teacher", "student", "dagger")


@dataclass(frozen=True)
class DistillConfig:
    """Every setting of one distillation run."""

    env_id: str
    """Gymnasium environment id."""
    student_hidden: tuple[int, ...] = (16, 16)
    """Student policy MLP hidden sizes."""
    steps: int = 50_000
    """Environment steps to collect, in total over all rounds."""
    collect: Collect = "student"
    """Who acts while collecting: teacher, student (on-policy distillation) or a DAgger mixture."""
    loss: PolicyLossName = "forward-kl"
    """forward-kl = KL(teacher || student), reverse-kl = KL(student || teacher), or mse on parameters."""
    temperature: float = 1.0
    """Divides the teacher's logits (discrete actions): < 1 sharpens the target, > 1 softens it."""
    seed: int = 0
    """Seeds the student's initialisation, the envs, action sampling and minibatches."""
    n_envs: int = 8
    """Vectorised environments for collection."""
    steps_per_round: int = 5_000
    """Environment steps collected between training rounds."""
    buffer_size: int = 100_000
    """Most states kept (oldest dropped first)."""
    updates_per_round: int = 250
    """Minibatch gradient steps after each collection round."""
    batch_size: int = 256
    """Minibatch size."""
    learning_rate: float = 3e-3
    """Adam learning rate for the student's actor."""
    dagger_decay: float = 0.5
    """DAgger: the teacher acts with probability decay**round (round 0: always)."""
    eval_episodes: int = 5
    """Evaluation episodes of the greedy student after each round (0: no per-round evaluation)."""

    def validate(self) -> None:
        if self.steps <= 0:
            raise InputError(f"--steps must be positive, got {self.steps}")
        if self.collect not in COLLECT_SCHEMES:
            raise InputError(f"--collect must be one of {', '.join(COLLECT_SCHEMES)}, got {self.collect!r}")
        if self.loss not in POLICY_LOSSES:
            raise InputError(f"--loss must be one of {', '.join(POLICY_LOSSES)}, got {self.loss!r}")
        if not self.student_hidden or min(self.student_hidden) <= 0:
            raise InputError(f"--student-hidden sizes must be positive, got {list(self.student_hidden)}")
        try:
            check_temperature(self.temperature)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        for name in ("n_envs", "steps_per_round", "buffer_size", "updates_per_round", "batch_size"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dagger_decay <= 1.0:
            raise InputError(f"dagger_decay must lie in [0, 1], got {self.dagger_decay}")


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
    steps_per_second: float


@dataclass
class DistillResult:
    config: DistillConfig
    student: PPO
    rounds: list[RoundLog] = field(default_factory=list)
    wall_seconds: float = 0.0


class DistillationBuffer:
    """A bounded FIFO ring of (observation, teacher distribution parameters), kept as tensors."""

    def __init__(self, capacity: int, obs_dim: int, target_dim: int) -> None:
        self.obs = torch.zeros(capacity, obs_dim)
        self.targets = torch.zeros(capacity, target_dim)
        self.capacity, self.size, self.next = capacity, 0, 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: torch.Tensor, targets: torch.Tensor) -> None:
        index = (self.next + torch.arange(len(obs))) % self.capacity
        self.obs[index], self.targets[index] = obs, targets
        self.next = int(index[-1] + 1) % self.capacity
        self.size = min(self.size + len(obs), self.capacity)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        return {"obs": self.obs[: self.size], "targets": self.targets[: self.size], "next": self.next}

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        size = len(state["obs"])
        self.obs[:size], self.targets[:size] = state["obs"], state["targets"]
        self.size, self.next = size, int(state["next"])

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, self.size, (batch_size,), generator=generator)
        return self.obs[index], self.targets[index]


def encode(dist: ActionDistribution) -> torch.Tensor:
    """Distribution parameters as one row per state, for the buffer."""
    if isinstance(dist, Categorical):
        return dist.logits
    return torch.cat([dist.mean, dist.log_std], dim=-1)


def decoder(action_space: gym.Space) -> Callable[[torch.Tensor], ActionDistribution]:
    if isinstance(action_space, gym.spaces.Discrete):
        return Categorical
    return lambda rows: DiagGaussian(*rows.chunk(2, dim=-1))


def to_env_actions(actions: torch.Tensor, space: gym.Space) -> np.ndarray:
    array = actions.numpy()
    return np.clip(array, space.low, space.high) if isinstance(space, gym.spaces.Box) else array


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

    With ``checkpoint``, the state is saved atomically after every round and on Ctrl-C; with
    ``resume`` too, a run continues from the last complete round saved there.
    """
    config.validate()
    torch.manual_seed(config.seed)
    venv: VecEnv = teacher.make_env(config.env_id, n_envs=config.n_envs, seed=config.seed)
    student = make_student(venv, config.student_hidden, seed=config.seed)
    optimizer = torch.optim.Adam(actor_parameters(student.policy), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    obs_dim = int(np.prod(venv.observation_space.shape))
    probe = encode(to_action_distribution(teacher.policy.get_distribution(torch.zeros(1, obs_dim))))
    buffer = DistillationBuffer(config.buffer_size, obs_dim, probe.shape[1])
    decode = decoder(venv.action_space)
    result = DistillResult(config=config, student=student)
    teacher.policy.set_training_mode(False)
    if teacher.policy.use_sde:
        teacher.policy.reset_noise(config.n_envs)

    first_round = env_steps = queries = 0
    earlier_seconds = 0.0
    if resume and checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        student.policy.load_state_dict(state["student"])
        optimizer.load_state_dict(state["optimizer"])
        buffer.load_state_dict(state["buffer"])
        generator.set_state(state["generator"])
        rng.bit_generator.state = state["rng"]
        first_round, env_steps, queries = state["next_round"], state["env_steps"], state["queries"]
        earlier_seconds = state["elapsed"]
        result.rounds = [RoundLog(**r) for r in state["rounds"]]
        venv.seed(config.seed + 1_000 * first_round)  # fresh episodes: env state is not checkpointed
    start = time.perf_counter()

    def save(next_round: int) -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                "student": student.policy.state_dict(), "optimizer": optimizer.state_dict(),
                "buffer": buffer.state_dict(), "generator": generator.get_state(), "rng": rng.bit_generator.state,
                "next_round": next_round, "env_steps": env_steps, "queries": queries,
                "elapsed": earlier_seconds + time.perf_counter() - start,
                "rounds": [asdict(r) for r in result.rounds],
            })  # fmt: skip

    obs = venv.reset()
    bar = tqdm(total=config.steps, initial=env_steps, desc=f"distil {config.collect}", unit="step",
               disable=not progress_bar)  # fmt: skip
    round_index, round_start = first_round, (env_steps, queries)
    try:
        for round_index in range(first_round, -(-config.steps // config.steps_per_round)):
            beta = {"teacher": 1.0, "student": 0.0, "dagger": config.dagger_decay**round_index}[config.collect]
            round_steps = min(config.steps_per_round, config.steps - env_steps)
            round_start = (env_steps, queries)
            student.policy.set_training_mode(False)
            for _ in range(-(-round_steps // config.n_envs)):
                obs_t = torch.as_tensor(obs, dtype=torch.float32).reshape(config.n_envs, obs_dim)
                with torch.no_grad():
                    teacher_dist = teacher.policy.get_distribution(obs_t)  # the one teacher pass per state
                    actions = teacher_dist.get_actions(deterministic=False)
                    use_student = torch.as_tensor(rng.random(config.n_envs) >= beta)
                    if use_student.any():
                        student_actions = student.policy.get_distribution(obs_t).get_actions(deterministic=False)
                        mask = use_student.reshape(-1, *[1] * (actions.dim() - 1))
                        actions = torch.where(mask, student_actions.to(actions.dtype), actions)
                buffer.add(obs_t, encode(to_action_distribution(teacher_dist)))
                obs, _, _, _ = venv.step(to_env_actions(actions, venv.action_space))
                env_steps += config.n_envs
                queries += config.n_envs
                bar.update(config.n_envs)
            losses = train_round(student, optimizer, buffer, decode, config, generator)
            eval_return = evaluate_student(student) if evaluate_student else None
            elapsed = earlier_seconds + time.perf_counter() - start
            log = RoundLog(round=round_index, env_steps=env_steps, teacher_queries=queries, beta=beta,
                           loss=float(np.mean(losses)), buffer_states=len(buffer), eval_mean_return=eval_return,
                           wall_seconds=elapsed, steps_per_second=env_steps / elapsed)  # fmt: skip
            result.rounds.append(log)
            save(round_index + 1)
            bar.set_postfix(loss=f"{log.loss:.4f}", ret="-" if eval_return is None else f"{eval_return:.1f}")
            if on_round:
                on_round(log)
    except KeyboardInterrupt:
        if not result.rounds or result.rounds[-1].round < round_index:
            env_steps, queries = round_start  # mid-round: the interrupted round is redone on resume
            save(round_index)
        raise
    finally:
        bar.close()
        venv.close()
    result.wall_seconds = earlier_seconds + time.perf_counter() - start
    return result


def train_round(
    student: PPO,
    optimizer: torch.optim.Optimizer,
    buffer: DistillationBuffer,
    decode: Callable[[torch.Tensor], ActionDistribution],
    config: DistillConfig,
    generator: torch.Generator,
) -> list[float]:
    student.policy.set_training_mode(True)
    losses = []
    for _ in range(config.updates_per_round):
        obs, targets = buffer.sample(config.batch_size, generator)
        student_dist = to_action_distribution(student.policy.get_distribution(obs))
        terms = policy_distillation_loss(decode(targets), student_dist, loss=config.loss,
                                         temperature=config.temperature)  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        losses.append(terms.total.item())
    student.policy.set_training_mode(False)
    return losses


def result_summary(result: DistillResult) -> dict:
    return {"config": asdict(result.config), "wall_seconds": result.wall_seconds,
            "rounds": [asdict(r) for r in result.rounds]}  # fmt: skip


def save_student(result: DistillResult, teacher: LoadedPolicy, out: Path, name: str = "student") -> Path:
    """``<out>/<name>.zip`` (an SB3 PPO model) with the teacher's statistics beside it, and
    ``<name>.safetensors``, the pickle-free artifact with the statistics inside; all atomically."""
    from rl_distill.artifact import export_sb3_student
    from rl_distill.io import atomic_write
    from rl_distill.policies import policy_parameters
    from rl_distill.training import normalization_name

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.zip"
    atomic_write(path, lambda tmp: result.student.save(tmp))
    if teacher.normalization is not None:
        stats_path = out / normalization_name(name)
        atomic_write(stats_path, lambda tmp: teacher.normalization.save(str(tmp)))
    provenance = {"env_id": result.config.env_id, "teacher": str(teacher.path),
                  "teacher_policy_params": policy_parameters(teacher.policy),
                  "distillation": asdict(result.config)}  # fmt: skip
    export_sb3_student(result.student.policy, teacher.normalization, out / f"{name}.safetensors", provenance)
    return path
