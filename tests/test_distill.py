import dataclasses
import shutil
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from rl_distill.distill.buffer import DistillationBuffer
from rl_distill.distill.collect import Collector
from rl_distill.distill.config import (
    COLLECTION_MODES,
    NOISE_CAP,
    DistillConfig,
    action_noise,
    resolve_collect_actions,
    resolve_collect_all,
    std_limit,
)
from rl_distill.distill.loop import distill
from rl_distill.distill.outputs import save_student
from rl_distill.errors import InputError
from rl_distill.losses import DiagGaussian, gaussian_kl
from rl_distill.sb3.actor import Actor, decode_rows, greedy_gap
from rl_distill.sb3.policies import load_policy, policy_parameters


def held_out_states(teacher_path: Path, n: int = 2_000) -> torch.Tensor:
    """States the teacher visits from seeds the distillation never used."""
    teacher = load_policy(teacher_path, "CartPole-v1")
    venv = teacher.make_env("CartPole-v1", n_envs=8, seed=777)
    obs, states = venv.reset(), []
    while len(states) * 8 < n:
        states.append(obs)
        obs, *_ = venv.step(teacher.model.predict(obs, deterministic=False)[0])
    return torch.as_tensor(np.concatenate(states), dtype=torch.float32)


@pytest.mark.parametrize("collect", ["teacher", "student", "dagger"])
def test_student_matches_teacher_greedy_actions(cartpole_teacher: Path, collect: str) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig("CartPole-v1", student_hidden=(16, 16), steps=4_000, steps_per_round=1_000,
                           collect=collect, eval_episodes=0, updates_per_round=150)  # fmt: skip
    result = distill(config, teacher, progress_bar=False)
    states = held_out_states(cartpole_teacher)
    with torch.no_grad():
        teacher_actions = teacher.policy.get_distribution(states).mode()
        student_actions = result.student.policy.get_distribution(states).mode()
        untrained = PPO("MlpPolicy", teacher.make_env("CartPole-v1", n_envs=1, seed=0),
                        policy_kwargs={"net_arch": [16, 16]}, seed=5).policy.get_distribution(states).mode()
    agreement = (teacher_actions == student_actions).float().mean().item()
    chance = (teacher_actions == untrained).float().mean().item()
    assert agreement > 0.9, (agreement, chance)
    assert agreement > chance + 0.2
    assert [r.env_steps for r in result.rounds] == [1_000, 2_000, 3_000, 4_000]
    assert result.rounds[-1].teacher_queries == 4_000
    assert result.rounds[-1].loss < result.rounds[0].loss
    # measured on each round's new states before training on them: an untrained student disagrees often
    gaps = [r.action_gap for r in result.rounds]
    assert gaps[0] > 0.1 and gaps[-1] < min(0.05, gaps[0] / 4), gaps
    assert policy_parameters(result.student.policy) * 10 < policy_parameters(teacher.policy)


def test_dagger_beta_decays_from_teacher_to_student(cartpole_teacher: Path) -> None:
    config = DistillConfig("CartPole-v1", steps=1_600, steps_per_round=400, collect="dagger",
                           dagger_decay=0.5, eval_episodes=0, updates_per_round=5)  # fmt: skip
    result = distill(config, load_policy(cartpole_teacher, "CartPole-v1"), progress_bar=False)
    assert [r.beta for r in result.rounds] == [1.0, 0.5, 0.25, 0.125]


def test_buffer_stays_bounded_and_keeps_the_newest() -> None:
    buffer = DistillationBuffer(capacity=10, obs_dim=1, target_dim=1)
    for start in range(0, 35, 7):
        values = torch.arange(start, start + 7, dtype=torch.float32).reshape(-1, 1)
        buffer.add(values, -values)
    assert len(buffer) == 10
    assert sorted(buffer.obs.flatten().tolist()) == list(range(25, 35))
    torch.testing.assert_close(buffer.targets, -buffer.obs)
    obs, targets = buffer.sample(64, torch.Generator().manual_seed(0))
    assert obs.shape == (64, 1) and obs.min() >= 25
    assert buffer.newest(3)[0].flatten().tolist() == [32, 33, 34]  # across the ring's end
    assert buffer.newest(50)[0].flatten().tolist() == list(range(25, 35)) and len(buffer.newest(0)[0]) == 0


