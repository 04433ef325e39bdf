"""Bound-aware targets for Box actions: the env clips actions, so the loss should compare what the env receives."""

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rl_distill.distill.config import DistillConfig
from rl_distill.distill.loop import distill
from rl_distill.losses import (
    BOUND_MODES,
    ActionBounds,
    DiagGaussian,
    censored_gaussian_kl,
    gaussian_kl,
    policy_distillation_loss,
)
from rl_distill.sb3.policies import load_policy

LOW, HIGH = torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0])


def gaussians(seed: int, n: int = 64, spread: float = 2.5) -> DiagGaussian:
    g = torch.Generator().manual_seed(seed)
    return DiagGaussian(spread * torch.randn(n, 2, generator=g, dtype=torch.float64),
                        0.5 * torch.randn(n, 2, generator=g, dtype=torch.float64) - 0.5)  # fmt: skip


def loss(teacher: DiagGaussian, student: DiagGaussian, mode: str, low=LOW, high=HIGH, **kw) -> torch.Tensor:  # noqa: ANN001
    bounds = ActionBounds(low.double(), high.double(), mode)  # type: ignore[arg-type]
    return policy_distillation_loss(teacher, student, bounds=bounds, **kw).total


def test_clamped_target_is_the_teachers_clipped_mean() -> None:
    teacher, student = gaussians(0), gaussians(1)
    clipped = DiagGaussian(teacher.mean.clamp(-1, 1), teacher.log_std)
    assert (teacher.mean.abs() > 1).any()
    torch.testing.assert_close(loss(teacher, student, "clamp"), gaussian_kl(clipped, student))


def test_one_sided_term_leaves_a_student_past_the_teachers_bound_alone() -> None:
    teacher = DiagGaussian(torch.tensor([[3.0, -2.0], [3.0, 0.2]]), torch.zeros(2, 2))
    mean = torch.tensor([[1.7, -4.0], [0.4, 0.2]], requires_grad=True)  # row 0: past the same bounds; row 1: inside
    log_std = torch.zeros(2, 2)
    loss(teacher, DiagGaussian(mean, log_std), "one-sided").backward()
    assert mean.grad[0].abs().max() == 0.0  # both past the same bound: nothing to learn
    assert mean.grad[1, 0] < 0  # inside while the teacher is past the top: pushed up, towards the bound
    assert mean.grad[1, 1] == 0.0  # equal means inside the bounds
    plain = torch.tensor([[1.7, -4.0]], requires_grad=True)
    gaussian_kl(DiagGaussian(teacher.mean[:1], log_std[:1]), DiagGaussian(plain, log_std[:1])).backward()
    assert plain.grad.abs().min() > 0  # today's KL would drag it to 3.0 and -2.0


def test_band_term_frees_the_student_only_between_the_bound_and_the_teachers_mean() -> None:
    teacher = DiagGaussian(torch.tensor([[3.0, -2.0], [3.0, 0.2], [3.0, -2.0]]), torch.zeros(3, 2))
    # row 0: between the bound and the teacher; row 1: inside the bounds; row 2: beyond the teacher's means
    mean = torch.tensor([[1.7, -1.5], [0.4, 0.5], [4.0, -3.0]], requires_grad=True)
    loss(teacher, DiagGaussian(mean, torch.zeros(3, 2)), "band").backward()
    assert mean.grad[0].abs().max() == 0.0  # any value between acts the same and goes no further than the teacher
    assert mean.grad[1, 0] < 0 and mean.grad[1, 1] > 0  # inside: pulled to the bound, and to the teacher's mean
    assert mean.grad[2, 0] > 0 and mean.grad[2, 1] < 0  # past the teacher's mean: pulled back towards it


def test_censored_kl_is_a_divergence_and_reduces_to_the_gaussian_kl_far_from_bounds() -> None:
    p, q = gaussians(2), gaussians(3)
    value = censored_gaussian_kl(p, q, LOW.double(), HIGH.double())
    assert value > 0 and censored_gaussian_kl(p, p, LOW.double(), HIGH.double()).abs() < 1e-12
    near = DiagGaussian(0.3 * p.mean, p.log_std), DiagGaussian(0.3 * q.mean, q.log_std)
    far = torch.full((2,), 1e3, dtype=torch.float64)
    torch.testing.assert_close(censored_gaussian_kl(*near, -far, far), gaussian_kl(*near))
    # two teachers past the same bound with nearly all their mass on it are almost the same policy
    a = DiagGaussian(torch.tensor([[4.0, 0.0]]), torch.full((1, 2), -1.0))
    b = DiagGaussian(torch.tensor([[9.0, 0.0]]), torch.full((1, 2), -1.0))
    assert censored_gaussian_kl(a, b, LOW, HIGH) < 1e-6 < gaussian_kl(a, b)


