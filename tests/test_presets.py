"""Every preset must build the PPO it describes: a wrong kwarg or env id fails here, not an hour into training."""

from __future__ import annotations

import time
import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from rl_distill.errors import InputError
from rl_distill.sb3.envs import StepTimer, make_env
from rl_distill.sb3.policies import policy_parameters
from rl_distill.sb3.presets import PRESETS, TEACHER_NET, preset_for, require_preset


@pytest.mark.parametrize("env_id", sorted(PRESETS))
def test_preset_builds_its_teacher(env_id: str) -> None:
    preset = PRESETS[env_id]
    venv = make_env(env_id, n_envs=preset.n_envs, seed=0)
    if preset.normalize:
        venv = VecNormalize(venv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PPO("MlpPolicy", venv, policy_kwargs=preset.policy_kwargs_for(), device="cpu", **preset.ppo_kwargs())
    assert not [w for w in caught if "mini-batch" in str(w.message)]  # batch_size divides a rollout
    assert [layer.out_features for layer in model.policy.mlp_extractor.policy_net if hasattr(layer, "out_features")] \
        == list(TEACHER_NET)
    assert policy_parameters(model.policy) > 60_000  # about 69,000 for a 2x256 actor
    assert preset.timesteps > 0 and preset.distill_steps > 0
    venv.close()


def test_linear_schedules_decay_to_zero() -> None:
    kwargs = PRESETS["CartPole-v1"].ppo_kwargs()
    assert kwargs["learning_rate"](1.0) == pytest.approx(0.001) and kwargs["learning_rate"](0.0) == 0.0
    assert kwargs["learning_rate"](-0.05) == 0.0 and kwargs["clip_range"](-0.05) == 0.0  # a rollout past the budget


def test_unknown_env_gets_sb3_defaults_but_is_refused_where_a_preset_is_required() -> None:
    assert preset_for("MountainCar-v0").ppo == {} and preset_for("MountainCar-v0").env_id == "MountainCar-v0"
    with pytest.raises(InputError, match="no preset for MountainCar-v0"):
        require_preset("MountainCar-v0")


def test_step_timer_counts_only_the_time_inside_the_envs_step() -> None:
    venv = make_env("CartPole-v1", n_envs=2, seed=0)
    inner_wait = venv.step_wait

    def slow_wait():  # noqa: ANN202
        time.sleep(0.02)
        return inner_wait()

    venv.step_wait = slow_wait
    timer = StepTimer(venv)
    timer.reset()
    for _ in range(5):
        time.sleep(0.02)  # the caller's own work: not counted
        obs, rewards, dones, infos = timer.step(np.zeros(2, dtype=np.int64))
    assert obs.shape == (2, 4) and len(infos) == 2
    assert 0.1 <= timer.seconds < 0.17


class _NoRenderModeEnv(gym.Env):
    """A user's env whose constructor takes no ``render_mode``."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, level: int = 0) -> None:
        self.level = level

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(2, dtype=np.float32), 0.0, True, False, {}


gym.register("RlDistillTest/NoRenderMode-v0", entry_point=_NoRenderModeEnv)


def test_envs_are_built_without_rendering_unless_asked() -> None:
    # SB3's make_vec_env would ask for rgb_array, and LunarLander then simulates its engine particles
    assert make_env("LunarLander-v3", n_envs=2, seed=0).envs[0].unwrapped.render_mode is None
    asked = make_env('LunarLander-v3:{"render_mode": "rgb_array"}', n_envs=1, seed=0)
    assert asked.envs[0].unwrapped.render_mode == "rgb_array"
    plain = make_env('RlDistillTest/NoRenderMode-v0:{"level": 2}', n_envs=1, seed=0)
    assert plain.envs[0].unwrapped.level == 2


def test_rendering_decorations_do_not_change_lunar_lander_trajectories() -> None:
    trajectories = []
    for task in ["LunarLander-v3", 'LunarLander-v3:{"render_mode": "rgb_array"}']:
        venv = make_env(task, n_envs=2, seed=0)
        obs, seen = venv.reset(), []
        for _ in range(300):
            obs, *_ = venv.step(np.full(2, 2))  # main engine: the particles the decoration would add
            seen.append(obs)
        trajectories.append(np.array(seen))
    np.testing.assert_array_equal(trajectories[0], trajectories[1])
