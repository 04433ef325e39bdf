"""PPO training through Stable-Baselines3: the teacher, and the student-sized scratch baseline.

Both are the same call with a different network, so the baseline gets exactly the teacher's
hyperparameters and the comparison is fair.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, EvalCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rl_distill.errors import InputError
from rl_distill.io import atomic_write, atomic_write_json
from rl_distill.progress import Progress, check_tensorboard
from rl_distill.sb3.envs import VALIDATION_SEED, StepTimer, load_vecnormalize, make_env
from rl_distill.sb3.policies import VECNORMALIZE_NAME, policy_parameters
from rl_distill.sb3.presets import TEACHER_NET, preset_for


@dataclass(frozen=True)
class TrainResult:
    """What a PPO run produced: where the model is, its size, and its learning curve."""

    env_id: str
    model_path: str
    hidden: tuple[int, ...]
    timesteps: int
    """Environment steps trained: SB3's PPO runs whole rollouts, so the request rounded up to one."""
    seed: int
    policy_params: int
    wall_seconds: float
    curve_steps: list[int]
    curve_returns: list[float]
    env_seconds: float = 0.0
    """Part of ``wall_seconds`` spent inside the training envs' ``step``."""
    kept: dict[str, float] | None = None
    """With ``keep_best``: the curve point whose policy was written (``steps``, ``mean_return``)."""
    scaled_rewards: bool = False
    """Whether PPO learned from scaled rewards (the preset's normalisation, or ``scale_rewards``)."""


def reward_scaled(venv: VecEnv, gamma: float) -> VecNormalize:
    """``venv`` with its rewards divided by a running estimate of the discounted return's std (SB3's
    VecNormalize), observations untouched: PPO's training env when only the rewards are to be scaled."""
    return VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=gamma)


