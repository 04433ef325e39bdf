"""``rl-distill kickstart``: one kickstarted PPO run, with its outputs, checkpoints and resume.

The student learns from the environment's reward with the env's PPO preset (as the scratch baseline
does), sees the teacher's frozen observation statistics (as in ``distill``), and is written like a
distilled student: SB3 zip (``PPO.load`` works), ``.safetensors`` and a run JSON with the learning
curve and one record per PPO update (λ, the distillation term and SB3's ``train/*`` values).
"""

from __future__ import annotations

import inspect
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer

from rl_distill.distill.loop import action_bounds
from rl_distill.distill.outputs import run_identity, save_student_model
from rl_distill.errors import InputError
from rl_distill.evaluation.evaluate import evaluate, evaluate_random, greedy_return_of
from rl_distill.io import atomic_write, atomic_write_json
from rl_distill.kickstart.ppo import DISTILL_TERMS, DistillTerm, Guide, KickstartPPO, LambdaSchedule
from rl_distill.losses import BOUND_MODES, DEFAULT_BOUND_MODE, BoundMode, check_temperature
from rl_distill.progress import check_tensorboard
from rl_distill.sb3.actor import Actor, sample_actions
from rl_distill.sb3.envs import StepTimer
from rl_distill.sb3.policies import LoadedPolicy, load_policy, make_student, note_once
from rl_distill.sb3.presets import Preset, linear_schedule, preset_for
from rl_distill.sb3.training import (
    BEST_EPISODES,
    CURVE_EPISODES,
    CURVE_INTERVALS,
    BestPolicy,
    EveryNSteps,
    ProgressCallback,
    reward_scaled,
)

KL_DIRECTIONS = {"forward": "forward-kl", "reverse": "reverse-kl"}


