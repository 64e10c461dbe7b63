"""k-nearest-neighbour probe (Euclidean), computed in chunks so memory stays bounded."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class KNNProbe(ClassifierMixin, BaseEstimator):
    """Majority vote of the ``n_neighbors`` nearest labelled points (ties: smallest label)."""

    def __init__(self, n_neighbors: int = 1, chunk_size: int = 2048) -> None:
        self.n_neighbors = n_neighbors
        self.chunk_size = chunk_size

    def fit(self, X, y) -> KNNProbe:
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        # Distances are taken about the labelled points' mean: the same neighbours in exact
        # arithmetic, and no float32 cancellation when features share a large offset.
        self.center_ = X.mean(0, dtype=np.float64).astype(np.float32)
        self.X_ = torch.from_numpy(X - self.center_)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        self.y_ = torch.from_numpy(encoded)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        X = torch.from_numpy(X - self.center_)
        if self.n_neighbors > len(self.X_):
            raise ValueError(f"n_neighbors={self.n_neighbors} is more than the "
                             f"{len(self.X_)} labelled examples; lower n_neighbors")
        k = self.n_neighbors
        sq_train = (self.X_ ** 2).sum(1)
        out = []
        for start in range(0, len(X), self.chunk_size):
            q = X[start:start + self.chunk_size]
            d = sq_train[None, :] - 2.0 * q @ self.X_.T  # ||q||^2 is constant per row
            idx = d.topk(k, dim=1, largest=False).indices
            votes = torch.zeros(len(q), len(self.classes_))
            votes.scatter_add_(1, self.y_[idx], torch.ones(idx.shape))
            out.append(votes.argmax(dim=1))
        return self.classes_[torch.cat(out).numpy()]
