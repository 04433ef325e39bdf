import pytest
import torch
import torch.nn.functional as F

from rl_distill.losses import (
    Categorical,
    DiagGaussian,
    categorical_kl,
    gaussian_kl,
    kd_loss,
    policy_distillation_loss,
)


def logits(*shape: int, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_zero_when_student_equals_teacher() -> None:
    t = logits(32, 10)
    assert kd_loss(t.clone(), t, temperature=3.0).total.abs().item() < 1e-12
    assert categorical_kl(t, t.clone()).abs().item() < 1e-12


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
def test_non_negative_and_matches_kl_div(temperature: float) -> None:
    s, t = logits(64, 10, seed=1), logits(64, 10, seed=2)
    got = categorical_kl(t, s, temperature)
    p = F.softmax(t / temperature, dim=1)
    expected = F.kl_div(F.log_softmax(s / temperature, dim=1), p, reduction="batchmean")
    assert got.item() > 0
    torch.testing.assert_close(got, expected)


def test_kd_loss_combines_terms_as_documented() -> None:
    s, t = logits(16, 10, seed=3), logits(16, 10, seed=4)
    labels = torch.randint(0, 10, (16,), generator=torch.Generator().manual_seed(5))
    terms = kd_loss(s, t, labels, temperature=2.0, lam=0.3)
    expected = 0.3 * F.cross_entropy(s, labels) + 0.7 * 4.0 * categorical_kl(t, s, 2.0)
    torch.testing.assert_close(terms.total, expected)
    torch.testing.assert_close(kd_loss(s, t, labels, lam=1.0).total, F.cross_entropy(s, labels))
    assert kd_loss(s, t).ce.item() == 0.0


def test_gradient_matches_finite_differences() -> None:
    t = logits(4, 5, seed=6)
    labels = torch.tensor([0, 1, 2, 3])
    s = logits(4, 5, seed=7).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: kd_loss(x, t, labels, temperature=2.5, lam=0.4).total, (s,))


def test_finite_for_huge_logits() -> None:
    s, t = logits(8, 10, seed=8, scale=1e4).float(), logits(8, 10, seed=9, scale=1e4).float()
    s.requires_grad_(True)
    loss = kd_loss(s, t, torch.zeros(8, dtype=torch.long), temperature=1.0, lam=0.5).total
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"lam": -0.1}, "lam"),
    ({"lam": 1.5}, "lam"),
])  # fmt: skip
def test_rejects_bad_hyperparameters(kwargs: dict, message: str) -> None:
    t = logits(2, 3)
    with pytest.raises(ValueError, match=message):
        kd_loss(t, t, torch.zeros(2, dtype=torch.long), **kwargs)


def test_gaussian_kl_equals_torch_distributions() -> None:
    p = DiagGaussian(logits(32, 3, seed=10), 0.3 * logits(32, 3, seed=11))
    q = DiagGaussian(logits(32, 3, seed=12), 0.3 * logits(32, 3, seed=13))
    normal = torch.distributions.Normal
    expected = torch.distributions.kl_divergence(
        normal(p.mean, p.log_std.exp()), normal(q.mean, q.log_std.exp())
    ).sum(-1).mean()
    torch.testing.assert_close(gaussian_kl(p, q), expected)
    assert gaussian_kl(p, p).abs().item() < 1e-12


def test_policy_loss_directions_and_temperature() -> None:
    t, s = Categorical(logits(16, 4, seed=14)), Categorical(logits(16, 4, seed=15))
    fwd = policy_distillation_loss(t, s, loss="forward-kl").total
    rev = policy_distillation_loss(t, s, loss="reverse-kl").total
    torch.testing.assert_close(fwd, categorical_kl(t.logits, s.logits))
    torch.testing.assert_close(rev, categorical_kl(s.logits, t.logits))
    sharp = policy_distillation_loss(t, s, temperature=0.01).total
    torch.testing.assert_close(sharp, categorical_kl(t.logits / 0.01, s.logits))
    mse = policy_distillation_loss(t, s, loss="mse").total
    torch.testing.assert_close(mse, F.mse_loss(s.logits, t.logits))


def test_policy_loss_gradient_reaches_student_only() -> None:
    teacher = DiagGaussian(logits(8, 2, seed=16).requires_grad_(True), torch.zeros(8, 2, requires_grad=True))
    student = DiagGaussian(logits(8, 2, seed=17).requires_grad_(True), torch.zeros(8, 2, requires_grad=True))
    policy_distillation_loss(teacher, student).total.backward()
    assert teacher.mean.grad is None and student.mean.grad is not None
    with pytest.raises(TypeError):
        policy_distillation_loss(Categorical(logits(2, 2)), student)
    with pytest.raises(ValueError, match="unknown policy loss"):
        policy_distillation_loss(teacher, student, loss="l1")  # type: ignore[arg-type]
