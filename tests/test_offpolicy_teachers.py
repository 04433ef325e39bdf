"""Teachers from SB3's off-policy algorithms: a DQN read as softmax(Q / 0.01), a SAC actor as its squashed
Gaussian (also with gSDE), a TD3/DDPG actor as a Gaussian of std 0.1 of the half-range around its action."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.policies import ActorCriticPolicy

from rl_distill.artifacts.student import load_student
from rl_distill.cli import main
from rl_distill.distill.config import DistillConfig
from rl_distill.distill.loop import distill
from rl_distill.evaluation.compare import compare
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.run import run_kickstart
from rl_distill.sb3.actor import DETERMINISTIC_STD, Q_TEMPERATURE, Actor
from rl_distill.sb3.policies import LoadedPolicy, load_policy, make_student
from tests.test_own_teachers import pendulum_states

SMALL = {"policy_kwargs": {"net_arch": [32, 32]}, "learning_starts": 200, "buffer_size": 5_000}
TEACHERS = {
    "dqn": (DQN, "CartPole-v1", {"exploration_fraction": 0.5, "learning_rate": 1e-3, "target_update_interval": 500}),
    "sac": (SAC, "Pendulum-v1", {}),
    "sac-gsde": (SAC, "Pendulum-v1", {"use_sde": True}),
    "td3": (TD3, "Pendulum-v1", {}),
    "ddpg": (DDPG, "Pendulum-v1", {}),
}


@pytest.fixture(scope="module")
def teachers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each algorithm trained briefly by plain SB3 code: what the tests check is how a teacher is read."""
    root = tmp_path_factory.mktemp("offpolicy")
    for name, (algorithm, env, kwargs) in TEACHERS.items():
        small = {**SMALL, "policy_kwargs": dict(SMALL["policy_kwargs"])}  # SAC writes use_sde into its copy
        model = algorithm("MlpPolicy", make_vec_env(env, n_envs=1, seed=0), seed=0, device="cpu", **small, **kwargs)
        model.learn(5_000 if algorithm is DQN else 1_000)  # a DQN needs a few thousand to stop always pushing one way
        model.save(root / f"{name}.zip")
    return {name: root / f"{name}.zip" for name in TEACHERS}


def cartpole_states(n: int = 256) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.as_tensor(rng.uniform(-1, 1, (n, 4)) * [2.0, 2.0, 0.2, 2.0], dtype=torch.float32)


def visited_states(teacher: LoadedPolicy, env: str, steps: int = 64) -> torch.Tensor:
    """States the teacher's own (sampled) actions lead to, from 4 envs not seeded as distillation's."""
    venv, visited = teacher.make_env(env, n_envs=4, seed=99), []
    obs = venv.reset()
    for _ in range(steps):
        visited.append(obs)
        obs = venv.step(teacher.model.predict(obs, deterministic=False)[0])[0]
    return torch.as_tensor(np.concatenate(visited), dtype=torch.float32)


@pytest.mark.parametrize("name", list(TEACHERS))
def test_each_teacher_is_read_as_its_predict_acts(teachers: dict[str, Path], name: str) -> None:
    env = TEACHERS[name][1]
    teacher = load_policy(teachers[name], env)
    actor = Actor(teacher.policy, n_envs=4)
    states = cartpole_states() if env == "CartPole-v1" else pendulum_states()
    with torch.no_grad():
        greedy, rows = actor.greedy(states), actor.rows(states)
    np.testing.assert_allclose(greedy, teacher.model.predict(states.numpy(), deterministic=True)[0], atol=1e-5)
    if name == "dqn":
        with torch.no_grad():
            np.testing.assert_allclose(rows.numpy(), teacher.policy.q_net(states).numpy() / Q_TEMPERATURE, rtol=1e-6)
        return
    np.testing.assert_allclose(rows[:, :1].numpy(), greedy, atol=1e-4)  # the target's mean is the greedy action
    if name in ("td3", "ddpg"):  # Pendulum's half-range is 2
        np.testing.assert_allclose(rows[:, 1:].exp().numpy(), DETERMINISTIC_STD * 2.0, rtol=1e-6)
    _, sampled = actor.act(states[:4], torch.Generator().manual_seed(0))
    assert sampled.shape == (4, 1) and np.all(np.abs(sampled) <= 2.0)


def test_a_deterministic_teachers_samples_spread_by_its_std(teachers: dict[str, Path]) -> None:
    actor = Actor(load_policy(teachers["td3"], "Pendulum-v1").policy)
    states = pendulum_states()
    means = actor.greedy(states)[:, 0]
    middle = np.flatnonzero(np.abs(means) < 1.4)  # at least 3 std from both bounds: the env's clip leaves it alone
    assert middle.size, means
    mean, state = means[middle[0]], states[middle[0]].repeat(4_000, 1)
    samples = actor.act(state, torch.Generator().manual_seed(0))[1][:, 0]
    assert abs(np.std(samples) - 0.2) < 0.02 and abs(np.mean(samples) - mean) < 0.02
    edge = states[np.argmax(np.abs(means))].repeat(4_000, 1)  # a mean near a bound: the clip bunches samples there
    assert np.all(np.abs(actor.act(edge, torch.Generator().manual_seed(1))[1]) <= 2.0)


