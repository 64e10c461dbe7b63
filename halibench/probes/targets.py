"""Label encodings shared by the probes."""

from __future__ import annotations

import numpy as np
import torch


def one_vs_rest(y: np.ndarray, classes: np.ndarray, binary_single: bool = True
                ) -> torch.Tensor:
    """(n, k) targets in {-1, +1}, one column per class; with ``binary_single`` a
    two-class problem gets one column (class 1 positive), as scikit-learn's linear models."""
    if binary_single and len(classes) == 2:
        return torch.from_numpy(np.where(y == classes[1], 1.0, -1.0)[:, None])
    return torch.from_numpy(np.where(y[:, None] == classes[None, :], 1.0, -1.0))


def signed(y01: np.ndarray) -> torch.Tensor:
    """0/1 columns as {-1, +1} targets."""
    return torch.from_numpy(np.where(np.asarray(y01) == 1, 1.0, -1.0))
