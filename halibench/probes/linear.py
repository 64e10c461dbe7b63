"""Linear probe: L2-penalised logistic regression, one-vs-rest, free intercept."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from halibench.probes.linear_model import LinearOneVsRest


class LinearProbe(LinearOneVsRest):
    """Logistic regression with L2 strength 1/C, one binary model per class (one-vs-rest).

    ``backend='sklearn'`` fits scikit-learn's ``LogisticRegression`` per class (the
    reference); ``backend='torch'`` the batched Newton-CG solver."""

    loss = "logistic"

    def __init__(self, C: float = 1.0, backend: str = "torch", max_iter: int = 1000) -> None:
        self.C = C
        self.backend = backend
        self.max_iter = max_iter

    def reference(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=self.max_iter)
