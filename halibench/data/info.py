"""Per-split counts, shapes and label histograms (``halibench data info``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from halibench.data.registry import get_dataset, load


def dataset_info(name: str, root: str | Path | None = None) -> dict:
    ds = get_dataset(name)
    splits = {}
    for split in ds.splits:
        s = load(name, split, root)
        if s.labels.ndim == 1:
            counts = np.bincount(s.labels, minlength=len(ds.label_names))
            hist = {ds.label_names[i]: int(c) for i, c in enumerate(counts)}
        else:
            hist = {n: int(c) for n, c in zip(ds.label_names, s.labels.sum(0), strict=True)}
        splits[split] = {"count": len(s), "shape": list(s.images.shape[1:]), "labels": hist}
    return {"name": name, "title": ds.title, "splits": splits}