def test_greedy_gap_is_the_share_of_disagreeing_states_or_of_the_action_range() -> None:
    teacher = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 0.0]])
    student = torch.tensor([[1.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0], [0.0, 0.0, 1.0]])
    assert greedy_gap(student, teacher, gym.spaces.Discrete(3)) == 0.5
    box = gym.spaces.Box(np.array([-1.0, 0.0]), np.array([1.0, 4.0]))
    teacher = torch.tensor([[0.5, 1.0, -1.0, -1.0], [2.0, 3.0, 0.0, 0.0]])  # [mean | log-std]; 2.0 acts as 1.0
    student = torch.tensor([[0.0, 1.0, 0.0, 0.0], [1.5, 5.0, -2.0, 0.0]])  # 5.0 acts as 4.0
    # |0.5 - 0| / 2, |1 - 1| / 4, |1 - 1| / 2, |3 - 4| / 4
    assert greedy_gap(student, teacher, box) == pytest.approx((0.25 + 0 + 0 + 0.25) / 4)
    unbounded = gym.spaces.Box(-np.inf, np.inf, (1,))
    assert greedy_gap(torch.tensor([[1.0, 0.0]]), torch.tensor([[4.0, 0.0]]), unbounded) == 3.0


def test_continuous_teacher_distils_with_its_normalisation(pendulum_teacher: Path, tmp_path: Path) -> None:
    teacher = load_policy(pendulum_teacher, "Pendulum-v1")
    assert teacher.normalization is not None  # found next to the zip
    config = DistillConfig("Pendulum-v1", student_hidden=(8,), steps=2_000, steps_per_round=1_000,
                           eval_episodes=0, updates_per_round=200)  # fmt: skip
    result = distill(config, teacher, progress_bar=False)
    states = torch.randn(512, 3)
    with torch.no_grad():
        t = decode_rows(Actor(teacher.policy).rows(states), discrete=False)
        s = decode_rows(Actor(result.student.policy).rows(states), discrete=False)
        s0 = DiagGaussian(torch.zeros_like(t.mean), torch.full_like(t.log_std, -0.5))
    assert gaussian_kl(t, s).item() < gaussian_kl(t, s0).item()
    path = save_student(result, teacher, tmp_path)
    student = load_policy(path, "Pendulum-v1")
    np.testing.assert_array_equal(student.normalization.obs_rms.mean, teacher.normalization.obs_rms.mean)
    np.testing.assert_array_equal(student.normalization.obs_rms.var, teacher.normalization.obs_rms.var)


def test_normalisation_statistics_are_applied(pendulum_teacher: Path) -> None:
    teacher = load_policy(pendulum_teacher, "Pendulum-v1")
    rms = teacher.normalization.obs_rms
    assert not np.allclose(rms.var, 1.0)
    venv = teacher.make_env("Pendulum-v1", n_envs=2, seed=3)
    seen = venv.reset()
    raw = venv.get_original_obs()
    expected = np.clip((raw - rms.mean) / np.sqrt(rms.var + teacher.normalization.epsilon), -10, 10)
    np.testing.assert_allclose(seen, expected, rtol=1e-5)
    venv.step(np.zeros((2, 1)))
    np.testing.assert_array_equal(venv.obs_rms.mean, rms.mean)  # frozen: evaluation never updates them


