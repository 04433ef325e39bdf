"""Teachers the presets never make: squashed gSDE, gSDE noise redraws, Discrete observations, unsupported spaces."""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env

from rl_distill.artifacts.export import export_student
from rl_distill.artifacts.student import load_student
from rl_distill.cli import main
from rl_distill.distill.config import DistillConfig
from rl_distill.distill.loop import distill
from rl_distill.distill.outputs import save_student
from rl_distill.errors import InputError
from rl_distill.sb3.actor import Actor
from rl_distill.sb3.policies import load_policy


@pytest.fixture(scope="module")
def squashed_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Plain SB3: gSDE with ``squash_output=True`` on Pendulum (actions in [-2, 2])."""
    model = PPO("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=4, seed=0), use_sde=True, n_steps=256, seed=0,
                policy_kwargs={"squash_output": True, "net_arch": [32, 32]})  # fmt: skip
    model.learn(2_048)
    path = tmp_path_factory.mktemp("squashed") / "teacher.zip"
    model.save(path)
    return path


def pendulum_states(n: int = 256, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    theta, speed = rng.uniform(-np.pi, np.pi, n), rng.uniform(-8, 8, n)
    return torch.as_tensor(np.stack([np.cos(theta), np.sin(theta), speed], axis=1), dtype=torch.float32)


def test_squashed_teacher_is_read_as_sb3_predict_acts(squashed_teacher: Path) -> None:
    teacher = load_policy(squashed_teacher, "Pendulum-v1")
    actor = Actor(teacher.policy)
    states = pendulum_states()
    with torch.no_grad():
        greedy, rows = actor.greedy(states), actor.rows(states)
    expected = teacher.model.predict(states.numpy(), deterministic=True)[0]
    np.testing.assert_allclose(greedy, expected, atol=1e-6)
    np.testing.assert_allclose(rows[:, :1].numpy(), expected, atol=1e-5)  # the target mean is predict's action
    # a squashed action is rescaled to the bounds, never clipped: tanh 0.5 is a quarter of the way from the top
    np.testing.assert_allclose(actor.to_env(torch.tensor([[0.5], [-1.0]])), [[1.0], [-2.0]])


def test_student_of_a_squashed_teacher_acts_like_its_predict(squashed_teacher: Path) -> None:
    teacher = load_policy(squashed_teacher, "Pendulum-v1")
    config = DistillConfig("Pendulum-v1", student_hidden=(32, 32), steps=4_000, steps_per_round=1_000,
                           collect="teacher", eval_episodes=0, updates_per_round=300)  # fmt: skip
    student = distill(config, teacher, progress_bar=False).student
    venv, visited = teacher.make_env("Pendulum-v1", n_envs=4, seed=99), []
    obs = venv.reset()
    for _ in range(64):
        visited.append(obs)
        obs = venv.step(teacher.model.predict(obs, deterministic=False)[0])[0]
    states = torch.as_tensor(np.concatenate(visited), dtype=torch.float32)
    want = teacher.model.predict(states.numpy(), deterministic=True)[0]
    got = student.predict(states.numpy(), deterministic=True)[0]
    with torch.no_grad():
        pre_squash = teacher.policy.get_distribution(states).distribution.mean.numpy()
    error = np.abs(got - want).mean()
    unsquashed = np.abs(np.clip(pre_squash, -2, 2) - want).mean()
    assert error < 0.15 and error < 0.5 * unsquashed, (error, unsquashed)  # not fitted to the raw Gaussian


def test_gsde_noise_is_redrawn_every_sample_freq_and_at_episode_starts(pendulum_teacher: Path) -> None:
    teacher = load_policy(pendulum_teacher, "Pendulum-v1")
    assert teacher.policy.use_sde and teacher.model.sde_sample_freq == 4  # the preset's settings
    actor = Actor(teacher.policy, n_envs=3, sde_sample_freq=teacher.model.sde_sample_freq)
    states, generator = pendulum_states(3), torch.Generator().manual_seed(0)
    noise = lambda: teacher.policy.action_dist.exploration_matrices.clone()  # noqa: E731
    seen = []
    for _ in range(9):
        actor.act(states, generator)
        seen.append(noise())
    assert all(torch.equal(seen[0], m) for m in seen[1:4])
    assert not torch.equal(seen[3], seen[4]) and all(torch.equal(seen[4], m) for m in seen[5:8])
    before = noise()
    actor.episode_starts(np.array([False, True, False]))
    after = noise()
    assert torch.equal(before[0], after[0]) and torch.equal(before[2], after[2])
    assert not torch.equal(before[1], after[1])


@pytest.fixture(scope="module")
def frozenlake_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = PPO("MlpPolicy", make_vec_env("FrozenLake-v1", n_envs=4, seed=0), n_steps=128, seed=0)
    model.learn(1_024)
    path = tmp_path_factory.mktemp("frozenlake") / "teacher.zip"
    model.save(path)
    return path


def test_discrete_observations_distil_save_export_and_evaluate(frozenlake_teacher: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    teacher = load_policy(frozenlake_teacher, "FrozenLake-v1")
    config = DistillConfig("FrozenLake-v1", student_hidden=(16,), steps=2_000, steps_per_round=1_000,
                           collect="teacher", eval_episodes=0, updates_per_round=300)  # fmt: skip
    save_student(distill(config, teacher, progress_bar=False), teacher, tmp_path)
    student = load_student(tmp_path / "student.safetensors")
    states = np.arange(16)
    teacher_actions = teacher.model.predict(states, deterministic=True)[0]
    assert (student.act(states) == teacher_actions).mean() >= 0.9
    assert student.act(np.int64(5)) == student.act(states)[5]  # one observation in, one action out
    report = export_student(tmp_path / "student.safetensors", "onnx", tmp_path / "student.onnx")
    assert report.identical_actions
    returns = []
    for path in ("student.zip", "student.safetensors", "student.onnx"):
        assert main(["evaluate", str(tmp_path / path), "--env", "FrozenLake-v1", "--episodes", "20", "--json"]) == 0
        returns.append(json.loads(capsys.readouterr().out)["returns"])
    assert returns[0] == returns[1] == returns[2]


class MultiDiscreteEnv(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.MultiDiscrete([2, 3])

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(2, np.float32), 0.0, True, False, {}


def test_unsupported_action_space_is_refused_before_any_work(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    gym.register("RlDistillTest/MultiDiscrete-v0", entry_point=MultiDiscreteEnv)
    model = PPO("MlpPolicy", make_vec_env("RlDistillTest/MultiDiscrete-v0", n_envs=1), n_steps=64, batch_size=64)
    model.save(tmp_path / "teacher.zip")
    with pytest.raises(InputError, match="action space MultiDiscrete.*not supported"):
        distill(DistillConfig("RlDistillTest/MultiDiscrete-v0", steps=64, steps_per_round=64),
                load_policy(tmp_path / "teacher.zip", "RlDistillTest/MultiDiscrete-v0"), progress_bar=False)
    out = tmp_path / "out"
    code = main(["distill", "--teacher", str(tmp_path / "teacher.zip"), "--env", "RlDistillTest/MultiDiscrete-v0",
                 "--steps", "64", "--out", str(out)])  # fmt: skip
    assert code == 2 and "not supported" in capsys.readouterr().err
    assert not any(out.glob("student*"))


class ImageEnv(MultiDiscreteEnv):
    observation_space = gym.spaces.Box(0, 255, (36, 36, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)


def test_image_observations_are_refused_with_their_reason(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    gym.register("RlDistillTest/Image-v0", entry_point=ImageEnv)
    PPO("CnnPolicy", make_vec_env("RlDistillTest/Image-v0", n_envs=1), n_steps=64).save(tmp_path / "teacher.zip")
    out = tmp_path / "out"
    code = main(["distill", "--teacher", str(tmp_path / "teacher.zip"), "--env", "RlDistillTest/Image-v0",
                 "--steps", "64", "--out", str(out)])  # fmt: skip
    assert code == 2 and "image observations" in capsys.readouterr().err  # not a shape mismatch: SB3 transposed them
    assert not out.exists()


class MatrixActionEnv(MultiDiscreteEnv):
    action_space = gym.spaces.Box(-1, 1, (2, 2), np.float32)


def test_box_actions_of_more_than_one_dimension_are_refused(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    gym.register("RlDistillTest/MatrixAction-v0", entry_point=MatrixActionEnv)
    PPO("MlpPolicy", make_vec_env("RlDistillTest/MatrixAction-v0", n_envs=1), n_steps=64).save(tmp_path / "t.zip")
    code = main(["distill", "--teacher", str(tmp_path / "t.zip"), "--env", "RlDistillTest/MatrixAction-v0",
                 "--steps", "64", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and "shape (2, 2) are not supported" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("algorithm", [PPO, A2C])
def test_teacher_with_separate_actor_and_critic_extractors_is_read_as_sb3_does(algorithm: type) -> None:
    model = algorithm("MlpPolicy", "CartPole-v1", seed=0, policy_kwargs={
        "share_features_extractor": False, "net_arch": {"pi": [48], "vf": [32, 32]}, "activation_fn": torch.nn.ReLU})
    obs = torch.as_tensor(np.random.default_rng(0).normal(size=(64, 4)), dtype=torch.float32)
    with torch.no_grad():
        ours = Actor(model.policy).rows(obs)
        theirs = model.policy.get_distribution(obs).distribution.logits
    torch.testing.assert_close(torch.log_softmax(ours, -1), theirs)


def test_a_users_env_is_named_module_colon_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = "tests.registered_env:RlDistillTest/Imported-v0"  # gymnasium.make's way to name a user's env
    PPO("MlpPolicy", make_vec_env(env, n_envs=1), n_steps=64).save(tmp_path / "teacher.zip")
    code = main(["distill", "--teacher", str(tmp_path / "teacher.zip"), "--env", env, "--steps", "256",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    assert json.loads((tmp_path / "out" / "student.json").read_text())["config"]["env_id"] == env
    assert main(["evaluate", str(tmp_path / "out" / "student.zip"), "--env", env, "--episodes", "2"]) == 0
    capsys.readouterr()
    code = main(["distill", "--teacher", str(tmp_path / "teacher.zip"), "--env", "tests.no_such_module:Imported-v0",
                 "--steps", "256", "--out", str(tmp_path / "other")])  # fmt: skip
    assert code == 2 and "cannot import 'tests.no_such_module'" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_kickstart_reference_samples_a_squashed_teacher_as_sb3_does(squashed_teacher: Path) -> None:
    from rl_distill.kickstart.run import TargetPolicy

    teacher = load_policy(squashed_teacher, "Pendulum-v1")
    obs = pendulum_states().numpy()
    ours = TargetPolicy(teacher, temperature=1.0).predict(obs)[0]
    torch.manual_seed(0)
    theirs = []
    for _ in range(4):  # SB3's gSDE noise is one matrix for a whole batch: redraw it for each state
        for state in obs:
            teacher.policy.reset_noise(1)
            theirs.append(teacher.predict(state[None], deterministic=False)[0])
    theirs = np.concatenate(theirs)
    assert ours.shape == (len(obs), 1) and np.abs(ours).max() <= 2.0
    # Without the tanh, unscale_action maps the raw Gaussian sample far past the bounds, then clips:
    # most actions would sit exactly on ±2. Squashed, they spread over the range as SB3's own samples do.
    assert np.mean(np.abs(ours) >= 1.999) == pytest.approx(np.mean(np.abs(theirs) >= 1.999), abs=0.15)
