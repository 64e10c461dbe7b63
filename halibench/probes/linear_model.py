"""Shared base of the linear probes: one-vs-rest linear decision functions, two backends."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from halibench.probes.newton import solve_path
from halibench.probes.targets import one_vs_rest

BACKENDS = ("torch", "sklearn")


class LinearOneVsRest(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """One-vs-rest linear classifier with L2 penalty 1/(2C). Subclasses name the batched
    ``loss`` and the scikit-learn reference estimator of one binary output."""

    loss = ""

    @abstractmethod
    def reference(self) -> BaseEstimator:
        """The scikit-learn estimator of one binary output (the ``sklearn`` backend)."""

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in "
                             f"the data, but the data contains only one class: "
                             f"{self.classes_[0]!r}")
        targets = one_vs_rest(y, self.classes_)
        if self.backend == "sklearn":
            fits = [self.reference().fit(X, targets[:, j].numpy() > 0)
                    for j in range(targets.shape[1])]
            self.coef_ = np.concatenate([f.coef_ for f in fits])
            self.intercept_ = np.concatenate([f.intercept_ for f in fits])
            self.n_iter_ = max(int(np.max(f.n_iter_)) for f in fits)
            return self
        path = solve_path(torch.tensor(X)[None], targets[None], [float(self.C)],
                          self.loss, max_iter=self.max_iter)
        self.coef_ = path.coef[0, :, 0].T.double().numpy()
        self.intercept_ = path.intercept[0, 0].double().numpy()
        self.convergence_ = path.convergence
        self.n_iter_ = path.convergence.newton_iterations
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
