"""Linear probe: multinomial logistic regression (independent binary outputs when multi-label)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Logistic regression with L2 strength 1/C. A 2-D ``y`` (samples x attributes of 0/1)
    fits one independent binary model per column."""

    def __init__(self, C: float = 1.0, max_iter: int = 1000) -> None:
        self.C = C
        self.max_iter = max_iter

    def _model(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=self.max_iter)

    def fit(self, X, y) -> LinearProbe:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        self.multilabel_ = y.ndim == 2
        self.n_features_in_ = X.shape[1]
        if self.multilabel_:
            self.models_ = [self._model().fit(X, y[:, j]) for j in range(y.shape[1])]
            self.classes_ = np.arange(y.shape[1])
        else:
            self.models_ = [self._model().fit(X, y)]
            self.classes_ = self.models_[0].classes_
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float64)
        if self.multilabel_:
            return np.stack([m.predict(X) for m in self.models_], axis=1)
        return self.models_[0].predict(X)
