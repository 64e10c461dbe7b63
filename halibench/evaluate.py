"""Run a protocol's probes on features: draws, hyper-parameter choice on validation, test.

Test labels enter only in ``score_test``, after every choice has been made on validation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from halibench.probes import KNNProbe, LinearProbe
from halibench.probes.dual_svm import decision_values
from halibench.probes.svm import L2SVM, one_vs_rest_targets
from halibench.protocols import Protocol, balanced_draws

Predict = Callable[[np.ndarray], np.ndarray]
# The batched dual solver wins where the dual is small and well posed: few labelled points
# (n) in many dimensions (d). Measured on a CPU: above n = 400 liblinear beat it (50 C values
# at n = 1000 on MNIST pixels, 8 s vs 16-37 s per draw); with d < n (PCA's 10-200 dims) the
# Gram matrix is low-rank, large-C problems converge slowly (361 s for 10 draws) while
# liblinear's primal takes milliseconds. Elsewhere the torch backend hands over to sklearn.
TORCH_SVM_MAX_N = 400


SOLVERS = {
    "l2svm": "torch: batched dual FISTA, tol 1e-3, <= 5000 steps per C, warm-started C path; "
             "sklearn: LinearSVC(squared_hinge, l2, dual='auto', tol=1e-4, max_iter=1000, "
             "random_state=0)",
    "linear": "LogisticRegression(lbfgs, max_iter=1000)",
    "knn": "Euclidean, exact, chunked",
}


def svm_backend(requested: str, n_labelled: int, dims: int, max_n: int = TORCH_SVM_MAX_N
                ) -> str:
    """The L2-SVM backend that actually runs for ``n_labelled`` points of ``dims`` features."""
    if requested == "torch" and (n_labelled > max_n or dims + 1 < n_labelled):
        return "sklearn"
    return requested


@dataclass
class Choice:
    """The hyper-parameters chosen for one draw, and a predictor fitted with them."""

    validation_error: float | None
    params: dict[str, Any]
    predict: Predict


@dataclass
class Features:
    pool: np.ndarray
    pool_labels: np.ndarray
    validation: np.ndarray | None
    validation_labels: np.ndarray | None
    test: np.ndarray


def error_rate(pred: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) != np.asarray(labels)))


def choose(candidates: list[Choice]) -> Choice:
    """The candidate with the lowest validation error (first one on ties)."""
    return min(candidates, key=lambda c: -1 if c.validation_error is None
               else c.validation_error)


def estimator_grid(make: Callable[[float], Any], grid: np.ndarray, x: np.ndarray,
                   y: np.ndarray, x_val: np.ndarray | None, y_val: np.ndarray | None
                   ) -> Choice:
    """Fit ``make(C)`` for each C; keep the best on validation."""
    best = None
    for c in grid:
        est = make(float(c)).fit(x, y)
        err = None if x_val is None else error_rate(est.predict(x_val), y_val)
        cand = Choice(err, {"C": float(c)}, est.predict)
        best = cand if best is None else choose([best, cand])
    return best


def l2svm_batched(grid: np.ndarray, x_lab: np.ndarray, y_lab: np.ndarray, x_val: np.ndarray,
                  y_val: np.ndarray, n_classes: int) -> list[Choice]:
    """All draws x C values in one solve (the fast backend); one choice per draw."""
    from halibench.probes.dual_svm import gram, solve_dual

    xl = torch.from_numpy(np.array(x_lab, dtype=np.float64))
    targets = torch.stack([one_vs_rest_targets(y, np.arange(n_classes)) for y in y_lab])
    cs = torch.from_numpy(grid)
    beta = solve_dual(gram(xl), targets.double(), cs)
    k = targets.shape[2]
    xv = torch.from_numpy(np.array(x_val, dtype=np.float64))
    choices = []
    for d in range(len(x_lab)):
        scores = decision_values(xv, xl[d], beta[d]).view(len(xv), len(grid), k)
        preds = scores.argmax(2) if k > 1 else (scores[..., 0] > 0).long()
        errors = (preds != torch.from_numpy(y_val)[:, None]).double().mean(0)
        j = int(torch.argmin(errors))
        b = beta[d][:, j * k:(j + 1) * k]

        def predict(x: np.ndarray, xd=xl[d], b=b, k=k) -> np.ndarray:
            s = decision_values(torch.from_numpy(np.array(x, dtype=np.float64)), xd, b)
            return (s.argmax(1) if k > 1 else (s[:, 0] > 0).long()).numpy()

        choices.append(Choice(float(errors[j]), {"C": float(grid[j])}, predict))
    return choices


def probe_choices(protocol: Protocol, probe: str, backend: str, x_lab: np.ndarray,
                  y_lab: np.ndarray, x_val: np.ndarray | None, y_val: np.ndarray | None,
                  n_classes: int) -> list[Choice]:
    """One choice per draw; x_lab (draws, n, D)."""
    grid = protocol.c_grid(probe)
    if probe == "l2svm" and svm_backend(backend, x_lab.shape[1], x_lab.shape[2]) == "torch":
        return l2svm_batched(grid, x_lab, y_lab, x_val, y_val, n_classes)
    if probe == "l2svm":
        def make(c):
            return L2SVM(C=c, backend="sklearn")
    elif probe == "linear":
        def make(c):
            return LinearProbe(C=c)
    elif probe == "knn":
        k = int(protocol.probe_params.get("knn", {}).get("n_neighbors", 1))
        grid = np.array([k])

        def make(c):
            return KNNProbe(n_neighbors=int(c))
    else:
        raise ValueError(f"unknown probe {probe!r}; valid probes: ['knn', 'l2svm', 'linear']")
    choices = [estimator_grid(make, grid, x, y, x_val, y_val)
               for x, y in zip(x_lab, y_lab, strict=True)]
    if probe == "knn":
        for c in choices:
            c.params = {"n_neighbors": int(c.params.pop("C"))}
    return choices


def select(protocol: Protocol, probe: str, backend: str, feats: Features,
           variants: list[tuple[str, slice]], draws: np.ndarray, n_classes: int
           ) -> tuple[list[Choice], list[slice]]:
    """Per draw, the best (variant, hyper-parameters) on validation. Without a validation
    split nothing can be chosen: the last (largest) variant is used."""
    if feats.validation is None:
        variants = variants[-1:]
    best: list[Choice | None] = [None] * len(draws)
    best_slices: list[slice] = [slice(None)] * len(draws)
    y_lab = feats.pool_labels[draws]
    for name, cols in variants:
        x_lab = feats.pool[:, cols][draws]
        x_val = None if feats.validation is None else feats.validation[:, cols]
        choices = probe_choices(protocol, probe, backend, x_lab, y_lab, x_val,
                                feats.validation_labels, n_classes)
        for d, cand in enumerate(choices):
            if name != "all":
                cand.params["variant"] = name
            if best[d] is None or choose([best[d], cand]) is cand:
                best[d], best_slices[d] = cand, cols
    return best, best_slices


def score_test(choices: list[Choice], slices: list[slice], test: np.ndarray,
               test_labels: np.ndarray, metric: str) -> list[float]:
    """The metric (in %) of each draw's chosen predictor on the test split."""
    out = []
    for choice, cols in zip(choices, slices, strict=True):
        err = error_rate(choice.predict(test[:, cols]), test_labels)
        out.append(100.0 * (err if metric == "error" else 1.0 - err))
    return out


