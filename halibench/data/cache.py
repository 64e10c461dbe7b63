"""Prepared cache: each split decoded once into uint8 ``.npy`` files, memory-mapped on load.

The cache key is a hash of the source files' checksums, so a changed source invalidates it.
The cache lives under ``cache_root()/prepared/<dataset>/``, apart from the (possibly
read-only) data root. Checksums are remembered per (size, mtime) in ``checksums.json``, so
that a warm load does not re-read large sources.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from halibench.data.base import Dataset, Split
from halibench.data.root import cache_root
from halibench.data.sources import file_digests
from halibench.io import atomic_path, write_json_atomic


def remembered_md5(path: Path, memo_path: Path) -> str:
    """md5 of ``path``, recomputed only when its size or mtime changed."""
    memo = json.loads(memo_path.read_text()) if memo_path.is_file() else {}
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns]
    entry = memo.get(str(path))
    if entry and entry["stamp"] == stamp:
        return entry["md5"]
    md5 = file_digests(path)[0]
    memo[str(path)] = {"stamp": stamp, "md5": md5}
    write_json_atomic(memo_path, memo)
    return md5


def prepared_dir(dataset: Dataset) -> Path:
    return cache_root() / "prepared" / dataset.name


def cache_key(dataset: Dataset, folder: Path, split: str) -> str:
    memo = prepared_dir(dataset) / "checksums.json"
    h = hashlib.sha256(f"{dataset.name}:{split}".encode())
    for path in dataset.fingerprint_files(folder, split):
        h.update(f"{path.name}:{remembered_md5(path, memo)}".encode())
    return h.hexdigest()[:16]


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)


def prepared_paths(dataset: Dataset, folder: Path, split: str) -> tuple[Path, Path]:
    base = prepared_dir(dataset) / f"{split}-{cache_key(dataset, folder, split)}"
    return base.with_suffix(".images.npy"), base.with_suffix(".labels.npy")


def load_split(dataset: Dataset, root: Path, split: str) -> Split:
    """The prepared split, decoding the sources first if the cache is missing or stale."""
    dataset.check_split(split)
    folder = dataset.folder(root)
    images_path, labels_path = prepared_paths(dataset, folder, split)
    if not (images_path.is_file() and labels_path.is_file()):
        images, labels = dataset.decode(folder, split)
        for stale in prepared_dir(dataset).glob(f"{split}-*.npy"):
            stale.unlink(missing_ok=True)
        save_npy_atomic(labels_path, labels)
        save_npy_atomic(images_path, images)
    images = np.load(images_path, mmap_mode="r", allow_pickle=False)
    labels = np.load(labels_path, allow_pickle=False)
    return Split(images, labels, dataset.label_names)
