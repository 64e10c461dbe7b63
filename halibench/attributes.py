"""Multi-attribute protocols (CelebA): one binary probe per attribute, C chosen on validation
by balanced accuracy; accuracy and balanced accuracy per attribute and their means.

An attribute whose positives or negatives number fewer than the protocol's ``min_positives``
in any split is reported as such and left out of the means (its counts are recorded).

Every (C, attribute) probe is fitted on the pool first; C is then chosen per attribute on
validation, and only after that are test labels read. The L2-SVM's torch backend solves all
attributes and all C values of a source in one batched dual (a shared Gram matrix), where
the pool is small and the features are many (raw pixels, HOG at 64 px); elsewhere each probe
is a scikit-learn fit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from halibench.evaluate import SOLVERS, Features, svm_backend
from halibench.probes import L2SVM, LinearProbe
from halibench.probes.dual_svm import gram, solve_dual
from halibench.protocols import Protocol

PROBES = ("l2svm", "linear")
# The batched dual holds an n x n Gram matrix (float64): 200 MB at n = 5000.
TORCH_ATTRIBUTE_MAX_N = 5000


def balanced_accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    pred, labels = np.asarray(pred), np.asarray(labels)
    tpr = np.mean(pred[labels == 1] == 1)
    tnr = np.mean(pred[labels == 0] == 0)
    return float((tpr + tnr) / 2)


def scarcest_class(*columns: np.ndarray) -> int:
    """The smallest count of positives or negatives over the given label columns."""
    return int(min(min(c.sum(), len(c) - c.sum()) for c in columns))


class LinearPath:
    """Linear decision functions w x + b for every (C value, attribute): ``coef`` is
    (d, m, k), ``intercept`` (m, k)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        self.coef, self.intercept = coef, intercept

    def decisions(self, x: np.ndarray) -> np.ndarray:
        """(N, m, k) decision values; positive means the attribute is predicted present."""
        d, m, k = self.coef.shape
        out = np.asarray(x, dtype=np.float64) @ self.coef.reshape(d, m * k)
        return out.reshape(len(x), m, k) + self.intercept


def fit_torch_svm_path(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> LinearPath:
    """All attributes' L2-SVMs for every C in one batched dual solve (see ``dual_svm``)."""
    xt = torch.from_numpy(np.array(x, dtype=np.float64))
    targets = torch.from_numpy(np.where(y == 1, 1.0, -1.0))
    beta = solve_dual(gram(xt)[None], targets[None], torch.from_numpy(grid))[0]  # (n, m*k)
    m, k = len(grid), y.shape[1]
    coef = (xt.T @ beta).numpy().reshape(-1, m, k)
    return LinearPath(coef, beta.sum(dim=0).numpy().reshape(m, k))


def row_space(x: np.ndarray) -> np.ndarray | None:
    """An orthonormal basis (d, r) of the rows' span when there are more features than rows,
    else None. An L2-penalised linear model's weights lie in this span, so fitting on the
    r coordinates and mapping back is exact, and r <= n makes each fit cheaper."""
    n, d = x.shape
    if d <= n:
        return None
    _, s, vt = np.linalg.svd(np.asarray(x, dtype=np.float64), full_matrices=False)
    return vt[s > s[0] * max(n, d) * np.finfo(np.float64).eps].T


def fit_sklearn_path(probe: str, x: np.ndarray, y: np.ndarray, grid: np.ndarray,
                     active: list[int]) -> LinearPath:
    """One scikit-learn fit per (C, active attribute); inactive columns stay zero."""
    basis = row_space(x)
    if basis is not None:
        path = fit_sklearn_path(probe, x @ basis, y, grid, active)
        return LinearPath(np.einsum("dr,rmk->dmk", basis, path.coef), path.intercept)
    coef = np.zeros((x.shape[1], len(grid), y.shape[1]))
    intercept = np.zeros((len(grid), y.shape[1]))
    with tqdm(total=len(grid) * len(active), desc=f"{probe} fits", unit="fit",
              leave=False) as bar:
        for i, c in enumerate(grid):
            for j in active:
                est = (L2SVM(C=float(c), backend="sklearn") if probe == "l2svm"
                       else LinearProbe(C=float(c))).fit(x, y[:, j])
                lin = est if probe == "l2svm" else est.models_[0]
                coef[:, i, j], intercept[i, j] = lin.coef_.ravel(), lin.intercept_[0]
                bar.update()
    return LinearPath(coef, intercept)


def evaluate_attributes(protocol: Protocol, feats: Features, test_labels: np.ndarray,
                        probe: str, names: tuple[str, ...], backend: str = "torch"
                        ) -> dict[str, Any]:
    if probe not in PROBES:
        raise ValueError(f"probe {probe!r} has no attribute mode; valid: {list(PROBES)}")
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
    used = "sklearn"
    if probe == "l2svm":
        used = svm_backend(backend, *feats.pool.shape, max_n=TORCH_ATTRIBUTE_MAX_N)
    if used == "torch":
        path = fit_torch_svm_path(feats.pool, y_pool, grid)
    else:
        path = fit_sklearn_path(probe, feats.pool, y_pool, grid, active)
    t_fit = time.perf_counter()
    val_pred = path.decisions(feats.validation) > 0
    chosen = {j: int(np.argmax([balanced_accuracy(val_pred[:, i, j], y_val[:, j])
                                for i in range(len(grid))])) for j in active}
    test_pred = path.decisions(feats.test) > 0  # labels of the test split are read below
    for j, i in chosen.items():
        pred = test_pred[:, i, j]
        rows[j].update({
            "status": "ok", "C": float(grid[i]),
            "validation_balanced_accuracy": 100 * balanced_accuracy(val_pred[:, i, j],
                                                                    y_val[:, j]),
            "accuracy": 100 * float(np.mean(pred == test_labels[:, j])),
            "balanced_accuracy": 100 * balanced_accuracy(pred, test_labels[:, j])})
    done = [r for r in rows if r["status"] == "ok"]
    mean_bal = float(np.mean([r["balanced_accuracy"] for r in done])) if done else float("nan")
    mean_acc = float(np.mean([r["accuracy"] for r in done])) if done else float("nan")
    return {
        "backend": used, "solver": SOLVERS[probe],
        "labels": int(len(y_pool)), "labels_per_class": "all",
        "draws": [{"draw": 0, "test": mean_bal, "validation_error": None, "selected": {}}],
        "mean": mean_bal, "std": 0.0, "mean_accuracy": mean_acc,
        "attributes_evaluated": len(done),
        "attributes_excluded": [r["attribute"] for r in rows if r["status"] != "ok"],
        "attributes": rows,
        "seconds": {"fit": round(t_fit - t0, 3), "total": round(time.perf_counter() - t0, 3)},
    }