@dataclass(frozen=True)
class KickstartConfig:
    """Every setting of one kickstarted run (PPO's own come from the env's preset)."""

    env_id: str
    """The task: a Gymnasium id, or ``ID:{json kwargs}`` for changed dynamics."""
    student_hidden: tuple[int, ...] = (16, 16)
    """Student policy (and value) MLP hidden sizes."""
    critic_hidden: tuple[int, ...] | None = None
    """Value-function MLP hidden sizes; None: the student's. The critic serves PPO's training only (the artifact and
    the parameter count are the policy's), so it can be larger than the policy it trains. On HalfCheetah-v5 a 256x256
    critic fitted the returns 2-5 times sooner than a 16x16 one, though its students ended no surer to reach 0.95,
    and on Hopper-v5 lower (docs/kickstart.md)."""
    timesteps: int = 300_000
    """Environment steps of PPO."""
    schedule: str = "adaptive:1"
    """λ_t: constant:L, linear:L0,L1,STEPS, exp:L0,HALF_LIFE or adaptive:L0 (see LambdaSchedule)."""
    distill_term: DistillTerm = "kl"
    """kl: mean D over the minibatch; ppd: each state's D weighted by max(ratio, 1 - clip_range)."""
    kl: str = "forward"
    """forward: KL(teacher || student); reverse: KL(student || teacher)."""
    temperature: float = 1.0
    """Divides the teacher's logits (discrete actions)."""
    bounds: BoundMode = DEFAULT_BOUND_MODE
    """Box actions: the bound mode of D, as in distill."""
    seed: int = 0
    """Seeds PPO (student initialisation, envs, sampling)."""
    init: str | None = None
    """Start from this student (.zip or .safetensors, e.g. from distill) instead of a fresh one."""
    critic_warmup: int = 0
    """Environment steps at the start in which PPO trains only the value function, the policy held (no
    distillation term either): with ``init`` the critic starts fresh and its first advantages are noise."""
    learning_rate: float | None = None
    """PPO's learning rate; None keeps the preset's (tuned for the teacher's network, not the student's)."""
    lr_decay: bool = False
    """Decay PPO's learning rate linearly to 0 over ``timesteps`` (a preset's ``lin_`` rate already does)."""
    log_std_init: float | None = None
    """Box actions: the student's Gaussian log std at the start (after ``init``); None keeps the init's (distill
    copies the teacher's) or a fresh student's. A small student can be far less robust to the teacher's
    exploration noise than the teacher is, and PPO then spends its updates on failures its greedy policy
    rarely meets (on HalfCheetah-v5, -3.5 moved seeds both ways: docs/kickstart.md)."""
    reference_episodes: int = 100
    """``adaptive`` schedule: episodes (the same seeded ones each run) of the teacher's and the random policy's
    sampled returns that the student's score runs between; as many as the window of the student's training
    episodes it is compared with (SB3's ``stats_window_size``). Few episodes of a teacher whose returns vary a
    lot give a reference off by a fixed amount for the whole run (10, the default until 2026-12, held a weak
    A2C teacher's students at its level: docs/kickstart.md)."""
    scale_rewards: bool | None = True
    """PPO learns from rewards divided by a running estimate of the discounted return's std (SB3's VecNormalize;
    observations stay the teacher's); False: raw rewards; None: as the teacher's PPO did (see scales_rewards; the
    default until 2026-12, kept by the benchmarks for their finished runs). A small critic is slow to fit raw
    returns in the hundreds (LunarLander-v3, 16x16: explained variance first 0.5 after 311k-606k steps, 82k-115k
    when scaled), and its advantages are noise until then; on the raw-reward tasks measured, kickstart on scaled
    rewards ended level with raw ones (within 0.001 of score) or higher (docs/kickstart.md). PPO from scratch on
    such a task wants the same setting (train_ppo's scale_rewards)."""
    keep_best: bool = True
    """Write the policy of the best learning-curve point (validation episodes, apart from evaluation's) instead
    of the last (see BestPolicy). After ``init`` its own point is a candidate, so that a fine-tuned student
    never validates below the one it started from. On by default since 2026-12 (after ``init`` first, then
    for fresh students too): it raised the mean score on every teacher measured from a distilled student, and
    on fresh ones moved it by +0.07 to -0.01 (docs/kickstart.md)."""
    eval_every: int | None = None
    """Environment steps between greedy evaluations for the learning curve; None: a twentieth of ``timesteps``
    (21 points with the start, as the benchmarks draw them), which bounds what BEST_EPISODES per point cost."""
    eval_episodes: int | None = None
    """Episodes per learning-curve evaluation; None: BEST_EPISODES when the run keeps its best point (few make
    the choice noisy), CURVE_EPISODES otherwise."""
    checkpoint_every: int = 50_000
    """Environment steps between checkpoints (and one on Ctrl-C)."""

    def resolved(self) -> KickstartConfig:
        """This config with the curve's settings as the run uses them (None defaults decided)."""
        episodes = self.eval_episodes or (BEST_EPISODES if self.keep_best else CURVE_EPISODES)
        every = self.eval_every or max(self.timesteps // CURVE_INTERVALS, 1)
        return replace(self, eval_episodes=episodes, eval_every=every)

    def validate(self) -> LambdaSchedule:
        for name in ("timesteps", "eval_every", "eval_episodes", "checkpoint_every", "reference_episodes"):
            if (value := getattr(self, name)) is not None and value <= 0:  # None: decided by resolved()
                raise InputError(f"{name} must be positive, got {value}")
        if self.learning_rate is not None and not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise InputError(f"--learning-rate must be a positive number, got {self.learning_rate}")
        if self.log_std_init is not None and not math.isfinite(self.log_std_init):
            raise InputError(f"--log-std-init must be a finite number, got {self.log_std_init}")
        if self.critic_warmup < 0:
            raise InputError(f"--critic-warmup must be >= 0, got {self.critic_warmup}")
        if self.distill_term not in DISTILL_TERMS:
            raise InputError(f"--distill-term must be one of {', '.join(DISTILL_TERMS)}, got {self.distill_term!r}")
        if self.kl not in KL_DIRECTIONS:
            raise InputError(f"--kl must be forward or reverse, got {self.kl!r}")
        if self.bounds not in BOUND_MODES:
            raise InputError(f"--bounds must be one of {', '.join(BOUND_MODES)}, got {self.bounds!r}")
        try:
            check_temperature(self.temperature)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return LambdaSchedule.parse(self.schedule)

    def identity(self) -> dict[str, Any]:
        settings = json.loads(json.dumps(asdict(self)))
        return {k: v for k, v in settings.items() if k not in ("timesteps", "eval_every", "eval_episodes",
                                                                "checkpoint_every")}  # fmt: skip


def load_init(model: PPO, path: Path, env_id: str) -> None:
    """Copy a student's weights (SB3 zip: the whole policy, or its actor only when the critics' sizes differ;
    artifact: the actor) into ``model``'s policy."""
    policy = model.policy
    try:
        if path.suffix == ".safetensors":
            from rl_distill.artifacts.student import load_student

            net = load_student(path).net
            policy.mlp_extractor.policy_net.load_state_dict(net.policy_net.state_dict())
            policy.action_net.load_state_dict(net.action_net.state_dict())
            if not net.discrete:
                policy.log_std.data.copy_(net.log_std.data)
        else:
            weights, own = load_policy(path, env_id).policy.state_dict(), policy.state_dict()
            critic = [k for k in weights if k.startswith(("mlp_extractor.value_net.", "value_net."))]
            if any(k not in own or own[k].shape != weights[k].shape for k in critic):  # --critic-hidden: a fresh critic
                for key in critic:
                    weights.pop(key)
                weights.update({k: v for k, v in own.items() if k not in weights})
            policy.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: its network does not match the student's --student-hidden ({first})") from None


class TargetPolicy:
    """The policy the term pulls the student toward: the teacher, its logits divided by the temperature
    (discrete actions), actions sampled. With ``predict``'s signature, so ``evaluate`` runs it."""

    def __init__(self, teacher: LoadedPolicy, temperature: float, seed: int = 0) -> None:
        self.teacher, self.temperature = teacher, temperature
        self.actor, self.path = Actor(teacher.policy), teacher.path
        self.generator = torch.Generator().manual_seed(seed)

    def make_env(self, env_id: str, *, n_envs: int, seed: int) -> Any:
        return self.teacher.make_env(env_id, n_envs=n_envs, seed=seed)

    @torch.no_grad()
    def predict(self, obs: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, None]:  # fmt: skip
        rows = self.actor.raw_rows(torch.as_tensor(obs, dtype=torch.float32).reshape(len(obs), -1))
        if self.actor.discrete:
            rows = rows / self.temperature
        actions = sample_actions(rows, self.actor.discrete, self.generator)
        return self.actor.to_env(torch.tanh(actions) if self.actor.squash else actions), None  # as Actor.greedy


def make_guide(config: KickstartConfig, schedule: LambdaSchedule, teacher: LoadedPolicy, action_space: Any, *,
               reference: tuple[float, float] | None = None) -> Guide:
    """The teacher term; ``reference`` is an adaptive schedule's (teacher, random) returns already measured
    for this run (a resumed checkpoint keeps them), measured here when None."""
    if schedule.kind == "adaptive" and reference is None:  # QDagger's teacher return, measured at the start
        # The return of the policy the term pulls toward, with sampled actions as in the student's training
        # episodes it is compared with: a greedy teacher return would be out of reach of a high-entropy
        # student and hold λ up for the whole run.
        target = TargetPolicy(teacher, config.temperature, seed=config.seed)
        episodes = config.reference_episodes
        note_once(f"reference {teacher.path} {config.env_id} {episodes}",
                  f"adaptive λ: measuring the teacher's and a random policy's sampled returns on {config.env_id}, "
                  f"{episodes} episodes each (--reference-episodes)")  # fmt: skip
        reference = (evaluate(target, config.env_id, episodes=episodes, deterministic=False).mean_return,
                     evaluate_random(config.env_id, episodes=episodes).mean_return)  # fmt: skip
    return Guide(teacher=Actor(teacher.policy), schedule=schedule, term=config.distill_term,
                 loss=KL_DIRECTIONS[config.kl], temperature=config.temperature,  # type: ignore[arg-type]
                 bounds=action_bounds(action_space, config.bounds), reference=reference)  # fmt: skip


def ppo_settings(config: KickstartConfig, preset: Preset) -> dict[str, Any]:
    """The preset's PPO values, but plain Gaussian exploration (a gSDE student has no artifact form, and
    --init students from distill are plain Gaussian policies) and the learning rate ``learning_rate`` and
    ``lr_decay`` ask for."""
    kwargs = {k: v for k, v in preset.ppo_kwargs().items() if k not in ("use_sde", "sde_sample_freq")}
    if config.learning_rate is not None:
        kwargs["learning_rate"] = config.learning_rate
    if config.lr_decay:
        rate = kwargs.get("learning_rate", inspect.signature(PPO).parameters["learning_rate"].default)
        kwargs["learning_rate"] = linear_schedule(rate(1.0) if callable(rate) else rate)
    return kwargs


def scales_rewards(preset: Preset, teacher: LoadedPolicy) -> bool:
    """Whether PPO sees rewards scaled by a running return estimate, as the teacher's PPO did: the preset's
    PPO does, or the teacher's own VecNormalize statistics say it did (SB3's default, so a teacher brought
    from plain SB3 code with VecNormalize was trained on scaled rewards whatever the env's preset)."""
    stats = teacher.normalization
    return preset.normalize or (stats is not None and bool(stats.norm_reward))


def run_kickstart(config: KickstartConfig, teacher_path: Path, out: Path, *, name: str = "student",
                  vecnormalize: Path | None = None, resume: bool = False, progress_bar: bool = True,
                  tensorboard: str | None = None) -> Path:  # fmt: skip
    """Train the student; writes ``<name>.zip``, ``<name>.safetensors`` and ``<name>.json`` to ``out``."""
    schedule, config = config.validate(), config.resolved()
    check_tensorboard(tensorboard)
    teacher = load_policy(teacher_path, config.env_id, vecnormalize=vecnormalize)
    preset = preset_for(config.env_id)
    venv = timer = StepTimer(teacher.make_env(config.env_id, n_envs=preset.n_envs, seed=config.seed))
    if config.init and not Path(config.init).is_file():
        raise InputError(f"{config.init}: no such student file for --init")
    if config.log_std_init is not None and not isinstance(venv.action_space, gym.spaces.Box):
        raise InputError(f"--log-std-init applies to continuous (Box) actions; {config.env_id} has "
                         f"{venv.action_space}")  # fmt: skip
    teachers_rule = scales_rewards(preset, teacher)
    scaled_rewards = teachers_rule if config.scale_rewards is None else config.scale_rewards
    if scaled_rewards != teachers_rule:  # where the default changed in 2026-12, say so once
        note_once(f"rewards {teacher.path} {scaled_rewards}",
                  f"the student's PPO learns from {'scaled' if scaled_rewards else 'raw'} rewards, the teacher's "
                  f"PPO from {'raw' if scaled_rewards else 'scaled'} ones (--scale-rewards/--no-scale-rewards)")
    if scaled_rewards:  # observations stay the teacher's (frozen)
        venv = reward_scaled(venv, preset.ppo.get("gamma", 0.99))
    # The rewards PPO learns from, not how they were asked for: None (the teacher's rule) and the value it gives
    # are one run, so a checkpoint written before 2026-12 (None, or no such key) resumes from the CLI.
    identity = {**run_identity(config, teacher), "scale_rewards": scaled_rewards}
    out.mkdir(parents=True, exist_ok=True)
    ckpt, ckpt_log = out / f"{name}.ckpt.zip", out / f"{name}.ckpt.json"
    saved = json.loads(ckpt_log.read_text()) if resume and ckpt.exists() else None
    if saved:
        from rl_distill.distill.checkpoint import check_identity

        written = saved["identity"]
        if written.get("scale_rewards") is None:
            written = {**written, "scale_rewards": teachers_rule}
        check_identity(ckpt, written, json.loads(json.dumps(identity)))
    # A resumed run keeps the reference it measured (100 episodes of a MuJoCo task take 7-16 s); checkpoints
    # written before it was stored measure it again, to the same value (the episodes are seeded).
    stored = saved.get("reference") if saved else None
    guide = make_guide(config, schedule, teacher, venv.action_space, reference=tuple(stored) if stored else None)
    curve: dict[str, list[float]] = {"steps": [], "returns": []}
    best = BestPolicy(out / f"{name}.best.zip", resume=saved is not None) if config.keep_best else None
    if saved:
        model = KickstartPPO.load(ckpt, env=venv, device="cpu", tensorboard_log=tensorboard)
        model.guide, model.update_log, curve = guide, saved["updates"], saved["curve"]
    else:
        model = make_student(venv, config.student_hidden, seed=config.seed, algorithm=KickstartPPO, guide=guide,
                             critic_hidden=config.critic_hidden,
                             critic_warmup=config.critic_warmup, tensorboard_log=tensorboard,
                             **ppo_settings(config, preset))  # type: ignore[assignment]  # fmt: skip
        if config.init:
            load_init(model, Path(config.init), config.env_id)
        if config.log_std_init is not None:
            model.policy.log_std.data.fill_(config.log_std_init)
        elif config.init and isinstance(venv.action_space, gym.spaces.Box):
            std = model.policy.log_std.exp().mean().item()
            note_once(f"noise of {config.init}", f"the student explores with {config.init}'s Gaussian noise (mean "
                      f"std {std:.3g}; distill copies the teacher's); a fresh student's, --log-std-init -0.5, did "
                      "better from a weak teacher and worse from two strong ones (docs/kickstart.md)")  # fmt: skip
    greedy_return = greedy_return_of(teacher, config.env_id, config.eval_episodes)

    eval_seconds = 0.0

    def record_curve() -> None:
        nonlocal eval_seconds
        started = time.perf_counter()
        curve["steps"].append(model.num_timesteps)
        curve["returns"].append(greedy_return(model))
        if best:
            best.offer(model, curve["returns"][-1])
        eval_seconds += time.perf_counter() - started

    def save_checkpoint() -> None:
        atomic_write(ckpt, lambda tmp: model.save(tmp))
        atomic_write_json(ckpt_log, {"identity": identity, "updates": model.update_log, "curve": curve,
                                     "reference": guide.reference})  # fmt: skip

    callbacks = [ProgressCallback(config.timesteps, "kickstart", enabled=progress_bar),
                 EveryNSteps(config.eval_every, record_curve), EveryNSteps(config.checkpoint_every, save_checkpoint)]
    start, start_steps = time.perf_counter(), model.num_timesteps
    if not curve["steps"]:
        record_curve()  # where the student starts: fresh, or --init's weights
    try:
        model.learn(total_timesteps=max(config.timesteps - model.num_timesteps, 0), callback=callbacks,
                    reset_num_timesteps=False, tb_log_name="kickstart")  # fmt: skip
    except KeyboardInterrupt:
        save_checkpoint()
        raise
    seconds = time.perf_counter() - start - eval_seconds  # training alone, as for distill; evaluation apart
    if best:
        best.restore(model)
    model.rollout_buffer_class = RolloutBuffer  # the saved zip is a plain PPO model: PPO.load needs nothing of ours
    path = save_student_model(model, teacher, out, name=name, env_id=config.env_id,
                              settings={"kickstart": asdict(config)})  # fmt: skip
    atomic_write_json(out / f"{name}.json", {
        "teacher": str(teacher_path), "config": asdict(config), "wall_seconds": seconds, "eval_seconds": eval_seconds,
        "steps_per_second": (model.num_timesteps - start_steps) / max(seconds, 1e-9), "env_seconds": timer.seconds,
        "scaled_rewards": scaled_rewards, "curve_steps": curve["steps"], "curve_returns": curve["returns"],
        "kept": best.record() if best else None, "updates": model.update_log,
        "adaptive_reference": guide.reference and {"teacher": guide.reference[0], "random": guide.reference[1],
                                                   "episodes": config.reference_episodes},
    })  # fmt: skip
    return path
