"""Multi-attribute protocols (CelebA): one binary probe per attribute, C chosen on validation
by balanced accuracy; accuracy and balanced accuracy per attribute and their means.

An attribute whose positives or negatives number fewer than the protocol's ``min_positives``
in any split is reported as such and left out of the means (its counts are recorded).

All (C, attribute) probes are fitted on the pool first, in one batched path
(``halibench.probes.paths``); C is then chosen per attribute on validation, and only after
that are test labels read.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from halibench.evaluation.classification import Features, as_tensor, grid_edge
from halibench.evaluation.metrics import balanced_accuracies, binary_accuracies
from halibench.evaluation.protocols import Protocol
from halibench.probes.paths import fit_path
from halibench.probes.registry import PROBES, get_probe
from halibench.probes.targets import signed


def scarcest_class(*columns: np.ndarray) -> int:
    """The smallest count of positives or negatives over the given label columns."""
    return int(min(min(c.sum(), len(c) - c.sum()) for c in columns))


def evaluate_attributes(protocol: Protocol, feats: Features, test_labels: np.ndarray,
                        probe: str, names: tuple[str, ...], backend: str = "torch",
                        device: str = "cpu") -> dict[str, Any]:
    spec = get_probe(probe)
    if not spec.attributes:
        valid = [p for p, s in PROBES.items() if s.attributes]
        raise ValueError(f"probe {probe!r} has no attribute mode; valid: {valid}")
    grid = protocol.c_grid(probe)
    y_pool, y_val = feats.pool_labels, feats.validation_labels
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for j, name in enumerate(names):
        scarce = scarcest_class(y_pool[:, j], y_val[:, j], test_labels[:, j])
        rows.append({"attribute": name, "test_positives": int(test_labels[:, j].sum()),
                     "scarcest_class": scarce})
        if scarce < protocol.min_positives:
            rows[-1]["status"] = (f"too few positives or negatives (< {protocol.min_positives} "
                                  "in some split)")
    active = [j for j, r in enumerate(rows) if "status" not in r]
    path = fit_path(probe, as_tensor(feats.pool, device)[None],
                    signed(y_pool[:, active]).to(device)[None], grid, backend)
    t_fit = time.perf_counter()
    yv = torch.as_tensor(y_val[:, active], device=device)
    val_pred = path.decisions(as_tensor(feats.validation, device)) > 0  # (N, m, k)
    val_bal = balanced_accuracies(val_pred, yv[:, None, :].expand_as(val_pred))  # (m, k)
    chosen = val_bal.cpu().numpy().argmax(0)  # the smallest C on ties
    test_pred = path.decisions(as_tensor(feats.test, device))  # test labels are read below
    picked = test_pred[:, chosen, torch.arange(len(active))] > 0  # (N, k)
    yt = torch.as_tensor(test_labels[:, active], device=device)
    test_bal, test_acc = balanced_accuracies(picked, yt), binary_accuracies(picked, yt)
    for col, j in enumerate(active):
        i = int(chosen[col])
        rows[j].update({
            "status": "ok", "C": float(grid[i]), "grid_edge": grid_edge(i, len(grid)),
            "validation_balanced_accuracy": 100 * float(val_bal[i, col]),
            "accuracy": 100 * float(test_acc[col]),
            "balanced_accuracy": 100 * float(test_bal[col])})
    done = [r for r in rows if r["status"] == "ok"]
    mean_bal = float(np.mean([r["balanced_accuracy"] for r in done])) if done else float("nan")
    mean_acc = float(np.mean([r["accuracy"] for r in done])) if done else float("nan")
    return {
        "backend": backend, "solver": spec.solvers[backend],
        "convergence": path.convergence.as_record(),
        "labels": int(len(y_pool)), "labels_per_class": "all",
        "draws": [{"draw": 0, "test": mean_bal, "validation_error": None, "selected": {}}],
        "mean": mean_bal, "std": 0.0, "mean_accuracy": mean_acc,
        "attributes_evaluated": len(done),
        "grid_edges": {"at_edge": sum(r["grid_edge"] is not None for r in done),
                       "of": len(done), "grid_size": len(grid)},
        "attributes_excluded": [r["attribute"] for r in rows if r["status"] != "ok"],
        "attributes": rows,
        "seconds": {"fit": round(t_fit - t0, 3), "total": round(time.perf_counter() - t0, 3)},
    }
