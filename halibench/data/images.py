"""Decoding image files (PNG, JPEG) into uint8 arrays, in parallel worker processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from halibench.data.mapped import release
from halibench.errors import DatasetError
from halibench.progress import progress

Transform = Callable[[Image.Image], Image.Image]
CHUNK = 256


def read_image(path: Path, mode: str, transform: Transform | None = None) -> np.ndarray:
    """One image as (C, H, W) uint8; a corrupt or truncated file raises DatasetError."""
    try:
        with Image.open(path) as img:
            img.load()
            out = img.convert(mode)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DatasetError(f"{path}: unreadable or truncated image ({e}); replace it with "
                           "the original file") from None
    if transform is not None:
        out = transform(out)
    arr = np.asarray(out, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _read_chunk(paths: Sequence[Path], mode: str, transform: Transform | None) -> np.ndarray:
    return np.stack([read_image(p, mode, transform) for p in paths])


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def decode_images(paths: Sequence[Path], out: np.ndarray, mode: str,
                  transform: Transform | None = None, workers: int | None = None,
                  desc: str = "decode") -> None:
    """Decode ``paths`` into ``out`` (N, C, H, W) with a progress bar, in worker processes."""
    expected = out.shape[1:]
    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    workers = workers or default_workers()
    read = partial(_read_chunk, mode=mode, transform=transform)
    with progress(len(paths), desc, "img", leave=False) as bar:
        if workers == 1 or len(chunks) == 1:
            results = map(read, chunks)
            pool = None
        else:
            pool = ProcessPoolExecutor(workers)
            results = pool.map(read, chunks)
        try:
            start = 0
            for chunk_paths, arr in zip(chunks, results, strict=True):
                if arr.shape[1:] != expected:
                    bad = next(p for p, a in zip(chunk_paths, arr, strict=True)
                               if a.shape != expected)
                    raise DatasetError(f"{bad}: image of shape {arr.shape[1:]}, expected "
                                       f"{expected}; all images of a dataset must match")
                out[start:start + len(arr)] = arr
                release(out[start:start + len(arr)])  # written; the file keeps it
                start += len(arr)
                bar.update(len(arr))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