@pytest.mark.parametrize("name", ["dqn", "sac", "td3"])
def test_a_student_learns_each_teachers_greedy_actions(teachers: dict[str, Path], name: str) -> None:
    env = TEACHERS[name][1]
    teacher = load_policy(teachers[name], env)
    config = DistillConfig(env, student_hidden=(32, 32), steps=4_000, steps_per_round=1_000, collect="teacher",
                           eval_episodes=0, updates_per_round=300)  # fmt: skip
    states = visited_states(teacher, env)
    want = teacher.model.predict(states.numpy(), deterministic=True)[0]
    fresh = make_student(teacher.make_env(env, n_envs=1, seed=0), (32, 32), seed=0)
    untrained = fresh.predict(states.numpy(), deterministic=True)[0]
    got = distill(config, teacher, progress_bar=False).student.predict(states.numpy(), deterministic=True)[0]
    if name == "dqn":
        agree, before, majority = (got == want).mean(), (untrained == want).mean(), max(want.mean(), 1 - want.mean())
        assert agree >= 0.95 and agree > max(before, majority) + 0.1, (agree, before, majority)
    else:
        error, before = np.abs(got - want).mean(), np.abs(untrained - want).mean()
        assert error < 0.3 and error < 0.5 * before, (error, before)


def test_kickstart_pulls_a_student_toward_a_dqn_teacher(teachers: dict[str, Path], tmp_path: Path) -> None:
    """The same run without the term (lambda 0) and with it: the term's KL to softmax(Q / 0.01) ends lower."""
    last_terms = []
    for schedule in ("constant:0", "constant:5"):
        config = KickstartConfig("CartPole-v1", student_hidden=(8, 8), timesteps=4_096, eval_every=4_096,
                                 eval_episodes=1, keep_best=False, schedule=schedule)  # fmt: skip
        run_kickstart(config, teachers["dqn"], tmp_path / schedule, progress_bar=False)
        updates = json.loads((tmp_path / schedule / "student.json").read_text())["updates"]
        assert all(math.isfinite(u["distill_term"]) for u in updates)
        last_terms.append(np.mean([u["distill_term"] for u in updates[-4:]]))
    assert last_terms[1] < 0.8 * last_terms[0], last_terms


def test_compare_counts_an_off_policy_teachers_actor_only(teachers: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "student"
    assert main(["distill", "--teacher", str(teachers["sac"]), "--env", "Pendulum-v1", "--student-hidden", "8",
                 "--steps", "1000", "--out", str(out)]) == 0  # fmt: skip
    rows, _ = compare("Pendulum-v1", teachers["sac"], [out / "student.zip"], episodes=2)
    actor = load_policy(teachers["sac"], "Pendulum-v1").policy.actor
    assert rows[0].role == "teacher" and rows[0].policy_params == sum(p.numel() for p in actor.parameters())
    assert rows[1].compression_ratio == pytest.approx(rows[0].policy_params / rows[1].policy_params)
    assert rows[0].fast_path == "onnxruntime" and rows[0].fast_latency_us > 0  # its network, exported


def test_multitask_merges_teachers_of_several_algorithms(teachers: dict[str, Path], tmp_path: Path) -> None:
    assert main(["multitask", "--task", f"CartPole-v1={teachers['dqn']}", "--task", f"Pendulum-v1={teachers['td3']}",
                 "--steps", "8000", "--out", str(tmp_path)]) == 0  # fmt: skip
    student = load_student(tmp_path / "student.safetensors")
    assert student.tasks == ["CartPole-v1", "Pendulum-v1"]
    teacher = load_policy(teachers["dqn"], "CartPole-v1")
    states = visited_states(teacher, "CartPole-v1").numpy()
    want = teacher.model.predict(states, deterministic=True)[0]
    assert (student.for_task("CartPole-v1").act(states) == want).mean() >= 0.8


def test_a_gsde_sac_teachers_noise_is_redrawn_for_new_episodes_only(teachers: dict[str, Path]) -> None:
    """SAC keeps its gSDE noise in its actor's distribution, not the policy's as PPO does."""
    policy = load_policy(teachers["sac-gsde"], "Pendulum-v1").policy
    actor = Actor(policy, n_envs=3)
    actor.act(pendulum_states(3), torch.Generator().manual_seed(0))
    before = policy.actor.action_dist.exploration_matrices.clone()
    actor.episode_starts(np.array([False, True, False]))
    after = policy.actor.action_dist.exploration_matrices
    assert torch.equal(before[0], after[0]) and torch.equal(before[2], after[2])
    assert not torch.equal(before[1], after[1])


class OwnPolicy(ActorCriticPolicy):
    """A user's own actor-critic policy class: its module is neither SB3's nor one rl-distill names."""


def test_a_ppo_teacher_with_a_policy_class_of_its_own_still_loads(tmp_path: Path) -> None:
    PPO(OwnPolicy, "CartPole-v1", n_steps=64, device="cpu", seed=0).save(tmp_path / "own.zip")
    teacher = load_policy(tmp_path / "own.zip", "CartPole-v1")
    assert type(teacher.policy) is OwnPolicy
    states = cartpole_states()
    np.testing.assert_array_equal(Actor(teacher.policy).greedy(states),
                                  teacher.model.predict(states.numpy(), deterministic=True)[0])  # fmt: skip
