"""``rl-distill kickstart``: one kickstarted PPO run, with its outputs, checkpoints and resume.

The student learns from the environment's reward with the env's PPO preset (as the scratch baseline
does), sees the teacher's frozen observation statistics (as in ``distill``), and is written like a
distilled student: SB3 zip (``PPO.load`` works), ``.safetensors`` and a run JSON with the learning
curve and one record per PPO update (λ, the distillation term and SB3's ``train/*`` values).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rl_distill.distill.loop import action_bounds
from rl_distill.distill.outputs import run_identity, save_student_model
from rl_distill.errors import InputError, note_once
from rl_distill.evaluation.evaluate import evaluate, evaluate_random, greedy_return_of
from rl_distill.io import atomic_write, atomic_write_json
from rl_distill.kickstart.config import KL_DIRECTIONS, KickstartConfig
from rl_distill.kickstart.ppo import Guide, KickstartPPO, LambdaSchedule
from rl_distill.progress import check_tensorboard
from rl_distill.sb3.actor import Actor, sample_actions
from rl_distill.sb3.averaging import PolicyAverage
from rl_distill.sb3.envs import StepTimer
from rl_distill.sb3.policies import LoadedPolicy, check_actor_critic, load_policy, make_student
from rl_distill.sb3.presets import Preset, linear_schedule, preset_for
from rl_distill.sb3.training import BestPolicy, EveryNSteps, ProgressCallback, reward_scaled

CRITIC_KEYS = ("mlp_extractor.value_net.", "value_net.")
"""State-dict prefixes of an SB3 actor-critic's value function (its own layers, apart from the actor's)."""


def teacher_critic_sizes(teacher: LoadedPolicy) -> tuple[int, ...]:
    """The hidden sizes of the teacher's value network, the student's critic under ``--critic-init teacher``."""
    value_net = check_actor_critic(teacher, "--critic-init teacher").mlp_extractor.value_net
    return tuple(layer.out_features for layer in value_net if isinstance(layer, torch.nn.Linear))


def copy_teacher_critic(model: PPO, teacher: LoadedPolicy) -> None:
    """Start ``model``'s value function as the teacher's (same sizes: ``teacher_critic_sizes``)."""
    source, policy = check_actor_critic(teacher, "--critic-init teacher"), model.policy
    if source.activation_fn is not policy.activation_fn:  # one activation serves the student's actor and critic
        raise InputError(f"--critic-init teacher: {teacher.path}'s critic uses {source.activation_fn.__name__}, the "
                         f"student {policy.activation_fn.__name__}")  # fmt: skip
    weights = policy.state_dict()
    weights.update({k: v for k, v in source.state_dict().items() if k.startswith(CRITIC_KEYS)})
    policy.load_state_dict(weights)


def load_init(model: PPO, path: Path, env_id: str) -> None:
    """Copy a student's weights (SB3 zip: the whole policy, or its actor only when the critics' sizes differ;
    artifact: the actor) into ``model``'s policy."""
    policy = model.policy
    try:
        if path.suffix.lower() == ".safetensors":
            from rl_distill.artifacts.student import load_student

            net = load_student(path).net
            policy.mlp_extractor.policy_net.load_state_dict(net.policy_net.state_dict())
            policy.action_net.load_state_dict(net.action_net.state_dict())
            if not net.discrete:
                policy.log_std.data.copy_(net.log_std.data)
        else:
            weights, own = check_actor_critic(load_policy(path, env_id), "--init").state_dict(), policy.state_dict()
            critic = [k for k in weights if k.startswith(CRITIC_KEYS)]
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
    """Whether PPO sees rewards scaled by a running return estimate, as the teacher's PPO did: the teacher's own
    VecNormalize statistics say so (``norm_reward``, SB3's default, so a teacher from plain SB3 code trained in a
    VecNormalize did, whatever the env's preset); a teacher without statistics, the env's preset decides."""
    stats = teacher.normalization
    return bool(stats.norm_reward) if stats is not None else preset.normalize