def test_same_seed_gives_identical_students(cartpole_teacher: Path) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig("CartPole-v1", steps=1_000, steps_per_round=500, collect="dagger",
                           eval_episodes=0, updates_per_round=20, seed=4)  # fmt: skip
    a = distill(config, teacher, progress_bar=False).student.policy.state_dict()
    b = distill(config, teacher, progress_bar=False).student.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_lr_decay_lowers_the_rate_linearly_over_the_rounds(cartpole_teacher: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from rl_distill.distill import loop

    rates: list[float] = []
    real_train_round = loop.train_round

    def spy(parts, optimizer, config, generator, round_index):  # noqa: ANN001, ANN202
        losses = real_train_round(parts, optimizer, config, generator, round_index)
        rates.append(optimizer.param_groups[0]["lr"])  # the rate the round's updates used
        return losses

    monkeypatch.setattr(loop, "train_round", spy)
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig("CartPole-v1", steps=1_000, steps_per_round=250, eval_episodes=0, updates_per_round=2,
                           learning_rate=0.004)  # fmt: skip
    distill(config, teacher, progress_bar=False)
    assert rates == pytest.approx([0.004] * 4)
    rates.clear()
    decayed = distill(dataclasses.replace(config, lr_decay=True), teacher, progress_bar=False)
    assert rates == pytest.approx([0.004, 0.003, 0.002, 0.001])
    plain = distill(config, teacher, progress_bar=False).student.policy.state_dict()
    assert not all(torch.equal(plain[k], v) for k, v in decayed.student.policy.state_dict().items())


def test_zoo_layout_statistics_are_found(pendulum_teacher: Path, tmp_path: Path) -> None:
    """rl-baselines3-zoo saves ``<env>.zip`` beside a folder ``<env>/vecnormalize.pkl``."""
    (tmp_path / "Pendulum-v1").mkdir()
    shutil.copy(pendulum_teacher, tmp_path / "Pendulum-v1.zip")
    shutil.copy(pendulum_teacher.parent / "teacher" / "vecnormalize.pkl", tmp_path / "Pendulum-v1" / "vecnormalize.pkl")
    loaded = load_policy(tmp_path / "Pendulum-v1.zip", "Pendulum-v1")
    assert loaded.normalization is not None
    np.testing.assert_array_equal(loaded.normalization.obs_rms.mean,
                                  load_policy(pendulum_teacher, "Pendulum-v1").normalization.obs_rms.mean)


def test_statistics_saved_as_sb3_docs_and_the_hub_name_them_are_found(pendulum_teacher: Path, tmp_path: Path) -> None:
    """SB3's docs and huggingface_sb3 save ``env.save("vec_normalize.pkl")`` beside the model's zip."""
    shutil.copy(pendulum_teacher, tmp_path / "ppo-Pendulum-v1.zip")
    shutil.copy(pendulum_teacher.parent / "teacher" / "vecnormalize.pkl", tmp_path / "vec_normalize.pkl")
    loaded = load_policy(tmp_path / "ppo-Pendulum-v1.zip", "Pendulum-v1")
    assert loaded.normalization is not None
    np.testing.assert_array_equal(loaded.normalization.obs_rms.mean,
                                  load_policy(pendulum_teacher, "Pendulum-v1").normalization.obs_rms.mean)


@pytest.mark.parametrize("name", ["ppo_pendulum_vecnormalize.pkl", "ppo_pendulum-vec_normalize.pkl"])
def test_statistics_named_after_their_model_are_its_own(pendulum_teacher: Path, tmp_path: Path, name: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """``env.save(f"{name}_vecnormalize.pkl")`` beside ``model.save(name)``: the model's own, used without a
    note; another model in the same folder does not take them."""
    shutil.copy(pendulum_teacher, tmp_path / "ppo_pendulum.zip")
    shutil.copy(pendulum_teacher, tmp_path / "ppo.zip")
    shutil.copy(pendulum_teacher.parent / "teacher" / "vecnormalize.pkl", tmp_path / name)
    capsys.readouterr()
    loaded = load_policy(tmp_path / "ppo_pendulum.zip", "Pendulum-v1")
    assert loaded.normalization is not None
    np.testing.assert_array_equal(loaded.normalization.obs_rms.mean,
                                  load_policy(pendulum_teacher, "Pendulum-v1").normalization.obs_rms.mean)
    assert "note:" not in capsys.readouterr().err
    assert load_policy(tmp_path / "ppo.zip", "Pendulum-v1").normalization is None  # "ppo" is not "ppo_pendulum"
    assert f"pass --vecnormalize {tmp_path / name}" in capsys.readouterr().err


def test_a2c_teacher_from_plain_sb3_distils(tmp_path: Path) -> None:
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env

    model = A2C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), seed=0,
                policy_kwargs={"net_arch": [64, 64]})  # fmt: skip
    model.learn(3_000)
    model.save(tmp_path / "a2c.zip")
    teacher = load_policy(tmp_path / "a2c.zip", "CartPole-v1")
    config = DistillConfig("CartPole-v1", steps=1_000, steps_per_round=500, eval_episodes=0, updates_per_round=100)
    student = distill(config, teacher, progress_bar=False).student
    states = torch.randn(256, 4) * 0.5
    with torch.no_grad():
        agree = (teacher.policy.get_distribution(states).mode() == student.policy.get_distribution(states).mode())
    assert agree.float().mean() > 0.8


