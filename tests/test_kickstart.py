"""Kickstarting's objective: PPO plus a teacher's KL term with a decaying weight, on SB3's PPO."""

import json
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.type_aliases import RolloutBufferSamples

from rl_distill import errors
from rl_distill.errors import InputError
from rl_distill.kickstart import run as kickstart_run
from rl_distill.kickstart.config import KickstartConfig
from rl_distill.kickstart.ppo import Guide, KickstartPPO, LambdaSchedule
from rl_distill.kickstart.run import load_init, make_guide, run_kickstart
from rl_distill.sb3.actor import Actor
from rl_distill.sb3.policies import load_policy, make_student


def test_lambda_schedules_give_the_documented_values() -> None:
    assert LambdaSchedule.parse("constant:0.5")(123_456) == 0.5
    linear = LambdaSchedule.parse("linear:1,0.2,1000")
    assert [linear(s) for s in (0, 500, 1000, 5000)] == pytest.approx([1.0, 0.6, 0.2, 0.2])
    exp = LambdaSchedule.parse("exp:2,100")
    assert [exp(s) for s in (0, 100, 300)] == pytest.approx([2.0, 1.0, 0.25])
    adaptive = LambdaSchedule.parse("adaptive:1.5")
    assert adaptive(0) == 1.5 and adaptive(0, 0.4) == pytest.approx(0.9) and adaptive(0, 1.2) == 0.0
    assert str(linear) == "linear:1,0.2,1000"


@pytest.mark.parametrize("text", ["cosine:1", "linear:1,0", "exp:1,0", "constant:-1", "constant:x", "exp:nan,5",
                                  "constant"])  # fmt: skip
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="--lambda"):
        LambdaSchedule.parse(text)


def fixed_batch(student: PPO, n: int = 32) -> RolloutBufferSamples:
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(n, 4, generator=g) * 0.5
    actions = torch.randint(0, 2, (n, 1), generator=g).float()
    with torch.no_grad():
        _, log_prob, _ = student.policy.evaluate_actions(obs, actions.long().flatten())
    old = log_prob + 0.3 * torch.randn(n, generator=g)  # as if the policy had moved since the rollout
    zeros = torch.zeros(n)
    return RolloutBufferSamples(obs, actions, zeros, old, zeros, zeros)


@pytest.mark.parametrize("term", ["kl", "ppd"])
def test_kl_and_ppd_terms_equal_hand_computed_values(cartpole_teacher: Path, term: str) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    student = make_student(make_vec_env("CartPole-v1", n_envs=1), (8, 8), seed=0)
    samples = fixed_batch(student)
    with torch.no_grad():
        t_logits = teacher.policy.get_distribution(samples.observations).distribution.logits
        s_dist = student.policy.get_distribution(samples.observations).distribution
        kl = (t_logits.exp() * (t_logits - s_dist.logits)).sum(-1)  # SB3's logits are normalised log-probs
        log_prob = s_dist.log_prob(samples.actions.long().flatten())
        weight = torch.clamp(torch.exp(log_prob - samples.old_log_prob), min=0.8) if term == "ppd" else 1.0
    guide = Guide(teacher=Actor(teacher.policy), schedule=LambdaSchedule.parse("constant:1"), term=term)
    got = guide.divergence(student.policy, samples, Actor(teacher.policy).rows(samples.observations), clip_range=0.2)
    torch.testing.assert_close(got, (weight * kl).mean())


def test_with_lambda_zero_the_update_is_sb3_ppos(cartpole_teacher: Path) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    kwargs = dict(n_steps=64, batch_size=32, n_epochs=2, seed=3, device="cpu")
    plain = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=3), **kwargs)
    plain.learn(256)  # SB3 seeds the global generators when a model is made: make and train one, then the other
    guide = Guide(teacher=Actor(teacher.policy), schedule=LambdaSchedule.parse("constant:0"))
    guided = KickstartPPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=3), guide=guide, **kwargs)
    guided.learn(256)
    a, b = plain.policy.state_dict(), guided.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [u["lambda"] for u in guided.update_log] == [0.0] * 2 and guided.update_log[0]["distill_term"] > 0


