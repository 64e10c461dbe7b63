"""Multi-attribute protocols (CelebA): one binary probe per attribute, C chosen on validation
by balanced accuracy; accuracy and balanced accuracy per attribute and their means.

An attribute whose positives or negatives number fewer than the protocol's ``min_positives``
in any split is reported as such and left out of the means (its counts are recorded).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from halibench.evaluate import Features
from halibench.probes import L2SVM, LinearProbe
from halibench.protocols import Protocol

PROBES = {"l2svm": lambda c: L2SVM(C=c, backend="sklearn"), "linear": lambda c: LinearProbe(C=c)}


def balanced_accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    pred, labels = np.asarray(pred), np.asarray(labels)
    tpr = np.mean(pred[labels == 1] == 1)
    tnr = np.mean(pred[labels == 0] == 0)
    return float((tpr + tnr) / 2)


def scarcest_class(*columns: np.ndarray) -> int:
    """The smallest count of positives or negatives over the given label columns."""
    return int(min(min(c.sum(), len(c) - c.sum()) for c in columns))


def evaluate_attributes(protocol: Protocol, feats: Features, test_labels: np.ndarray,
                        probe: str, names: tuple[str, ...]) -> dict[str, Any]:
    if probe not in PROBES:
        raise ValueError(f"probe {probe!r} has no attribute mode; valid: {sorted(PROBES)}")
    make, grid = PROBES[probe], protocol.c_grid(probe)
    t0 = time.perf_counter()
    rows = []
    for j, name in enumerate(names):
        y_pool, y_val = feats.pool_labels[:, j], feats.validation_labels[:, j]
        scarce = scarcest_class(y_pool, y_val, test_labels[:, j])
        row: dict[str, Any] = {"attribute": name, "test_positives": int(test_labels[:, j].sum()),
                               "scarcest_class": scarce}
        if scarce < protocol.min_positives:
            rows.append({**row, "status": f"too few positives or negatives (< "
                                          f"{protocol.min_positives} in some split)"})
            continue
        best, best_score, best_c = None, -1.0, None
        for c in grid:
            est = make(float(c)).fit(feats.pool, y_pool)
            score = balanced_accuracy(est.predict(feats.validation), y_val)
            if score > best_score:
                best, best_score, best_c = est, score, float(c)
        pred = best.predict(feats.test)
        rows.append({**row, "status": "ok", "C": best_c, "validation_balanced_accuracy":
                     100 * best_score,
                     "accuracy": 100 * float(np.mean(pred == test_labels[:, j])),
                     "balanced_accuracy": 100 * balanced_accuracy(pred, test_labels[:, j])})
    done = [r for r in rows if r["status"] == "ok"]
    mean_bal = float(np.mean([r["balanced_accuracy"] for r in done])) if done else float("nan")
    mean_acc = float(np.mean([r["accuracy"] for r in done])) if done else float("nan")
    return {
        "backend": "sklearn", "labels": int(len(feats.pool_labels)), "labels_per_class": "all",
        "draws": [{"draw": 0, "test": mean_bal, "validation_error": None, "selected": {}}],
        "mean": mean_bal, "std": 0.0, "mean_accuracy": mean_acc,
        "attributes_evaluated": len(done),
        "attributes_excluded": [r["attribute"] for r in rows if r["status"] != "ok"],
        "attributes": rows,
        "seconds": {"total": round(time.perf_counter() - t0, 3)},
    }