def test_steps_are_exact_and_rounds_never_empty(cartpole_teacher: Path) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig("CartPole-v1", steps=1_000, steps_per_round=300, n_envs=8, eval_episodes=0,
                           updates_per_round=2)  # fmt: skip
    result = distill(config, teacher, progress_bar=False)
    assert [r.env_steps for r in result.rounds] == [304, 600, 904, 1_000]  # whole vector steps, last one cut
    assert result.rounds[-1].teacher_queries == 1_000 and result.rounds[-1].buffer_states == 1_000
    with pytest.raises(InputError, match="at least --n-envs"):
        distill(DistillConfig("CartPole-v1", steps=100, steps_per_round=4, n_envs=8), teacher, progress_bar=False)


def test_evaluation_time_is_reported_apart_from_distillation(cartpole_teacher: Path) -> None:
    def slow_evaluation(model: PPO) -> float:
        time.sleep(0.4)
        return 1.0

    config = DistillConfig("CartPole-v1", steps=512, steps_per_round=256, eval_episodes=1, updates_per_round=2)
    result = distill(config, load_policy(cartpole_teacher, "CartPole-v1"), evaluate_student=slow_evaluation,
                     progress_bar=False)  # fmt: skip
    assert result.eval_seconds >= 0.8 and result.rounds[-1].eval_seconds == result.eval_seconds
    assert result.wall_seconds < 0.8  # 512 CartPole steps and 4 updates, without the evaluation's sleep
    assert 0 < result.env_seconds < result.wall_seconds  # the envs' share, evaluation excluded too
    assert result.rounds[-1].steps_per_second == pytest.approx(512 / result.rounds[-1].wall_seconds)