def test_critic_warmup_holds_the_policy_and_trains_only_the_value_function(cartpole_teacher: Path) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    guide = Guide(teacher=Actor(teacher.policy), schedule=LambdaSchedule.parse("constant:1"))
    model = KickstartPPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), guide=guide, critic_warmup=256,
                         n_steps=64, batch_size=32, n_epochs=2, seed=0, device="cpu")  # fmt: skip
    policy = model.policy
    snapshot = lambda: {k: v.clone() for k, v in policy.state_dict().items()}  # noqa: E731
    start = snapshot()
    model.learn(256)  # two updates, both inside the warm-up
    warmed = snapshot()
    actor = [k for k in start if k.startswith(("mlp_extractor.policy_net", "action_net"))]
    critic = [k for k in start if k.startswith(("mlp_extractor.value_net", "value_net"))]
    assert actor and critic
    assert all(torch.equal(start[k], warmed[k]) for k in actor)
    assert all(not torch.equal(start[k], warmed[k]) for k in critic)
    assert [u["lambda"] for u in model.update_log] == [0.0, 0.0]  # no teacher pull while the policy is held
    assert all(p.requires_grad for p in policy.parameters())
    model.learn(128, reset_num_timesteps=False)  # past the warm-up: the policy learns, the term is on
    assert not all(torch.equal(warmed[k], policy.state_dict()[k]) for k in actor)
    assert model.update_log[-1]["lambda"] == 1.0


@pytest.fixture(scope="module")
def good_cartpole_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rl_distill.sb3.training import train_ppo

    out = tmp_path_factory.mktemp("good-cartpole")
    train_ppo("CartPole-v1", out=out, hidden=(64, 64), timesteps=40_000, seed=0, progress_bar=False)
    return out / "teacher.zip"


