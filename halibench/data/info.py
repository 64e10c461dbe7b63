"""Per-split counts, shapes and label histograms (``halibench data info``)."""

from __future__ import annotations

from pathlib import Path

from halibench.data.registry import get_dataset
from halibench.data.root import data_root


def dataset_info(name: str, root: str | Path | None = None) -> dict:
    ds = get_dataset(name)
    folder = ds.folder(data_root(root))
    return {"name": ds.name, "title": ds.title, "folder": str(folder),
            "splits": ds.describe(folder)}
