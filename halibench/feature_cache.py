"""On-disk cache of features per (source identity, dataset, split range).

Features are streamed: each chunk of images is transformed and written straight into a
memory-mapped ``.npy`` under a temporary name, renamed into place when complete, and read
back memory-mapped. Only a chunk of images and of features is ever in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from halibench.data.root import cache_root
from halibench.feature_sources import FeatureSource
from halibench.io import atomic_path
from halibench.mapped import release
from halibench.protocols import SplitRange


def feature_path(source: FeatureSource, dataset: str, rng: SplitRange) -> Path:
    ident = {"source": source.identity(), "dataset": dataset, "split": rng.split,
             "start": rng.start, "stop": rng.stop}
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]
    return cache_root() / "features" / f"{source.model}-{source.level}-{key}.npy"


def stream_to_cache(source: FeatureSource, dataset: str, rng: SplitRange,
                    images: np.ndarray) -> None:
    """Write the features of every level ``source`` computes in one pass into the cache."""
    with ExitStack() as stack:
        written: list[np.memmap] = []

        def allocate(level: str, shape: tuple[int, int]) -> np.ndarray:
            final = feature_path(source.for_level(level), dataset, rng)
            tmp = stack.enter_context(atomic_path(final))
            written.append(np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                                     shape=shape))
            return written[-1]

        source.transform_into(images, allocate, desc=f"{source.model} {rng.split}")
        for array in written:
            array.flush()
            release(array)
        written.clear()


def cached_features(source: FeatureSource, dataset: str, rng: SplitRange,
                    images: Callable[[], np.ndarray], use_cache: bool = True,
                    fit_pool: Callable[[], np.ndarray] | None = None) -> np.ndarray:
    """Features of ``images()`` from the cache (memory-mapped), or computed and stored.
    ``fit_pool`` supplies unlabelled pool images for sources that must be fitted first.
    A model's sibling levels are extracted in the same pass and cached too."""
    path = feature_path(source, dataset, rng)
    if use_cache and path.is_file():
        return np.load(path, mmap_mode="r", allow_pickle=False)
    if source.needs_fit and getattr(source, "components_", None) is None:
        if fit_pool is None:
            raise ValueError(f"{source.model} must be fitted on the pool first")
        source.fit(fit_pool())
    if not use_cache:
        return source.transform_into(images(), desc=f"{source.model} {rng.split}")[source.level]
    stream_to_cache(source, dataset, rng, images())
    return np.load(path, mmap_mode="r", allow_pickle=False)
