"""The labelled images of semi-supervised training: a protocol's seeded class-balanced draw.

The draw is the one the protocol's probes use (``balanced_draws`` with its seed), so the
frozen-feature rows and the semi-supervised rows of one draw share their labels. What a
checkpoint records of it (``spec``) is what the own-classifier task checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from halibench.data import Split
from halibench.errors import HalibenchError
from halibench.evaluation.protocols import Protocol, load_protocol, pool_draw_rows


@dataclass
class LabelledDraw:
    images: torch.Tensor  # uint8 (n, C, H, W)
    labels: torch.Tensor  # int64 (n,)
    rows: np.ndarray  # rows of the training split
    spec: dict[str, Any]


def label_protocol(name: str | None, dataset: str) -> Protocol:
    """The protocol that gives the labels (default ``DATASET-semisup-own``)."""
    name = name or f"{dataset}-semisup-own"
    try:
        protocol = load_protocol(name)
    except HalibenchError as e:
        raise HalibenchError(f"--label-protocol: {e}") from None
    if protocol.dataset != dataset:
        raise HalibenchError(f"--label-protocol {name}: a protocol on {protocol.dataset}, the "
                             f"model trains on {dataset}")
    return protocol


def labelled_draw(protocol: Protocol, split: Split, split_name: str,
                  train_range: tuple[int, int], per_class: int, draw: int) -> LabelledDraw:
    """Draw ``draw`` of ``per_class`` labels per class from the protocol's pool, which must
    lie inside the rows the model learns from."""
    pool = protocol.splits["pool"]
    if pool.split != split_name or pool.start < train_range[0] or pool.stop > train_range[1]:
        raise HalibenchError(f"--label-protocol {protocol.name}: its pool is {pool.split} rows "
                             f"{pool.start}:{pool.stop}, outside the training rows "
                             f"{split_name} {train_range[0]}:{train_range[1]}")
    pool_labels = np.asarray(split.labels[pool.start:pool.stop])
    if pool_labels.ndim != 1:
        raise HalibenchError(f"{protocol.dataset}: labels are not one class per image; "
                             "semi-supervised training needs class labels")
    try:
        rows = pool_draw_rows(protocol, pool_labels, per_class, draw)
    except HalibenchError as e:
        raise HalibenchError(f"--labels-per-class {per_class}: {e}") from None
    spec = {"protocol": protocol.name, "protocol_version": protocol.version,
            "dataset": protocol.dataset, "pool": [pool.split, pool.start, pool.stop],
            "seed": protocol.seed, "labels_per_class": per_class, "draw": draw,
            "count": len(rows), "rows_sha256": rows_sha256(rows)}
    return LabelledDraw(torch.from_numpy(np.array(split.images[rows])),
                        torch.from_numpy(np.asarray(split.labels[rows]).astype(np.int64)),
                        rows, spec)


def rows_sha256(rows: np.ndarray) -> str:
    """A fingerprint of the labelled rows (sorted int64 indices)."""
    return hashlib.sha256(np.sort(rows).astype("<i8").tobytes()).hexdigest()


def check_same_draw(stored: dict[str, Any] | None, draw: LabelledDraw | None, run: str) -> None:
    """A resumed run must learn from the labelled rows it started with."""
    old = (stored or {}).get("rows_sha256"), (stored or {}).get("labels_per_class")
    new = (draw.spec["rows_sha256"], draw.spec["labels_per_class"]) if draw else (None, None)
    if (stored is None) != (draw is None) or (old[0] is not None and old != new):
        raise HalibenchError(f"{run}: --resume: the labelled draw differs from the one the run "
                             "started with (protocol file or options changed); resume with the "
                             "original label protocol, or start a new run")
