"""Probes on frozen features, with scikit-learn's estimator API."""

from halibench.probes.knn import KNNProbe
from halibench.probes.linear import LinearProbe
from halibench.probes.svm import L2SVM

PROBES = {"l2svm": L2SVM, "linear": LinearProbe, "knn": KNNProbe}

__all__ = ["PROBES", "KNNProbe", "L2SVM", "LinearProbe"]