def evaluate(protocol: Protocol, feats: Features, test_labels: np.ndarray, probe: str,
             labels_per_class: int | str, n_draws: int, backend: str = "torch",
             variants: list[tuple[str, slice]] | None = None) -> dict[str, Any]:
    """Draws, selection on validation, then test: the per-draw results of one setting."""
    variants = variants or [("all", slice(None))]
    n_classes = int(feats.pool_labels.max()) + 1
    t0 = time.perf_counter()
    if labels_per_class == "all":
        draws = np.arange(len(feats.pool_labels))[None]
    else:
        draws = balanced_draws(feats.pool_labels, int(labels_per_class), n_draws,
                               protocol.seed)
    choices, slices = select(protocol, probe, backend, feats, variants, draws, n_classes)
    used = {svm_backend(backend, draws.shape[1], feats.pool[:, cols].shape[1])
            for cols in slices} if probe == "l2svm" else set()
    t_select = time.perf_counter() - t0
    test = score_test(choices, slices, feats.test, test_labels, protocol.metric)
    return {
        "solver": SOLVERS[probe],
        "backend": {"l2svm": "+".join(sorted(used)), "linear": "sklearn",
                    "knn": "torch"}[probe],
        "labels": int(draws.shape[1]),
        "labels_per_class": labels_per_class,
        "draws": [{"draw": d, "test": t, "validation_error": c.validation_error,
                   "selected": c.params}
                  for d, (t, c) in enumerate(zip(test, choices, strict=True))],
        "mean": float(np.mean(test)),
        "std": float(np.std(test, ddof=1)) if len(test) > 1 else 0.0,
        "seconds": {"select": round(t_select, 3),
                    "total": round(time.perf_counter() - t0, 3)},
    }
