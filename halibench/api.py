"""The Python front door: evaluate any encoder on a protocol, list what is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from halibench.errors import HalibenchError
from halibench.features.user import as_encoder

RECORD_COLUMNS = ["benchmark", "protocol_version", "model", "level", "probe", "labels",
                  "metric", "mean", "std", "checkpoint_sha256", "path"]


class Records(list):
    """The records of one evaluation (dicts, as written to ``results/runs/``)."""

    def frame(self) -> pd.DataFrame:
        """One row per record: the fields a table needs, plus the number of draws."""
        rows = [{**{k: r.get(k) for k in RECORD_COLUMNS}, "draws": len(r["draws"])}
                for r in self]
        return pd.DataFrame(rows, columns=[*RECORD_COLUMNS, "draws"])


def evaluate(source: Any, benchmark: str, *, probes: list[str] | str | None = None,
             levels: list[str] | str | None = None,
             labels_per_class: list[int | str] | int | str | None = None,
             draws: int | None = None, name: str | None = None,
             results_dir: str | Path | None = "results", data_root: str | Path | None = None,
             use_cache: bool = True, backend: str = "torch", device: str = "auto") -> Records:
    """Evaluate ``source`` on ``benchmark`` (a protocol name or a ``.toml`` path) as
    ``halibench run`` does: one record per (level, probe, label setting), written to
    ``results_dir`` (None: not written) with the leaderboard refreshed.

    ``source``: a shipped name, model family, checkpoint folder or baseline; a loaded model;
    any ``torch.nn.Module`` or callable from images (float32 in [0, 1], (N, C, H, W)) to
    features or to a dict of named levels; or a fitted scikit-learn transformer. ``name``
    labels an object's records (default: a function's qualified name, else the class name;
    a lambda must be named), never that of a shipped checkpoint, family or baseline.
    ``probes``, ``levels``, ``labels_per_class``: a list, or one item. Everything is checked
    before the first feature is computed, and the object is left exactly as it was.
    """
    from halibench.evaluation import benchmark as runner
    from halibench.evaluation.protocols import load_protocol, restrict
    from halibench.report.results import leaderboard_refreshed

    settings = listed(labels_per_class, "labels_per_class", (int, str)) or []
    probes, levels = listed(probes, "probes", (str,)), listed(levels, "levels", (str,))
    protocol = restrict(load_protocol(benchmark), settings)
    spec = source if isinstance(source, str | Path) else as_encoder(source, name)
    results = Path(results_dir) if results_dir is not None else None
    # loading a model or an untrained baseline draws from the global RNG: the caller's
    # stream is left as it was
    with torch.random.fork_rng(devices=[]), leaderboard_refreshed(results):
        records = runner.run(protocol, [str(spec) if isinstance(spec, Path) else spec], levels,
                             probes, root=data_root, use_cache=use_cache, backend=backend,
                             draws=draws, results_dir=results, device=device)
    return Records(records)


def listed(value: Any, what: str, kinds: tuple[type, ...]) -> list[Any] | None:
    """``value`` as a list of items of ``kinds`` (one item alone is a list of one; None stays
    None); else one clear error naming the argument."""
    if value is None:
        return None
    items = [value] if isinstance(value, str | int) else value
    if not isinstance(items, list | tuple) or any(
            isinstance(v, bool) or not isinstance(v, kinds) for v in items):
        names = " or ".join(k.__name__ for k in kinds)
        raise HalibenchError(f"{what}={value!r}: give a {names} or a list of them")
    if not items:
        raise HalibenchError(f"{what}=[]: give at least one, or None for the default")
    return list(items)


def extract_features(source: Any, images: torch.Tensor | np.ndarray,
                     levels: list[str] | str | None = None, *, name: str | None = None,
                     dataset: str | None = None) -> dict[str, np.ndarray]:
    """Features per level of ``images`` (N, C, H, W; uint8, or float in [0, 1]) from anything
    ``evaluate`` takes: a shipped name, model family (with ``dataset``), checkpoint folder,
    baseline, ``package.module:attribute``, a loaded model, a ``torch.nn.Module`` or callable,
    or a fitted scikit-learn transformer. ``levels``: one or a list; default every level the
    source gives (a model's latents and concat). Returns float32 arrays of shape (N, d); the
    source is left exactly as it was. A PCA baseline is fitted on ``images`` themselves."""
    with torch.random.fork_rng(devices=[]):  # loading a model draws from the global RNG
        return features_of(source, checked_images(images), listed(levels, "levels", (str,)),
                           name, dataset)


def features_of(source: Any, array: torch.Tensor | np.ndarray, levels: list[str] | None,
                name: str | None, dataset: str | None) -> dict[str, np.ndarray]:
    """``extract_features`` on checked images."""
    from halibench.evaluation.benchmark import model_sources
    from halibench.features.sources import ModelSource
    from halibench.features.user import UserSource

    spec = source if isinstance(source, str | Path) else as_encoder(source, name)
    sources = model_sources(str(spec) if isinstance(spec, Path) else spec, levels,
                            tuple(array.shape[1:]), dataset, rows=len(array))
    out: dict[str, np.ndarray] = {}
    for src in sources:
        if src.level in out:
            continue
        # models and user encoders read floats exactly; baselines read uint8 pixels
        given = array if isinstance(src, ModelSource | UserSource) else as_uint8(array)
        if src.needs_fit:
            src.fit(given)
        out |= {lv: f for lv, f in src.transform_into(given).items()
                if lv in {s.level for s in sources}}
    return {s.level: out[s.level] for s in sources}


def checked_images(images: torch.Tensor | np.ndarray) -> np.ndarray | torch.Tensor:
    """``images`` if they are (N, C, H, W) uint8, or finite floats in [0, 1]; else one clear
    error."""
    if not isinstance(images, torch.Tensor | np.ndarray):
        raise HalibenchError(f"images: a {type(images).__name__}; give a torch.Tensor or numpy "
                             "array of shape (N, C, H, W)")
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[0] == 0:
        raise HalibenchError(f"images: shape {shape}; give a non-empty (N, C, H, W) batch")
    if shape[-1] in (1, 3) and shape[1] not in (1, 3):
        raise HalibenchError(f"images: shape {shape} looks like (N, H, W, C); give (N, C, H, W) "
                             "(e.g. images.permute(0, 3, 1, 2))")
    dtype = str(images.dtype).replace("torch.", "")
    if dtype == "uint8":
        return images
    if not dtype.startswith(("float", "bfloat")):
        raise HalibenchError(f"images: dtype {dtype}; give uint8 in [0, 255] or floats in "
                             "[0, 1]")
    low, high = float(images.min()), float(images.max())
    if not (np.isfinite(low) and np.isfinite(high) and low >= 0.0 and high <= 1.0):
        raise HalibenchError(f"images: float values in [{low:g}, {high:g}]; floats must be "
                             "finite and in [0, 1] (or give uint8 in [0, 255])")
    return images


def as_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Images as uint8 numpy pixels (floats in [0, 1] rounded)."""
    if isinstance(images, torch.Tensor):
        images = images.numpy() if images.dtype == torch.uint8 else images.float().numpy()
    array = np.asarray(images)
    if array.dtype == np.uint8:
        return array
    return np.rint(array.astype(np.float32) * 255.0).astype(np.uint8)


def list_models() -> dict[str, list[str]]:
    """Shipped checkpoints (those trained with labels also under their own key), model
    families and baselines, by kind."""
    from halibench.features.sources import BASELINES
    from halibench.models.checkpoints import read_index
    from halibench.models.config import KINDS

    index = read_index()
    return {"checkpoints": sorted(index),
            "trained_with_labels": sorted(n for n, e in index.items() if e.get("trained_labels")),
            "families": list(KINDS), "baselines": list(BASELINES)}


def list_benchmarks() -> list[str]:
    """The shipped benchmark protocols."""
    from halibench.evaluation.protocols import list_protocols

    return list_protocols()
