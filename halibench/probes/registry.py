"""The probes: name, estimator, batched loss, the solver text each record carries."""

from __future__ import annotations

from dataclasses import dataclass

from halibench.errors import HalibenchError
from halibench.probes.knn import KNNProbe
from halibench.probes.linear import LinearProbe
from halibench.probes.newton import DEFAULTS as NEWTON
from halibench.probes.svm import L2SVM

BATCHED = (f"batched primal Newton-CG over every draw x output, in the features' principal "
           f"axes, C path ascending and warm-started, float32, stop at |grad| <= "
           f"{NEWTON['tol']:g} |grad(0)| or {NEWTON['max_iter']} Newton steps per C")


@dataclass(frozen=True)
class Probe:
    """A probe of the protocols. ``loss`` names the batched solver's loss (None: no linear
    path, e.g. k-NN); ``solvers`` describes what runs for each backend."""

    name: str
    estimator: type | None  # None: nothing is fitted (the own classifier)
    loss: str | None
    solvers: dict[str, str]

    @property
    def attributes(self) -> bool:
        """Whether the probe has a multi-attribute (one binary probe per column) mode."""
        return self.loss is not None


PROBES: dict[str, Probe] = {p.name: p for p in (
    Probe("l2svm", L2SVM, "squared_hinge", {
        "torch": f"squared hinge, L2, regularised bias (liblinear's problem); {BATCHED}",
        "sklearn": "LinearSVC(squared_hinge, l2, dual='auto', tol=1e-4, max_iter=1000, "
                   "random_state=0), one fit per draw, C and output"}),
    Probe("linear", LinearProbe, "logistic", {
        "torch": f"one-vs-rest logistic regression, L2, free bias; {BATCHED}",
        "sklearn": "LogisticRegression(lbfgs, max_iter=1000) per output (one-vs-rest), one "
                   "fit per draw, C and output"}),
    Probe("knn", KNNProbe, None, {"torch": "Euclidean, exact, chunked"}),
    Probe("own", None, None, {
        "torch": "argmax of a semi-supervised model's own class logits; nothing fitted"}),
)}


def get_probe(name: str) -> Probe:
    if name not in PROBES:
        raise HalibenchError(f"unknown probe {name!r}; valid probes: {list(PROBES)}")
    return PROBES[name]
