"""L2-SVM probe: squared hinge, L2 penalty, one-vs-rest (ALI's SVM protocol)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from halibench.probes.dual_svm import gram, solve_dual

BACKENDS = ("torch", "sklearn")


def one_vs_rest_targets(y: np.ndarray, classes: np.ndarray) -> torch.Tensor:
    """(n, k) targets in {-1, +1}; a binary problem gets one column (class 1 positive)."""
    if len(classes) == 2:
        return torch.from_numpy(np.where(y == classes[1], 1.0, -1.0)[:, None])
    return torch.from_numpy(np.where(y[:, None] == classes[None, :], 1.0, -1.0))


class L2SVM(ClassifierMixin, BaseEstimator):
    """Linear SVM with squared hinge loss and L2 penalty, one-vs-rest.

    ``backend='sklearn'`` fits scikit-learn's ``LinearSVC`` (the reference);
    ``backend='torch'`` solves the same problem's dual in PyTorch (fast, batched in
    ``halibench.protocols`` sweeps). ``max_iter`` caps liblinear's iterations (its default,
    1000) or the FISTA steps per C. No feature scaling is applied here.
    """

    def __init__(self, C: float = 1.0, backend: str = "torch", tol: float = 1e-3,
                 max_iter: int = 1000) -> None:
        self.C = C
        self.backend = backend
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y) -> L2SVM:
        X, y = validate_data(self, X, y, dtype=np.float64)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        self.classes_ = unique_labels(y)
        if self.backend == "sklearn":
            svc = LinearSVC(C=self.C, loss="squared_hinge", penalty="l2", dual="auto",
                            tol=1e-4, max_iter=self.max_iter,  # LinearSVC's defaults
                            random_state=0)  # the dual solver's shuffling: reproducible
            svc.fit(X, y)
            self.coef_, self.intercept_ = svc.coef_, svc.intercept_
            return self
        x = torch.from_numpy(X)
        targets = one_vs_rest_targets(y, self.classes_)
        beta = solve_dual(gram(x)[None], targets[None], torch.tensor([float(self.C)]),
                          max_iter=self.max_iter, tol=self.tol)[0]
        self.coef_ = (x.T @ beta).T.numpy()
        self.intercept_ = beta.sum(dim=0).numpy()
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        scores = X @ self.coef_.T + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]
