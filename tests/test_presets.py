"""Every preset must build the PPO it describes: a wrong kwarg or env id fails here, not an hour into training."""

from __future__ import annotations

import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from rl_distill.errors import InputError
from rl_distill.sb3.envs import make_env
from rl_distill.sb3.policies import policy_parameters
from rl_distill.sb3.presets import PRESETS, TEACHER_NET, preset_for, require_preset


@pytest.mark.parametrize("env_id", sorted(PRESETS))
def test_preset_builds_its_teacher(env_id: str) -> None:
    preset = PRESETS[env_id]
    venv = make_env(env_id, n_envs=preset.n_envs, seed=0)
    if preset.normalize:
        venv = VecNormalize(venv)
    model = PPO("MlpPolicy", venv, policy_kwargs=preset.policy_kwargs_for(), device="cpu", **preset.ppo_kwargs())
    assert [layer.out_features for layer in model.policy.mlp_extractor.policy_net if hasattr(layer, "out_features")] \
        == list(TEACHER_NET)
    assert policy_parameters(model.policy) > 60_000  # about 69,000 for a 2x256 actor
    assert preset.timesteps > 0 and preset.distill_steps > 0
    venv.close()


def test_linear_schedules_decay_to_zero() -> None:
    kwargs = PRESETS["CartPole-v1"].ppo_kwargs()
    assert kwargs["learning_rate"](1.0) == pytest.approx(0.001) and kwargs["learning_rate"](0.0) == 0.0


def test_unknown_env_gets_sb3_defaults_but_is_refused_where_a_preset_is_required() -> None:
    assert preset_for("MountainCar-v0").ppo == {} and preset_for("MountainCar-v0").env_id == "MountainCar-v0"
    with pytest.raises(InputError, match="no preset for MountainCar-v0"):
        require_preset("MountainCar-v0")