def train_ppo(
    env_id: str,
    *,
    out: Path,
    name: str = "teacher",
    hidden: tuple[int, ...] = TEACHER_NET,
    timesteps: int | None = None,
    seed: int = 0,
    eval_every: int = 0,
    eval_episodes: int = 10,
    tensorboard: str | None = None,
    progress_bar: bool = True,
    checkpoint_every: int = 0,
    resume: bool = False,
    keep_best: bool = False,
    scale_rewards: bool | None = None,
    learning_rate: float | None = None,
    critic_hidden: tuple[int, ...] | None = None,
) -> TrainResult:
    """Train PPO with the env's preset; save ``<name>.zip`` (+ ``vecnormalize.pkl``) and ``<name>.json``.

    ``eval_every`` > 0 records a learning curve (SB3's EvalCallback) every that many env steps.
    ``checkpoint_every`` > 0 saves ``<name>.ckpt.zip`` (+ statistics) atomically that often and on
    Ctrl-C; ``resume`` continues from it for the remaining steps. ``keep_best`` writes the policy (and
    statistics) of the best learning-curve point instead of the last: see :class:`BestPolicy`.
    ``scale_rewards`` (None: as the preset) has PPO learn from rewards divided by a running estimate of the
    return's std, as ``kickstart --scale-rewards`` does; without the preset's normalisation only training sees
    the wrapper, so nothing of it is saved, and a resumed run estimates the scale anew. ``learning_rate``
    (None: the preset's) sets PPO's constant rate, as ``kickstart --learning-rate`` does, and ``critic_hidden``
    (None: ``hidden``) the value function's sizes, as ``kickstart --critic-hidden``.
    """
    preset = preset_for(env_id)
    timesteps = timesteps or preset.timesteps
    if timesteps <= 0:
        raise InputError(f"--timesteps must be positive, got {timesteps}")
    if keep_best and eval_every <= 0:
        raise InputError("keeping the best policy needs a learning curve (eval_every > 0)")
    check_tensorboard(tensorboard)
    venv = timer = StepTimer(make_env(env_id, n_envs=preset.n_envs, seed=seed))
    gamma, scaled = preset.ppo.get("gamma", 0.99), preset.normalize if scale_rewards is None else scale_rewards
    if preset.normalize:
        venv = VecNormalize(venv, gamma=gamma, norm_reward=scaled)
    elif scaled:
        venv = reward_scaled(venv, gamma)
    ckpt = out / f"{name}.ckpt.zip"
    ckpt_stats = out / f"{name}.ckpt-{VECNORMALIZE_NAME}"
    if resume and ckpt.exists():
        if preset.normalize:
            venv = load_vecnormalize(ckpt_stats, venv.venv)
        try:
            model = PPO.load(ckpt, env=venv, device="cpu", tensorboard_log=tensorboard)
        except Exception as exc:  # SB3 raises many types for a damaged zip
            raise InputError(f"{ckpt}: not a loadable checkpoint ({type(exc).__name__})") from None
    else:
        rate = {"learning_rate": learning_rate} if learning_rate else {}
        policy_kwargs = preset.policy_kwargs_for(hidden)
        if critic_hidden:
            policy_kwargs["net_arch"] = {"pi": list(hidden), "vf": list(critic_hidden)}
        model = PPO("MlpPolicy", venv, policy_kwargs=policy_kwargs, seed=seed, device="cpu",
                    tensorboard_log=tensorboard, verbose=0, **{**preset.ppo_kwargs(), **rate})  # fmt: skip

    def save_checkpoint() -> None:
        atomic_write(ckpt, lambda tmp: model.save(tmp))
        if preset.normalize:
            atomic_write(ckpt_stats, lambda tmp: venv.save(str(tmp)))

    callbacks: list[BaseCallback] = [ProgressCallback(timesteps, f"PPO {name}", enabled=progress_bar)]
    if checkpoint_every > 0:
        callbacks.append(EveryNSteps(checkpoint_every, save_checkpoint))
    best = BestPolicy(out / f"{name}.best.zip", venv if preset.normalize else None, resume=resume and ckpt.exists()) \
        if keep_best else None  # fmt: skip
    if eval_every > 0:
        # wrapped as the training env is: SB3 syncs VecNormalize statistics through matching wrapper stacks
        eval_env = StepTimer(make_env(env_id, n_envs=min(eval_episodes, 10), seed=VALIDATION_SEED))
        if isinstance(venv, VecNormalize):
            eval_env = VecNormalize(eval_env, training=False, norm_obs=venv.norm_obs, norm_reward=False)  # synced
        # EvalCallback records its curve only when given a log_path (it also writes evaluations.npz there)
        callback = EvalCallback(eval_env, n_eval_episodes=eval_episodes, verbose=0, log_path=str(out / f"{name}-eval"),
                                eval_freq=max(eval_every // preset.n_envs, 1),
                                callback_after_eval=OfferToBest(best) if best else None)  # fmt: skip
        callbacks.append(callback)
    else:
        callback = None
    start = time.perf_counter()
    try:
        model.learn(total_timesteps=max(timesteps - model.num_timesteps, 0), callback=CallbackList(callbacks),
                    tb_log_name=name, reset_num_timesteps=False)  # fmt: skip
    except KeyboardInterrupt:
        if checkpoint_every > 0:
            save_checkpoint()
        raise
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    if best:
        best.restore(model)
    model_path = out / f"{name}.zip"
    atomic_write(model_path, lambda tmp: model.save(tmp))
    if preset.normalize:
        atomic_write(out / normalization_name(name), lambda tmp: venv.save(str(tmp)))
    result = TrainResult(
        env_id=env_id, model_path=str(model_path), hidden=tuple(hidden), timesteps=model.num_timesteps, seed=seed,
        policy_params=policy_parameters(model.policy), wall_seconds=seconds, env_seconds=timer.seconds,
        curve_steps=[int(s) for s in callback.evaluations_timesteps] if callback else [],
        curve_returns=[float(np.mean(r)) for r in callback.evaluations_results] if callback else [],
        kept=best.record() if best else None, scaled_rewards=scaled,
    )  # fmt: skip
    atomic_write_json(out / f"{name}.json", {**asdict(result), "preset": json.loads(json.dumps(
        preset.ppo, default=str)), "normalize": preset.normalize})  # fmt: skip
    return result


CURVE_INTERVALS = 20
"""Learning-curve evaluations per run, besides the one at its start, unless told how many steps apart."""
CURVE_EPISODES = 5
"""Greedy episodes per learning-curve point when the curve only draws a run's progress."""
BEST_EPISODES = 50
"""Greedy validation episodes per learning-curve point when the curve also chooses the policy a run keeps
(``keep_best``): the best of many noisy points is over-estimated with few (Walker2d-v5, 32x32 students, 10
episodes: a kept policy scoring 0.714 where the last scored 1.025; docs/kickstart.md)."""


class BestPolicy:
    """The policy of the best learning-curve point so far, as SB3's EvalCallback ``best_model``: written atomically
    to ``path`` with its observation statistics (``stats``, when the run trains its own) and a record that
    ``resume`` reads back, so a run can end with it instead of its last policy. PPO's policy can swing far
    between updates near the end of a short budget; the curve's episodes are validation episodes
    (``VALIDATION_SEED``), never the evaluation's, so a kept policy's reported return is not chosen on its test.
    """

    def __init__(self, path: Path, stats: VecNormalize | None = None, *, resume: bool = False) -> None:
        self.path, self.stats = path, stats
        self.log = path.with_suffix(".json")
        saved = json.loads(self.log.read_text()) if resume and self.log.exists() and path.exists() else {}
        self.steps: int | None = saved.get("steps")
        self.mean_return: float = saved.get("mean_return", -math.inf)

    def offer(self, model: PPO, mean_return: float) -> None:
        """Keep ``model`` if its curve point ``mean_return`` is the best so far (ties keep the earlier)."""
        if mean_return <= self.mean_return:
            return
        self.steps, self.mean_return = model.num_timesteps, mean_return
        atomic_write(self.path, lambda tmp: model.save(tmp))
        if self.stats is not None:
            stats = self.stats
            atomic_write(self.path.parent / normalization_name(self.path.stem), lambda tmp: stats.save(str(tmp)))
        atomic_write_json(self.log, self.record())

    def restore(self, model: PPO) -> None:
        """Put the kept policy (and statistics) back into ``model`` (and ``stats``) before the run writes them."""
        if self.steps is None:
            return
        model.set_parameters(str(self.path), device="cpu")
        if self.stats is not None:
            saved = load_vecnormalize(self.path.parent / normalization_name(self.path.stem), self.stats.venv)
            self.stats.obs_rms, self.stats.ret_rms = saved.obs_rms, saved.ret_rms

    def record(self) -> dict[str, float]:
        return {"steps": self.steps, "mean_return": self.mean_return} if self.steps is not None else {}


class OfferToBest(BaseCallback):
    """EvalCallback's ``callback_after_eval``: offers each evaluated policy to a :class:`BestPolicy`."""

    def __init__(self, best: BestPolicy) -> None:
        super().__init__()
        self.best = best

    def _on_step(self) -> bool:
        assert isinstance(self.parent, EvalCallback)
        self.best.offer(self.model, float(self.parent.last_mean_reward))
        return True


class ProgressCallback(BaseCallback):
    """SB3 training progress through :class:`Progress` (instead of SB3's rich bar), with the mean episode return."""

    def __init__(self, total: int, desc: str, enabled: bool = True) -> None:
        super().__init__()
        self.total, self.desc, self.enabled = total, desc, enabled
        self.progress: Progress | None = None
        self.seen = 0

    def _on_training_start(self) -> None:
        self.seen = self.model.num_timesteps
        rollout = getattr(self.model, "n_steps", 1) * self.model.n_envs
        total = -(-self.total // rollout) * rollout  # SB3's on-policy learn() runs whole rollouts only
        self.progress = Progress(total, self.desc, initial=self.seen, enabled=self.enabled)

    def _on_step(self) -> bool:
        assert self.progress is not None
        episodes = self.model.ep_info_buffer
        status = {"episodic_return": f"{sum(e['r'] for e in episodes) / len(episodes):.1f}"} if episodes else {}
        self.progress.update(self.num_timesteps - self.seen, **status)
        self.seen = self.num_timesteps
        return True

    def _on_training_end(self) -> None:
        if self.progress is not None:
            self.progress.close()


class EveryNSteps(BaseCallback):
    """Calls ``action`` every ``every`` environment steps and once more when training ends, if it trained.

    The last rollout's final step is left to training end: the policy changes in the update after it, and one
    action there, on the final policy, keeps a curve from holding two points with the same step count.
    """

    def __init__(self, every: int, action: Callable[[], None]) -> None:
        super().__init__()
        self.every, self.action, self.last = every, action, 0
        self.start, self.end = 0, math.inf

    def _on_training_start(self) -> None:
        self.start, self.end = self.num_timesteps, self.locals.get("total_timesteps", math.inf)

    def _on_step(self) -> bool:
        if self.num_timesteps - self.last >= self.every and self.num_timesteps < self.end:
            self.last = self.num_timesteps
            self.action()
        return True

    def _on_training_end(self) -> None:
        if self.num_timesteps > self.start:
            self.action()


def normalization_name(model_name: str) -> str:
    """Every model's statistics sit at ``<name>/vecnormalize.pkl``, tied to it by name (the zoo's layout too):
    :func:`rl_distill.sb3.policies.find_vecnormalize` looks there first."""
    return f"{model_name}/{VECNORMALIZE_NAME}"