def test_adaptive_lambda_compares_the_students_sampled_returns_with_the_teachers_sampled_returns(
    cartpole_teacher: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured, real_evaluate = [], kickstart_run.evaluate

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        measured.append((kwargs.get("deterministic", True), real_evaluate(*args, **kwargs)))
        return measured[-1][1]

    monkeypatch.setattr(kickstart_run, "evaluate", spy)
    config = KickstartConfig("CartPole-v1", schedule="adaptive:1")
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    guide = make_guide(config, config.validate(), teacher, gym.spaces.Discrete(2))
    [(deterministic, teacher_result)] = measured
    assert deterministic is False  # the student's training episodes sample their actions too
    assert guide.reference is not None and guide.score(teacher_result.mean_return) == pytest.approx(1.0)
    assert config.validate()(0, guide.score(teacher_result.mean_return)) == pytest.approx(0.0)


def test_the_run_records_the_adaptive_reference(
    cartpole_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The returns λ's score is measured between, so a λ that stays up can be traced to them; the run says it
    is measuring them (100 episodes of a slow env take a while before training starts)."""
    monkeypatch.setattr(errors, "_notes_given", set())  # a note is given once per process: not an earlier test's
    config = KickstartConfig("CartPole-v1", student_hidden=(8,), timesteps=256, eval_every=256, eval_episodes=1,
                             reference_episodes=3)  # fmt: skip
    run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    assert "sampled returns on CartPole-v1, 3 episodes each" in capsys.readouterr().err
    log = json.loads((tmp_path / "student.json").read_text())
    guide = make_guide(config, config.validate(), load_policy(cartpole_teacher, "CartPole-v1"), gym.spaces.Discrete(2))
    assert guide.reference is not None
    assert log["adaptive_reference"] == {"teacher": guide.reference[0], "random": guide.reference[1], "episodes": 3}
    longer = make_guide(replace(config, reference_episodes=10), config.validate(),
                        load_policy(cartpole_teacher, "CartPole-v1"), gym.spaces.Discrete(2))  # fmt: skip
    assert longer.reference != guide.reference  # the setting reaches the measurement
    assert log["updates"] and all(u["lambda"] == pytest.approx(max(0.0, 1 - u["student_score"]))
                                  for u in log["updates"])  # fmt: skip


def test_the_adaptive_reference_acts_as_the_tempered_target(cartpole_teacher: Path) -> None:
    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    obs = np.random.default_rng(0).normal(scale=0.5, size=(256, 4)).astype(np.float32)
    greedy = teacher.predict(obs, deterministic=True)[0]
    sharp = kickstart_run.TargetPolicy(teacher, temperature=1e-3).predict(obs)[0]
    sampled = [kickstart_run.TargetPolicy(teacher, temperature=1.0, seed=s).predict(obs)[0] for s in range(4)]
    assert (sharp == greedy).all()  # T -> 0: the teacher's greedy actions
    assert any((actions != greedy).any() for actions in sampled)  # T = 1: the teacher's own sampling


def test_short_kickstart_on_cartpole_reaches_475(good_cartpole_teacher: Path, tmp_path: Path) -> None:
    teacher = load_policy(good_cartpole_teacher, "CartPole-v1")
    from rl_distill.evaluation.evaluate import evaluate

    assert evaluate(teacher, "CartPole-v1", episodes=10).mean_return >= 475
    config = KickstartConfig("CartPole-v1", student_hidden=(16, 16), timesteps=6_144, schedule="constant:2",
                             eval_every=2_048, eval_episodes=5)  # fmt: skip
    path = run_kickstart(config, good_cartpole_teacher, tmp_path, progress_bar=False)
    log = json.loads((tmp_path / "student.json").read_text())
    assert log["curve_returns"][-1] >= 475, log["curve_returns"]
    assert evaluate(load_policy(path, "CartPole-v1"), "CartPole-v1", episodes=20).mean_return >= 475
    assert PPO.load(path).policy is not None  # a plain SB3 model


def test_init_starts_from_the_given_weights(cartpole_teacher: Path, tmp_path: Path) -> None:
    from rl_distill.distill.config import DistillConfig
    from rl_distill.distill.loop import distill
    from rl_distill.distill.outputs import save_student

    teacher = load_policy(cartpole_teacher, "CartPole-v1")
    config = DistillConfig("CartPole-v1", student_hidden=(8, 8), steps=512, steps_per_round=256, eval_episodes=0,
                           updates_per_round=10)  # fmt: skip
    save_student(distill(config, teacher, progress_bar=False), teacher, tmp_path)
    distilled = PPO.load(tmp_path / "student.zip").policy.state_dict()
    for source in ("student.zip", "student.safetensors"):
        fresh = make_student(make_vec_env("CartPole-v1", n_envs=1), (8, 8), seed=9)
        load_init(fresh, tmp_path / source, "CartPole-v1")
        got = fresh.policy.state_dict()
        actor = [k for k in got if k.startswith(("mlp_extractor.policy_net", "action_net"))]
        assert actor and all(torch.equal(got[k], distilled[k]) for k in actor)
    wrong = make_student(make_vec_env("CartPole-v1", n_envs=1), (4, 4), seed=9)
    with pytest.raises(InputError, match="does not match the student's --student-hidden"):
        load_init(wrong, tmp_path / "student.safetensors", "CartPole-v1")
    # a larger critic (--critic-hidden): the zip's actor is copied, the critic stays the fresh one it was
    larger = make_student(make_vec_env("CartPole-v1", n_envs=1), (8, 8), seed=9, critic_hidden=(32, 32))
    fresh_critic = {k: v.clone() for k, v in larger.policy.state_dict().items() if k.startswith("mlp_extractor.value")}
    load_init(larger, tmp_path / "student.zip", "CartPole-v1")
    got = larger.policy.state_dict()
    assert all(torch.equal(got[k], distilled[k]) for k in actor)
    assert fresh_critic and all(torch.equal(got[k], v) for k, v in fresh_critic.items())


def test_critic_hidden_sizes_the_value_function_only(cartpole_teacher: Path, tmp_path: Path) -> None:
    config = KickstartConfig("CartPole-v1", student_hidden=(8, 8), critic_hidden=(32, 32), timesteps=256,
                             eval_every=256, eval_episodes=1, schedule="constant:1")  # fmt: skip
    path = run_kickstart(config, cartpole_teacher, tmp_path, progress_bar=False)
    policy = PPO.load(path).policy  # a plain SB3 model whatever its critic's size
    assert [m.out_features for m in policy.mlp_extractor.value_net if isinstance(m, torch.nn.Linear)] == [32, 32]
    assert [m.out_features for m in policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)] == [8, 8]
    from rl_distill.artifacts.student import load_student

    weights = load_student(tmp_path / "student.safetensors").net.state_dict()  # the policy alone, no critic
    assert {k: tuple(v.shape) for k, v in weights.items() if not k.startswith("obs_")} == {
        "policy_net.0.weight": (8, 4), "policy_net.0.bias": (8,), "policy_net.2.weight": (8, 8),
        "policy_net.2.bias": (8,), "action_net.weight": (2, 8), "action_net.bias": (2,)}  # fmt: skip