def rewards_to_learn(venv: VecEnv, *, scaled: bool, gamma: float, as_teacher: VecNormalize | None = None) -> VecEnv:
    """PPO's training env: raw rewards, or scaled by a running estimate of the return's std (``gamma``). With
    ``as_teacher``, the teacher's own reward statistics, the estimate starts where the teacher's PPO left it (its
    ``ret_rms``, ``gamma``, clipping): the scale a critic copied from that teacher learnt its values on."""
    if not scaled:
        return venv
    if as_teacher is None or not as_teacher.norm_reward:
        return reward_scaled(venv, gamma)
    scaled_env = reward_scaled(venv, as_teacher.gamma)
    scaled_env.ret_rms = copy.deepcopy(as_teacher.ret_rms)
    scaled_env.clip_reward, scaled_env.epsilon = as_teacher.clip_reward, as_teacher.epsilon
    return scaled_env


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
    critic_hidden = config.critic_hidden
    if config.critic_init == "teacher":  # its values are returns of the rewards the teacher's PPO saw
        critic_hidden = teacher_critic_sizes(teacher)
        if scaled_rewards != teachers_rule:
            note_once(f"critic rewards {teacher.path}", f"--critic-init teacher: the student's PPO learns from "
                      f"{'scaled' if teachers_rule else 'raw'} rewards, as the teacher's did (the scale of its "
                      "critic's values), whatever --scale-rewards says")  # fmt: skip
        scaled_rewards = teachers_rule
    elif scaled_rewards != teachers_rule:  # where the default changed in 2026-12, say so once
        note_once(f"rewards {teacher.path} {scaled_rewards}",
                  f"the student's PPO learns from {'scaled' if scaled_rewards else 'raw'} rewards, the teacher (by the "
                  f"env's preset and its statistics) learnt from {'raw' if scaled_rewards else 'scaled'} ones "
                  "(--scale-rewards/--no-scale-rewards)")  # fmt: skip
    # observations stay the teacher's (frozen); only the rewards PPO learns from are scaled
    venv = rewards_to_learn(venv, scaled=scaled_rewards, gamma=preset.ppo.get("gamma", 0.99),
                            as_teacher=teacher.normalization if config.critic_init == "teacher" else None)
    # The rewards PPO learns from, not how they were asked for: None (the teacher's rule) and the value it gives
    # are one run, so a checkpoint written before 2026-12 (None, or no such key) resumes from the CLI.
    identity = {**run_identity(config, teacher), "scale_rewards": scaled_rewards}
    ckpt, ckpt_log = out / f"{name}.ckpt.zip", out / f"{name}.ckpt.json"
    saved = json.loads(ckpt_log.read_text()) if resume and ckpt.exists() else None
    if saved:
        from rl_distill.distill.checkpoint import check_identity

        written = saved["identity"]
        if written.get("scale_rewards") is None:
            written = {**written, "scale_rewards": teachers_rule}
        check_identity(ckpt, written, json.loads(json.dumps(identity)))
    curve: dict[str, list[float]] = {"steps": [], "returns": []}
    # The student (and --init's weights) before the teacher's reference episodes: a wrong --init fails at once,
    # with nothing written.
    if saved:
        model = KickstartPPO.load(ckpt, env=venv, device="cpu", tensorboard_log=tensorboard)
        model.update_log, curve = saved["updates"], saved["curve"]
    else:
        model = make_student(venv, config.student_hidden, seed=config.seed, algorithm=KickstartPPO,
                             critic_hidden=critic_hidden,
                             critic_warmup=config.critic_warmup, tensorboard_log=tensorboard,
                             **ppo_settings(config, preset))  # type: ignore[assignment]  # fmt: skip
        if config.init:
            load_init(model, Path(config.init), config.env_id)
        if config.critic_init == "teacher":
            copy_teacher_critic(model, teacher)
        if config.log_std_init is not None:
            model.policy.log_std.data.fill_(config.log_std_init)
        elif config.init and isinstance(venv.action_space, gym.spaces.Box):
            std = model.policy.log_std.exp().mean().item()
            note_once(f"noise of {config.init}", f"the student explores with {config.init}'s Gaussian noise (mean "
                      f"std {std:.3g}; distill copies the teacher's); a fresh student's, --log-std-init -0.5, did "
                      "better from a weak teacher and worse from two strong ones (docs/kickstart.md)")  # fmt: skip
    averaged = out / f"{name}.ckpt-average.safetensors"
    if config.average_steps:  # made on the policy's final parameters: after loading, --init and --log-std-init
        model.average = PolicyAverage(model.policy, horizon_steps=config.average_steps,
                                      rollout_steps=model.n_steps * model.n_envs)
        if saved and averaged.exists():
            model.average.load(averaged)
    # A resumed run keeps the reference it measured (100 episodes of a MuJoCo task take 7-16 s); checkpoints
    # written before it was stored measure it again, to the same value (the episodes are seeded).
    stored = saved.get("reference") if saved else None
    guide = make_guide(config, schedule, teacher, venv.action_space, reference=tuple(stored) if stored else None)
    model.guide = guide
    out.mkdir(parents=True, exist_ok=True)
    best = BestPolicy(out / f"{name}.best.zip", resume=saved is not None) if config.keep_best else None
    greedy_return = greedy_return_of(teacher, config.env_id, config.eval_episodes)

    # the PPO update count of the curve's last policy, kept by checkpoints so a resumed run does not repeat it
    eval_seconds, evaluated_updates = 0.0, saved.get("evaluated_updates") if saved else None

    def record_curve() -> None:
        nonlocal eval_seconds, evaluated_updates
        if curve["steps"] and model._n_updates == evaluated_updates:
            return  # no update since the last point (a rollout longer than the interval): the same policy again
        evaluated_updates = model._n_updates
        started = time.perf_counter()
        curve["steps"].append(model.num_timesteps)
        with model.average.swapped_in() if model.average is not None else contextlib.nullcontext():
            curve["returns"].append(greedy_return(model))
            if best:
                best.offer(model, curve["returns"][-1])
        eval_seconds += time.perf_counter() - started

    def save_checkpoint() -> None:
        if model.average is not None:
            model.average.save(averaged)
        atomic_write(ckpt, lambda tmp: model.save(tmp))
        atomic_write_json(ckpt_log, {"identity": identity, "updates": model.update_log, "curve": curve,
                                     "reference": guide.reference, "evaluated_updates": evaluated_updates})  # fmt: skip

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
        best.restore(model)  # an average, when the run averages: the curve's points evaluated it
    elif model.average is not None:
        model.average.apply()
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