def test_censored_kl_matches_numerical_integration() -> None:
    pm, ps, qm, qs = 0.6, 0.7, -0.3, 0.5
    normal_p, normal_q = torch.distributions.Normal(pm, ps), torch.distributions.Normal(qm, qs)
    x = torch.linspace(-1, 1, 400_001, dtype=torch.float64)
    inside = torch.trapezoid(normal_p.log_prob(x).exp() * (normal_p.log_prob(x) - normal_q.log_prob(x)), x)
    p_low, q_low = normal_p.cdf(torch.tensor(-1.0)), normal_q.cdf(torch.tensor(-1.0))
    p_high, q_high = 1 - normal_p.cdf(torch.tensor(1.0)), 1 - normal_q.cdf(torch.tensor(1.0))
    expected = inside + p_low * math.log(p_low / q_low) + p_high * math.log(p_high / q_high)
    got = censored_gaussian_kl(DiagGaussian(torch.tensor([[pm]]), torch.tensor([[math.log(ps)]])),
                               DiagGaussian(torch.tensor([[qm]]), torch.tensor([[math.log(qs)]])),
                               torch.tensor([-1.0]), torch.tensor([1.0]))  # fmt: skip
    assert got.item() == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("mode", BOUND_MODES)
@pytest.mark.parametrize("direction", ["forward-kl", "reverse-kl", "mse"])
@pytest.mark.parametrize("edge", [math.inf, 1e6])
def test_infinite_or_wide_bounds_give_exactly_todays_loss_and_gradient(mode: str, direction: str,
                                                                       edge: float) -> None:  # fmt: skip
    teacher, student_init = gaussians(4), gaussians(5)
    far = torch.full((2,), edge, dtype=torch.float64)
    results = []
    for bounds in (None, ActionBounds(-far, far, mode)):  # type: ignore[arg-type]
        mean = student_init.mean.clone().requires_grad_(True)
        value = policy_distillation_loss(teacher, DiagGaussian(mean, student_init.log_std), loss=direction,
                                         bounds=bounds).total  # type: ignore[arg-type]  # fmt: skip
        value.backward()
        results.append((value.detach(), mean.grad))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


class UnboundedTarget(gym.Env):
    """Continuous actions whose bounds never clip (SB3 needs finite ones): the reward is -(action - 3 obs)^2."""

    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Box(-1e6, 1e6, (2,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.obs = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self.obs, {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = -float(np.sum((action - 3 * self.obs) ** 2))
        self.obs = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self.obs, reward, False, False, {}


def test_actions_that_are_never_clipped_distil_exactly_as_before(tmp_path: Path) -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    gym.register("RlDistillTest/Unbounded-v0", entry_point=UnboundedTarget, max_episode_steps=50)
    model = PPO("MlpPolicy", make_vec_env("RlDistillTest/Unbounded-v0", n_envs=2, seed=0), n_steps=128, seed=0)
    model.learn(512)
    model.save(tmp_path / "teacher.zip")
    teacher = load_policy(tmp_path / "teacher.zip", "RlDistillTest/Unbounded-v0")
    students = []
    for mode in ("ignore", "censored", "one-sided"):
        config = DistillConfig("RlDistillTest/Unbounded-v0", student_hidden=(8,), steps=512, steps_per_round=256,
                               bounds=mode, eval_episodes=0, updates_per_round=20)  # type: ignore[arg-type]  # fmt: skip
        students.append(distill(config, teacher, progress_bar=False).student.policy.state_dict())
    assert all(torch.equal(students[0][k], other[k]) for other in students[1:] for k in students[0])


@pytest.mark.parametrize("mode", BOUND_MODES)
def test_pendulum_distils_end_to_end_with_each_variant(pendulum_teacher: Path, mode: str) -> None:
    teacher = load_policy(pendulum_teacher, "Pendulum-v1")
    config = DistillConfig("Pendulum-v1", student_hidden=(8,), steps=1_000, steps_per_round=500, bounds=mode,
                           eval_episodes=1, updates_per_round=50)  # type: ignore[arg-type]  # fmt: skip
    result = distill(config, teacher, progress_bar=False, evaluate_student=lambda m: 0.0)
    assert [r.env_steps for r in result.rounds] == [504, 1_000]  # whole vector steps of 8, the total exact
    assert all(math.isfinite(r.loss) and r.loss >= 0 for r in result.rounds)
    assert result.rounds[-1].loss < result.rounds[0].loss
