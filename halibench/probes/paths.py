"""Every (draw, C value, output) of a linear probe on a protocol's features, by backend.

``torch`` is the batched Newton-CG solve; ``sklearn`` fits the reference estimator once per
(draw, C, output), in the span of the rows where there are more features than rows (exact
for an L2 penalty, and cheaper). Both return a ``LinearPath``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from halibench.probes.newton import Convergence, LinearPath, principal_basis, solve_path
from halibench.probes.registry import get_probe
from halibench.progress import progress


def fit_path(probe: str, x: torch.Tensor, targets: torch.Tensor, grid: np.ndarray,
             backend: str = "torch") -> LinearPath:
    """x (B, n, d) features, targets (B, n, k) in {-1, +1}, on the device to solve on."""
    spec = get_probe(probe)
    if spec.loss is None:
        raise ValueError(f"probe {probe!r} is not a linear probe")
    if backend == "torch":
        return solve_path(x, targets, torch.from_numpy(np.asarray(grid, dtype=np.float64)),
                          spec.loss)
    return sklearn_path(spec.estimator, x.double().cpu(), targets.cpu(), grid)


def sklearn_path(estimator: type, x: torch.Tensor, targets: torch.Tensor,
                 grid: np.ndarray) -> LinearPath:
    """One reference fit per (draw, C, output); liblinear's convergence warnings are counted
    into the path's report instead of printed."""
    n_draws, n, d = x.shape
    k, m = targets.shape[2], len(grid)
    coef = torch.zeros(n_draws, d, m, k, dtype=torch.float64)
    intercept = torch.zeros(n_draws, m, k, dtype=torch.float64)
    report = Convergence(solves=n_draws * m * k)
    with progress(n_draws * m * k, f"{estimator.__name__} fits", "fit", leave=False) as bar:
        for b in range(n_draws):
            basis = principal_basis(x[b:b + 1])[0] if d > n else None
            xb = (x[b] @ basis if basis is not None else x[b]).numpy()
            for i, c in enumerate(grid):
                for j in range(k):
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", ConvergenceWarning)
                        est = estimator(C=float(c), backend="sklearn").fit(
                            xb, targets[b, :, j].numpy() > 0)
                    report.not_converged += any(issubclass(w.category, ConvergenceWarning)
                                                for w in caught)
                    w = torch.from_numpy(est.coef_.ravel())
                    coef[b, :, i, j] = basis @ w if basis is not None else w
                    intercept[b, i, j] = float(est.intercept_[0])
                    bar.update()
    return LinearPath(coef.float(), intercept.float(), report)
