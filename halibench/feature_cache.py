"""On-disk cache of features per (source identity, dataset, split range)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from halibench.data.cache import save_npy_atomic
from halibench.data.root import cache_root
from halibench.feature_sources import FeatureSource, ModelSource
from halibench.protocols import SplitRange


def feature_path(source: FeatureSource, dataset: str, rng: SplitRange) -> Path:
    ident = {"source": source.identity(), "dataset": dataset, "split": rng.split,
             "start": rng.start, "stop": rng.stop}
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]
    return cache_root() / "features" / f"{source.model}-{source.level}-{key}.npy"


def cached_features(source: FeatureSource, dataset: str, rng: SplitRange,
                    images: Callable[[], np.ndarray], use_cache: bool = True,
                    fit_pool: Callable[[], np.ndarray] | None = None) -> np.ndarray:
    """Features of ``images()`` from the cache, or computed and stored (atomically).
    ``fit_pool`` supplies unlabelled pool images for sources that must be fitted first.
    A model's sibling levels are extracted in the same pass and cached too."""
    path = feature_path(source, dataset, rng)
    if use_cache and path.is_file():
        return np.load(path, allow_pickle=False)
    if source.needs_fit and getattr(source, "components_", None) is None:
        if fit_pool is None:
            raise ValueError(f"{source.model} must be fitted on the pool first")
        source.fit(fit_pool())
    if use_cache and isinstance(source, ModelSource):
        every_level = source.transform_all(images())
        for level, feats in every_level.items():
            save_npy_atomic(feature_path(source.for_level(level), dataset, rng), feats)
        return every_level[source.level]
    feats = source.transform(images())
    if use_cache:
        save_npy_atomic(path, feats)
    return feats
