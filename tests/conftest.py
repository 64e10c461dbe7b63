"""Shared fixtures: isolated caches, a tiny MNIST in the official IDX format, the real data."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHIPPED_BENCHMARKS = Path(__file__).resolve().parents[1] / "halibench" / "shipped" / "benchmarks"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own prepared-data cache; nothing leaks into the user's cache."""
    monkeypatch.setenv("HALIBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("HALIBENCH_DATA", raising=False)
    torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def fixture_files_count_as_official(request, monkeypatch):
    """Tiny fixtures carry the official file names but not the official bytes: loading
    them skips the checksum comparison, except in tests marked ``official_checksums``."""
    if request.node.get_closest_marker("official_checksums") is None:
        from halibench.data.base import Dataset

        monkeypatch.setattr(Dataset, "matches_official", lambda self, folder, md5s: True)


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dataset(folder: Path, n_train: int = 300, n_test: int = 100, seed: int = 0,
                      gz: bool = True) -> None:
    """Tiny MNIST-format files: digit-like blobs whose position encodes the label."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, size=(n, 28, 28))
        for i, y in enumerate(labels):
            r, c = 2 + 2 * y, 4 + (y % 3) * 6
            images[i, r:r + 8, c:c + 8] = 255
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            data = idx_bytes(arr)
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)


@pytest.fixture
def tiny_mnist_root(tmp_path) -> Path:
    """A data root holding a tiny MNIST (uncompressed, so no official checksum applies)."""
    write_idx_dataset(tmp_path / "mnist", gz=False)
    return tmp_path


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (see ../shared/data/SOURCES.md)")
    return SHARED_DATA


def tiny_benchmarks(tmp_path, monkeypatch, labels):
    """mnist-semisup shrunk to the tiny fixture (pool 0:200, validation 200:300)."""
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    shutil.copy(SHIPPED_BENCHMARKS / "published.csv", bench)
    text = (SHIPPED_BENCHMARKS / "mnist-semisup.toml").read_text()
    text = text.replace("stop = 50000", "stop = 200").replace(
        "start = 50000, stop = 60000", "start = 200, stop = 300").replace(
        "stop = 10000", "stop = 100").replace("[10, 100]", labels)
    (bench / "mnist-semisup.toml").write_text(text)
    monkeypatch.setenv("HALIBENCH_BENCHMARKS", str(bench))
