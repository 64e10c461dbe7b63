"""The classification task: draws, hyper-parameter choice on validation, test.

Test labels enter only in ``score_test``, after every choice has been made on validation.
Linear probes (L2-SVM, logistic) fit every draw, C value and class in one batched path
(``halibench.probes.paths``); k-NN fits per draw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from halibench.evaluation.metrics import accuracies, accuracy
from halibench.evaluation.protocols import Protocol, balanced_draws
from halibench.probes import KNNProbe
from halibench.probes.newton import Convergence
from halibench.probes.paths import fit_path
from halibench.probes.registry import get_probe
from halibench.probes.targets import one_vs_rest

Predict = Callable[[np.ndarray], torch.Tensor]


@dataclass
class Choice:
    """The hyper-parameters chosen for one draw, and a predictor fitted with them;
    ``grid_edge`` says when the chosen value is the lowest or highest of its grid."""

    validation_error: float | None
    params: dict[str, Any]
    predict: Predict
    grid_edge: str | None = None


def grid_edge(index: int, size: int) -> str | None:
    """"lowest" or "highest" when a choice among ``size`` > 1 grid values sits at an end
    (the optimum may lie outside the grid), else None."""
    if size < 2 or 0 < index < size - 1:
        return None
    return "lowest" if index == 0 else "highest"


@dataclass
class Features:
    """One source's features per split, with the labels. ``pool`` has zero rows (and
    ``pool_labels`` all of them) for a task that fits nothing on the pool."""

    pool: np.ndarray
    pool_labels: np.ndarray
    validation: np.ndarray | None
    validation_labels: np.ndarray | None
    test: np.ndarray


def as_tensor(x: np.ndarray, device: str) -> torch.Tensor:
    """float32 features on ``device`` (read-only memory maps are copied)."""
    array = np.asarray(x, dtype=np.float32)
    if not array.flags.writeable:
        array = array.copy()
    return torch.as_tensor(array, device=device)


def better(a: Choice | None, b: Choice) -> bool:
    """Whether ``b`` beats ``a`` on validation (the earlier one wins ties)."""
    if a is None:
        return True
    if a.validation_error is None or b.validation_error is None:
        return False
    return b.validation_error < a.validation_error


def linear_choices(probe: str, backend: str, grid: np.ndarray, x_lab: np.ndarray,
                   y_lab: np.ndarray, x_val: np.ndarray | None, y_val: np.ndarray | None,
                   n_classes: int, device: str) -> tuple[list[Choice], Convergence]:
    """All draws x C values x classes in one path; per draw the C with the lowest
    validation error (the smallest C on ties, or the first without validation)."""
    classes = np.arange(n_classes)
    targets = torch.stack([one_vs_rest(y, classes, binary_single=False) for y in y_lab])
    path = fit_path(probe, as_tensor(x_lab, device), targets.to(device), grid, backend)
    xv = None if x_val is None else as_tensor(x_val, device)
    yv = None if y_val is None else torch.as_tensor(y_val, device=device)
    choices = []
    for d in range(len(x_lab)):
        j, err = 0, None
        if xv is not None:
            errors = 1.0 - accuracies(path.decisions(xv, d).argmax(2), yv)
            j = int(np.argmin(errors.cpu().numpy()))
            err = float(errors[j])

        def predict(x: np.ndarray, d=d, j=j) -> torch.Tensor:
            return path.decisions(as_tensor(x, device), d)[:, j].argmax(1)

        edge = grid_edge(j, len(grid)) if xv is not None else None
        choices.append(Choice(err, {"C": float(grid[j])}, predict, edge))
    return choices, path.convergence


def knn_choices(n_neighbors: int, x_lab: np.ndarray, y_lab: np.ndarray,
                x_val: np.ndarray | None, y_val: np.ndarray | None) -> list[Choice]:
    choices = []
    for x, y in zip(x_lab, y_lab, strict=True):
        est = KNNProbe(n_neighbors=n_neighbors).fit(x, y)
        err = None if x_val is None else float(np.mean(est.predict(x_val) != y_val))
        choices.append(Choice(err, {"n_neighbors": n_neighbors},
                              lambda x, est=est: torch.from_numpy(est.predict(x))))
    return choices


def select(protocol: Protocol, probe: str, backend: str, feats: Features,
           variants: list[tuple[str, slice]], draws: np.ndarray, n_classes: int,
           device: str) -> tuple[list[Choice], list[slice], Convergence]:
    """Per draw, the best (variant, hyper-parameters) on validation. Without a validation
    split nothing can be chosen: the last (largest) variant is used."""
    if feats.validation is None:
        variants = variants[-1:]
    best: list[Choice | None] = [None] * len(draws)
    best_slices: list[slice] = [slice(None)] * len(draws)
    y_lab = feats.pool_labels[draws]
    report = Convergence()
    for name, cols in variants:
        x_lab = feats.pool[:, cols][draws]
        x_val = None if feats.validation is None else feats.validation[:, cols]
        if get_probe(probe).loss is None:
            k = int(protocol.probe_params.get("knn", {}).get("n_neighbors", 1))
            choices = knn_choices(k, x_lab, y_lab, x_val, feats.validation_labels)
        else:
            choices, conv = linear_choices(probe, backend, protocol.c_grid(probe), x_lab,
                                           y_lab, x_val, feats.validation_labels, n_classes,
                                           device)
            report = report.merge(conv)
        for d, cand in enumerate(choices):
            if name != "all":
                cand.params["variant"] = name
            if better(best[d], cand):
                best[d], best_slices[d] = cand, cols
    return best, best_slices, report


def score_test(choices: list[Choice], slices: list[slice], test: np.ndarray,
               test_labels: np.ndarray, metric: str, n_classes: int) -> list[float]:
    """The metric (in %) of each draw's chosen predictor on the test split."""
    labels = torch.as_tensor(test_labels)
    out = []
    for choice, cols in zip(choices, slices, strict=True):
        acc = accuracy(choice.predict(test[:, cols]).cpu(), labels, n_classes)
        out.append(100.0 * (1.0 - acc if metric == "error" else acc))
    return out


