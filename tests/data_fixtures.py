"""Format-faithful fixture writers for every dataset (tiny, generated, real file formats)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from halibench.data.fake_celeba import write_fake_celeba


def write_svhn(folder: Path, n: int = 30, split: str = "train") -> np.ndarray:
    """A MATLAB v5 file with X 32x32x3xN and y in 1..10; returns the 0..9 labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)
    scipy.io.savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y})
    return np.where(y.ravel() == 10, 0, y.ravel())


def write_cifar_binary(folder: Path) -> None:
    """Six full-size batch files (10,000 records each) of the binary version."""
    batches = folder / "cifar-10-batches-bin"
    batches.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for b, name in enumerate(names):
        records = rng.integers(0, 256, size=(10000, 3073), dtype=np.uint8)
        records[:, 0] = (np.arange(10000) + b) % 10
        records.tofile(batches / name)


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def write_image_folder(root: Path, classes=("a", "b", "c"), per_class=4, size=16,
                       split_names=("train", "test"), grey=False) -> None:
    rng = np.random.default_rng(3)
    index = 0
    for split in split_names:
        for cls in classes:
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for _ in range(per_class):
                shape = (size, size) if grey else (size, size, 3)
                arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
                (root / split / cls / f"{index:05d}.png").write_bytes(png_bytes(arr))
                index += 1


def write_celeba(folder: Path, n: int = 12, images: int | None = None) -> np.ndarray:
    """Annotation files in the official layout (CRLF), and 178x218 JPEGs for the first
    ``images`` ids; partitions are the first half, the next quarter, the rest. Returns the
    0/1 attribute matrix."""
    counts = (n // 2, 3 * n // 4 - n // 2, n - 3 * n // 4)
    return write_fake_celeba(folder, counts, images=images)


TINY_VALIDATION = """
name = "tiny-val"
version = "1.0"
dataset = "mnist"
seed = 3
metric = "error"
labels_per_class = [2]
draws = 2
probes = ["l2svm"]

[splits]
pool = { split = "train", start = 0, stop = 200 }
validation = { split = "train", start = 200, stop = 250 }
test = { split = "train", start = 250, stop = 300 }

[probe.l2svm]
log_c = { start = -2.0, stop = 2.0, count = 3 }
"""


def validation_protocol_file(folder: Path) -> Path:
    """A validation protocol on the tiny MNIST fixture's held-out training rows 200:300."""
    path = folder / "tiny-val.toml"
    path.write_text(TINY_VALIDATION)
    return path