def test_statistics_belong_to_their_model(pendulum_teacher: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A student saved without statistics beside a normalised teacher's ``vecnormalize.pkl`` keeps none;
    a bare zip there falls back to it, visibly, once; a statistics file under a name nothing reads is pointed
    out, not used."""
    teacher = load_policy(pendulum_teacher, "Pendulum-v1")
    shutil.copy(pendulum_teacher, tmp_path / "teacher.zip")
    shutil.copy(pendulum_teacher.parent / "teacher" / "vecnormalize.pkl", tmp_path / "vecnormalize.pkl")
    config = DistillConfig("Pendulum-v1", student_hidden=(4,), steps=256, steps_per_round=256, eval_episodes=0,
                           updates_per_round=2)  # fmt: skip
    raw_teacher = dataclasses.replace(teacher, normalization=None)
    save_student(distill(config, raw_teacher, progress_bar=False), raw_teacher, tmp_path, name="raw")
    capsys.readouterr()
    assert load_policy(tmp_path / "raw.zip", "Pendulum-v1").normalization is None
    assert "note:" not in capsys.readouterr().err
    shutil.copy(tmp_path / "raw.zip", tmp_path / "bare.zip")
    assert load_policy(tmp_path / "bare.zip", "Pendulum-v1").normalization is not None
    err = capsys.readouterr().err
    assert "bare.zip has no statistics of its own" in err and str(tmp_path / "vecnormalize.pkl") in err
    assert load_policy(tmp_path / "bare.zip", "Pendulum-v1").normalization is not None
    assert "note:" not in capsys.readouterr().err  # said once per model, not at every load of it
    (tmp_path / "vecnormalize.pkl").rename(tmp_path / "bare_vecnormalize.pkl")  # a name nothing reads
    assert load_policy(tmp_path / "raw.zip", "Pendulum-v1").normalization is None
    assert "note:" not in capsys.readouterr().err  # a student artifact that says it has none
    assert load_policy(tmp_path / "teacher.zip", "Pendulum-v1").normalization is None
    assert f"pass --vecnormalize {tmp_path / 'bare_vecnormalize.pkl'}" in capsys.readouterr().err


@pytest.mark.parametrize("beta", [1.0, 0.0])  # the teacher acts, or the student
def test_greedy_collection_steps_with_the_acting_policys_greedy_action(pendulum_teacher: Path, beta: float) -> None:
    teacher = load_policy(pendulum_teacher, "Pendulum-v1")

    def visited(mode: str, action_seed: int) -> torch.Tensor:
        torch.manual_seed(action_seed)  # gSDE draws its exploration matrices from torch's global generator
        venv = teacher.make_env("Pendulum-v1", n_envs=2, seed=0)
        collector = Collector(venv, Actor(teacher.policy, n_envs=2), Actor(teacher.policy, n_envs=2),
                              capacity=100, raw_inputs=False, collect_actions=mode)  # fmt: skip
        collector.collect(20, budget=20, beta=beta, rng=np.random.default_rng(0),
                          generator=torch.Generator().manual_seed(action_seed))  # fmt: skip
        return collector.buffer.obs[:20].reshape(10, 2, -1)  # step, env, observation

    assert torch.equal(visited("greedy", 1), visited("greedy", 2))  # no action noise left
    assert not torch.equal(visited("sampled", 1), visited("sampled", 2))
    mixed = [visited("mixed", seed) for seed in (1, 2)]  # env 0 acts greedily, env 1 samples
    assert torch.equal(mixed[0][:, 0], visited("greedy", 1)[:, 0])
    assert torch.equal(mixed[0][:, 1], visited("sampled", 1)[:, 1]) and not torch.equal(mixed[0][:, 1], mixed[1][:, 1])
    actor = Actor(teacher.policy, n_envs=2)
    capped = Collector(teacher.make_env("Pendulum-v1", n_envs=2, seed=0), actor, actor, capacity=10, raw_inputs=False,
                       collect_actions="capped")  # fmt: skip
    rows = torch.tensor([[0.5, 0.0], [3.0, np.log(0.1)]])  # mean | log-std; Pendulum's actions lie in [-2, 2]
    # std 1 is five times the cap (0.1 of the half-range 2): the noise shrinks to a fifth; std 0.1 is under it
    assert capped.with_noise(rows, np.array([[1.5], [1.9]], dtype=np.float32)).ravel() == pytest.approx([0.7, 1.9])
    wider = Collector(teacher.make_env("Pendulum-v1", n_envs=2, seed=0), actor, actor, capacity=10, raw_inputs=False,
                      collect_actions="capped", noise_cap=0.2)  # fmt: skip
    assert wider.with_noise(rows, np.array([[1.5], [1.9]], dtype=np.float32)).ravel() == pytest.approx([0.9, 1.9])
    venv = teacher.make_env("Pendulum-v1", n_envs=2, seed=0)  # what SB3's deterministic predict does from there
    first = venv.reset()
    second = venv.step(teacher.predict(first, deterministic=True)[0])[0]
    assert torch.allclose(visited("greedy", 1)[1], torch.as_tensor(second, dtype=torch.float32), atol=1e-5)


def test_action_noise_per_mode() -> None:
    assert action_noise("sampled", 4).tolist() == [1.0] * 4
    assert action_noise("greedy", 4).tolist() == [0.0] * 4
    assert action_noise("mixed", 5).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert action_noise("capped", 2).tolist() == [1.0, 1.0]
    assert std_limit("capped") == NOISE_CAP and std_limit("capped", 0.3) == 0.3
    assert all(std_limit(mode, 0.3) == float("inf") for mode in ("sampled", "greedy", "mixed"))
    with pytest.raises(ValueError, match="not a resolved collection mode"):
        action_noise("auto", 4)


def test_distill_collects_greedily_when_asked(cartpole_teacher: Path) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig(env_id="CartPole-v1", steps=64, steps_per_round=32, n_envs=2, eval_episodes=0)
    students = [distill(dataclasses.replace(config, collect_actions=how), teacher, progress_bar=False).student
                for how in ("sampled", "greedy", "greedy", "mixed")]  # fmt: skip
    weights = [torch.cat([p.detach().flatten() for p in s.policy.parameters()]) for s in students]
    assert not torch.equal(weights[0], weights[1]) and torch.equal(weights[1], weights[2])
    assert not torch.equal(weights[3], weights[0]) and not torch.equal(weights[3], weights[1])
    with pytest.raises(InputError, match="--collect-actions must be one of auto, sampled, greedy, mixed"):
        dataclasses.replace(config, collect_actions="noisy").validate()  # type: ignore[arg-type]


@pytest.mark.parametrize(("env_id", "collect", "scheme", "resolved"), [
    ("CartPole-v1", "auto", "student", "sampled"),  # discrete actions: student-driven, sampled
    ("Pendulum-v1", "auto", "dagger", "greedy"),  # Box actions: DAgger, greedy
    ("Pendulum-v1", "student", "student", "capped"),  # Box actions, student-driven by name: capped
])  # fmt: skip
def test_auto_collection_resolves_by_action_space_and_scheme(
        cartpole_teacher: Path, pendulum_teacher: Path, env_id: str, collect: str, scheme: str,
        resolved: str) -> None:  # fmt: skip
    teacher = load_policy(cartpole_teacher if env_id == "CartPole-v1" else pendulum_teacher, env_id)
    default = DistillConfig(env_id=env_id)
    assert (default.collect, default.collect_actions) == ("auto", "auto")
    config = DistillConfig(env_id=env_id, collect=collect, steps=64, steps_per_round=32, n_envs=2,  # type: ignore
                           updates_per_round=5, eval_episodes=0)  # fmt: skip
    other = "greedy" if resolved == "sampled" else "sampled"
    runs = [distill(dataclasses.replace(config, collect=c, collect_actions=how), teacher,  # type: ignore[arg-type]
                    progress_bar=False)
            for c, how in ((collect, "auto"), (scheme, resolved), (scheme, other))]  # fmt: skip
    weights = [torch.cat([p.detach().flatten() for p in r.student.policy.parameters()]) for r in runs]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    assert (runs[0].config.collect, runs[0].config.collect_actions) == (scheme, resolved)  # what the run records
    for mode in COLLECTION_MODES:
        assert resolve_collect_actions(mode, teacher.policy.action_space, collect) == mode


def test_one_scheme_for_several_tasks_is_dagger_when_auto_picks_it_for_any() -> None:
    box, discrete = gym.spaces.Box(-1.0, 1.0, (2,)), gym.spaces.Discrete(3)
    assert resolve_collect_all("auto", [discrete, discrete]) == "student"
    assert resolve_collect_all("auto", [discrete, box]) == "dagger"
    assert resolve_collect_all("teacher", [discrete, box]) == "teacher"


def test_checkpoints_from_before_collect_actions_still_resume() -> None:
    """A checkpoint saved before the field existed has no collect_actions; sampled (its behaviour) must match it,
    and so must the default, auto, where it resolves to sampled (discrete actions), but not where it is greedy."""
    sampled, greedy = DistillConfig(env_id="CartPole-v1"), DistillConfig(env_id="CartPole-v1", collect_actions="greedy")
    assert "collect_actions" not in dataclasses.replace(sampled, collect_actions="sampled").identity()
    assert greedy.identity()["collect_actions"] == "greedy"
    assert "collect_actions" not in sampled.resolved(gym.spaces.Discrete(2)).identity()
    box = gym.spaces.Box(-1.0, 1.0, (1,))
    assert DistillConfig(env_id="Pendulum-v1").resolved(box).identity()["collect_actions"] == "greedy"
    # A Box-action run begun student-driven and capped (the defaults until session 59), or before either field,
    # resumes as it began under today's defaults, auto and auto.
    for saved in ({"collect": "student", "collect_actions": "capped"}, {"collect": "student"}, {}):
        went_on = DistillConfig(env_id="Pendulum-v1").continuing(saved).resolved(box)
        assert went_on.collect == "student" and went_on.collect_actions == saved.get("collect_actions", "sampled")
    assert DistillConfig(env_id="Pendulum-v1").continuing(None).resolved(box).collect == "dagger"  # a fresh run
    assert "noise_cap" not in greedy.identity()  # at NOISE_CAP, as every run before the field
    assert DistillConfig(env_id="Pendulum-v1", noise_cap=0.2).identity()["noise_cap"] == 0.2
    with pytest.raises(InputError, match="--noise-cap must be a positive share"):
        DistillConfig(env_id="Pendulum-v1", noise_cap=0.0).validate()


def test_visited_rows_follow_the_policys_own_greedy_or_sampled_rollouts(tmp_path: Path) -> None:
    PPO("MlpPolicy", "Pendulum-v1", seed=0).save(tmp_path / "teacher.zip")
    teacher = load_policy(tmp_path / "teacher.zip", "Pendulum-v1")
    greedy = teacher.visited_rows("Pendulum-v1", vector_steps=3, n_envs=2, seed=0)
    assert greedy.shape == (6, 2)  # one [mean | log-std] row per env and step
    assert torch.equal(greedy, teacher.visited_rows("Pendulum-v1", vector_steps=3, n_envs=2, seed=0))
    first = teacher.make_env("Pendulum-v1", n_envs=2, seed=0).reset()
    assert torch.allclose(greedy[:2], Actor(teacher.policy).rows(torch.as_tensor(first)).detach())

    def sampled(seed: int) -> torch.Tensor:
        return teacher.visited_rows("Pendulum-v1", vector_steps=3, n_envs=2, seed=0,
                                    generator=torch.Generator().manual_seed(seed))  # fmt: skip

    assert torch.equal(sampled(1), sampled(1)) and not torch.equal(sampled(1), sampled(2))
    assert torch.equal(sampled(1)[:2], greedy[:2]) and not torch.equal(sampled(1)[2:], greedy[2:])  # same start
