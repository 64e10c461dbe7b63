"""Prepared cache: each split decoded once into uint8 ``.npy`` files, memory-mapped on load.

The cache key is a hash of the source files' checksums, so a changed source invalidates it.
The cache lives under ``cache_root()/prepared/<dataset>/``, apart from the (possibly
read-only) data root. Checksums are remembered per (size, mtime) in ``checksums.json``, so
that a warm load does not re-read large sources.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from halibench.data.base import Dataset, Split
from halibench.data.root import cache_root
from halibench.data.sources import file_digests
from halibench.errors import DatasetError
from halibench.io import (
    atomic_path,
    content_record,
    contents_state,
    record_contents,
    sweep_stale_temps,
    write_json_atomic,
)

# Ends the key (and so the split's identity, recorded with every result) of data that
# differs from the official files: ``report.results.deviation`` reads it.
UNOFFICIAL = "-not-official-data"
log = logging.getLogger("halibench")


def read_memo(memo_path: Path) -> dict:
    """The remembered checksums; a damaged file is reported and forgotten (recomputed)."""
    if not memo_path.is_file():
        return {}
    try:
        memo = json.loads(memo_path.read_text())
        if isinstance(memo, dict) and all(
                isinstance(e, dict) and isinstance(e.get("md5"), str)
                and isinstance(e.get("stamp"), list) for e in memo.values()):
            return memo
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        pass
    log.warning(f"warning: damaged checksum memo {memo_path}; recomputing the checksums")
    return {}


def remembered_md5s(paths: list[Path], memo_path: Path) -> list[str]:
    """md5 of each path, recomputed only for files whose size or mtime changed."""
    memo = read_memo(memo_path)
    changed = False
    out = []
    for path in paths:
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns]
        entry = memo.get(str(path))
        if not entry or entry["stamp"] != stamp:
            entry = {"stamp": stamp, "md5": file_digests(path)[0]}
            memo[str(path)] = entry
            changed = True
        out.append(entry["md5"])
    if changed:
        write_json_atomic(memo_path, memo)
    return out


def prepared_dir(dataset: Dataset) -> Path:
    return cache_root() / "prepared" / dataset.name


def cache_key(dataset: Dataset, folder: Path, split: str) -> str:
    paths = dataset.fingerprint_files(folder, split)
    md5s = remembered_md5s(paths, prepared_dir(dataset) / "checksums.json")
    official = dataset.matches_official(folder, dict(zip(paths, md5s, strict=True)))
    h = hashlib.sha256(f"{dataset.name}:{split}:{dataset.cache_version}".encode())
    for path, md5 in zip(paths, md5s, strict=True):
        h.update(f"{path.relative_to(folder)}:{md5}".encode())
    return h.hexdigest()[:16] + ("" if official else UNOFFICIAL)


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)


def prepared_paths(dataset: Dataset, split: str, key: str) -> tuple[Path, Path]:
    base = prepared_dir(dataset) / f"{split}-{key}"
    return base.with_suffix(".images.npy"), base.with_suffix(".labels.npy")


def load_split(dataset: Dataset, root: Path, split: str, folder: Path | None = None) -> Split:
    """The prepared split, decoding the sources first if the cache is missing, stale or
    damaged."""
    dataset.check_split(split)
    folder = folder or dataset.folder(root)
    key = cache_key(dataset, folder, split)
    images_path, labels_path = prepared_paths(dataset, split, key)
    sweep_stale_temps(prepared_dir(dataset))
    prepared = None
    if images_path.is_file() and labels_path.is_file():
        prepared = read_prepared(dataset, images_path, labels_path)
    if prepared is None:
        # Other keys' files stay: they are other content (another data root), still valid.
        decode_split(dataset, folder, split, images_path, labels_path)
        prepared = read_prepared(dataset, images_path, labels_path)
        if prepared is None:
            raise DatasetError(f"{images_path}: a freshly decoded {split} is unreadable (another "
                               "process writing the same cache?); run the command again")
    images, labels = prepared
    return Split(images, labels, dataset.label_names, f"{dataset.name}:{split}:{key}")


def decode_split(dataset: Dataset, folder: Path, split: str, images_path: Path,
                 labels_path: Path) -> None:
    """Decode ``split`` from the sources into the prepared files, each written atomically."""
    with atomic_path(images_path) as tmp:
        holder: list[np.ndarray] = []

        def allocate(n: int) -> np.ndarray:
            holder.append(np.lib.format.open_memmap(
                tmp, mode="w+", dtype=np.uint8, shape=(n, *dataset.image_shape)))
            return holder[0]

        labels = dataset.decode(folder, split, allocate)
        if not holder or len(holder[0]) != len(labels):
            raise AssertionError(f"{dataset.name}: decode filled no images or a wrong count")
        holder[0].flush()
        del holder[0]
        save_npy_atomic(labels_path, labels)
    record_contents(content_record(images_path), {"images": images_path, "labels": labels_path})


def read_prepared(dataset: Dataset, images_path: Path,
                  labels_path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The prepared arrays, or None (reported) when they are damaged or were changed since
    they were written: other bytes, unreadable, of another dtype or image shape, or of
    different lengths."""
    state = contents_state(content_record(images_path),
                           {"images": images_path, "labels": labels_path})
    images = labels = None
    if state == "same":
        try:
            images = np.load(images_path, mmap_mode="r", allow_pickle=False)
            labels = np.load(labels_path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            images = labels = None
    if images is not None and labels is not None and images.dtype == np.uint8 and \
            images.shape[1:] == tuple(dataset.image_shape) and len(images) == len(labels):
        return images, labels
    if state != "unrecorded":  # an unrecorded entry is an older version's: decoded quietly
        log.warning(f"warning: prepared data {images_path.name} is damaged or was changed; "
                    "decoding it again")
    return None
