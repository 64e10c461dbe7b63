"""L2-SVM probe: squared hinge, L2 penalty, one-vs-rest (ALI's SVM protocol)."""

from __future__ import annotations

from sklearn.svm import LinearSVC

from halibench.probes.linear_model import LinearOneVsRest


class L2SVM(LinearOneVsRest):
    """Linear SVM with squared hinge loss and L2 penalty, one-vs-rest; the bias is a
    regularised constant feature, as in liblinear.

    ``backend='sklearn'`` fits scikit-learn's ``LinearSVC`` (the reference);
    ``backend='torch'`` solves the same problem with the batched Newton-CG solver
    (``halibench.probes.newton``). ``max_iter`` caps liblinear's iterations (its default,
    1000) or the Newton steps. No feature scaling is applied here.
    """

    loss = "squared_hinge"

    def __init__(self, C: float = 1.0, backend: str = "torch", max_iter: int = 1000) -> None:
        self.C = C
        self.backend = backend
        self.max_iter = max_iter

    def reference(self) -> LinearSVC:
        return LinearSVC(C=self.C, loss="squared_hinge", penalty="l2", dual="auto",
                         tol=1e-4, max_iter=self.max_iter,  # LinearSVC's defaults
                         random_state=0)  # the dual solver's shuffling: reproducible
