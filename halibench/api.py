"""The Python front door: evaluate any encoder on a protocol, list what is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from halibench.features.user import Encoder, default_name

RECORD_COLUMNS = ["benchmark", "protocol_version", "model", "level", "probe", "labels",
                  "metric", "mean", "std", "checkpoint_sha256", "path"]


class Records(list):
    """The records of one evaluation (dicts, as written to ``results/runs/``)."""

    def frame(self) -> pd.DataFrame:
        """One row per record: the fields a table needs, plus the number of draws."""
        rows = [{**{k: r.get(k) for k in RECORD_COLUMNS}, "draws": len(r["draws"])}
                for r in self]
        return pd.DataFrame(rows, columns=[*RECORD_COLUMNS, "draws"])


def evaluate(source: Any, benchmark: str, *, probes: list[str] | None = None,
             levels: list[str] | None = None, labels_per_class: list[int | str] | None = None,
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
    a lambda must be named). Everything is checked before the first feature is computed, and
    the object is left exactly as it was.
    """
    from halibench.evaluation import benchmark as runner
    from halibench.evaluation.protocols import load_protocol, restrict
    from halibench.report.results import write_leaderboard

    protocol = restrict(load_protocol(benchmark), labels_per_class or [])
    spec = source if isinstance(source, str | Path) else Encoder(
        default_name(source) if name is None else name, source)
    results = Path(results_dir) if results_dir is not None else None
    records = runner.run(protocol, [str(spec) if isinstance(spec, Path) else spec], levels,
                         probes, root=data_root, use_cache=use_cache, backend=backend,
                         draws=draws, results_dir=results, device=device)
    if results is not None:
        write_leaderboard(results)
    return Records(records)


def extract_features(model: Any, images: torch.Tensor | np.ndarray,
                     levels: list[str] | None = None, **kwargs: Any) -> dict[str, np.ndarray]:
    """Features per level of ``images`` (N, C, H, W; uint8, or float in [0, 1]) from a
    shipped name, checkpoint folder or loaded model (``halibench.features.extract.extract_features``
    documents the options)."""
    from halibench.features.extract import extract_features as extract
    from halibench.models.checkpoints import load

    network = load(model) if isinstance(model, str | Path) else model
    return extract(network, images, levels or ["z1"], **kwargs)


def list_models() -> dict[str, list[str]]:
    """Shipped checkpoints, model families and baselines, by kind."""
    from halibench.features.sources import BASELINES
    from halibench.models.checkpoints import read_index
    from halibench.models.config import KINDS

    return {"checkpoints": sorted(read_index()), "families": list(KINDS),
            "baselines": list(BASELINES)}


def list_benchmarks() -> list[str]:
    """The shipped benchmark protocols."""
    from halibench.evaluation.protocols import list_protocols

    return list_protocols()