def evaluate(protocol: Protocol, feats: Features, test_labels: np.ndarray, probe: str,
             labels_per_class: int | str, n_draws: int, backend: str = "torch",
             variants: list[tuple[str, slice]] | None = None, device: str = "cpu"
             ) -> dict[str, Any]:
    """Draws, selection on validation, then test: the per-draw results of one setting."""
    variants = variants or [("all", slice(None))]
    n_classes = int(feats.pool_labels.max()) + 1
    spec = get_probe(probe)
    backend = backend if backend in spec.solvers else "torch"
    t0 = time.perf_counter()
    if labels_per_class == "all":
        draws = np.arange(len(feats.pool_labels))[None]
    else:
        draws = balanced_draws(feats.pool_labels, int(labels_per_class), n_draws,
                               protocol.seed)
    choices, slices, report = select(protocol, probe, backend, feats, variants, draws,
                                     n_classes, device)
    t_select = time.perf_counter() - t0
    test = score_test(choices, slices, feats.test, test_labels, protocol.metric, n_classes)
    return {
        "solver": spec.solvers[backend], "backend": backend,
        "convergence": report.as_record() if spec.loss else None,
        "labels": int(draws.shape[1]),
        "labels_per_class": labels_per_class,
        "draws": [{"draw": d, "test": t, "validation_error": c.validation_error,
                   "selected": c.params, "grid_edge": c.grid_edge}
                  for d, (t, c) in enumerate(zip(test, choices, strict=True))],
        "grid_edges": {"at_edge": sum(c.grid_edge is not None for c in choices),
                       "of": len(choices), "grid_size": len(protocol.c_grid(probe))
                       if spec.loss else 1},
        "mean": float(np.mean(test)),
        "std": float(np.std(test, ddof=1)) if len(test) > 1 else 0.0,
        "seconds": {"select": round(t_select, 3),
                    "total": round(time.perf_counter() - t0, 3)},
    }
