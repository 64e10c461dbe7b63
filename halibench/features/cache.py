"""On-disk cache of features, keyed by content: the source's identity (checkpoint sha256,
level, representation, settings) and the data's identity (dataset, split, the sources'
checksums, rows). Different data or different weights never share an entry.

Features are streamed: each chunk of images is transformed and written straight into a
memory-mapped ``.npy`` under a temporary name, renamed into place when complete, and read
back memory-mapped. Only a chunk of images and of features is ever in memory. An entry is
verified when read (header, dtype, shape, file size, and its bytes against the sha256
recorded when it was written); a damaged one is recomputed and replaced with one warning
line. ``use_cache=False`` recomputes and replaces the entry too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from halibench.data.mapped import release
from halibench.data.root import cache_root
from halibench.features.sources import FeatureSource
from halibench.io import (
    atomic_path,
    content_record,
    contents_state,
    record_contents,
    sweep_stale_temps,
)

log = logging.getLogger("halibench")


def feature_dir() -> Path:
    return cache_root() / "features"


def feature_path(source: FeatureSource, data_identity: str) -> Path:
    ident = {"source": source.identity(), "data": data_identity}
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]
    return feature_dir() / f"{source.model}-{source.level}-{key}.npy"


def stream_to_cache(source: FeatureSource, data_identity: str, images: np.ndarray) -> None:
    """Write the features of every level ``source`` computes in one pass into the cache."""
    entries: list[Path] = []
    with ExitStack() as stack:
        written: list[np.memmap] = []

        def allocate(level: str, shape: tuple[int, int]) -> np.ndarray:
            final = feature_path(source.for_level(level), data_identity)
            entries.append(final)
            tmp = stack.enter_context(atomic_path(final))
            written.append(np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                                     shape=shape))
            return written[-1]

        source.transform_into(images, allocate, desc=f"{source.model} {data_identity}")
        for array in written:
            array.flush()
            release(array)
        written.clear()
    for entry in entries:
        record_contents(content_record(entry), {"features": entry})


def verified_entry(path: Path, rows: int | None = None) -> np.ndarray | None:
    """The cache entry at ``path`` memory-mapped, or None (with one warning line) when its
    header, dtype, shape or size is not that of a complete float32 (``rows``, d) array."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
        complete = (dtype == np.float32 and len(shape) == 2 and not fortran
                    and path.stat().st_size == offset + 4 * shape[0] * shape[1]
                    and rows in (None, shape[0]))
        state = contents_state(content_record(path), {"features": path})
        if complete and state == "same":
            return np.load(path, mmap_mode="r", allow_pickle=False)
        if complete and state == "unrecorded":  # an older version's entry: recomputed quietly
            return None
        trouble = (f"shape {shape}, dtype {dtype}, {path.stat().st_size} bytes" if not complete
                   else "its bytes are not those written")
    except (OSError, ValueError, EOFError) as e:
        trouble = f"{type(e).__name__}: {e}"
    log.warning(f"warning: damaged feature cache entry {path} ({trouble}); recomputing it")
    return None


def cached_features(source: FeatureSource, data_identity: str,
                    images: Callable[[], np.ndarray], use_cache: bool = True,
                    fit_pool: Callable[[], np.ndarray] | None = None) -> np.ndarray:
    """Features of ``images()`` from the cache (memory-mapped), or computed and stored.
    ``data_identity`` names the images' content (``Split.identity``); without one nothing
    is cached. ``fit_pool`` supplies unlabelled pool images for sources that must be
    fitted first. A model's sibling levels are extracted in the same pass and cached too.
    ``use_cache=False`` does not read the cache but replaces the entry with what it computes."""
    sweep_stale_temps(feature_dir())  # a killed writer's leftovers, on every use of the cache
    if source.needs_fit and getattr(source, "components_", None) is None:
        if fit_pool is None:  # fitted first: the fit is part of the source's identity
            raise ValueError(f"{source.model} must be fitted on the pool first")
        source.fit(fit_pool())
    storable = bool(data_identity) and source.cacheable
    path = feature_path(source, data_identity)
    if use_cache and storable and path.is_file():
        entry = verified_entry(path, len(images()))
        if entry is not None:
            return entry
    if not storable:
        return source.transform_into(images(), desc=source.model)[source.level]
    stream_to_cache(source, data_identity, images())
    return np.load(path, mmap_mode="r", allow_pickle=False)
