"""Classification metrics on tensors (torchmetrics), so they run where the predictions are."""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multilabel_recall,
    multilabel_specificity,
)


def accuracies(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Accuracy of each column of ``preds`` (N, m) against ``labels`` (N,): shape (m,).
    The validation sweep over many candidates; a plain comparison (torchmetrics' per-sample
    path costs 0.1 s a call here), checked against ``accuracy`` in the tests."""
    return (preds == labels[:, None]).float().mean(0)


def accuracy(preds: torch.Tensor, labels: torch.Tensor, n_classes: int) -> float:
    """Micro-averaged multi-class accuracy (torchmetrics)."""
    return float(multiclass_accuracy(preds, labels, num_classes=n_classes, average="micro"))


def balanced_accuracies(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Balanced accuracy, (TPR + TNR) / 2, of each binary column of ``preds`` (N, ...)
    against ``labels`` of the same shape: one value per column."""
    n = len(preds)
    p, t = preds.reshape(n, -1).long(), labels.reshape(n, -1).long()
    tpr = multilabel_recall(p, t, num_labels=p.shape[1], average=None)
    tnr = multilabel_specificity(p, t, num_labels=p.shape[1], average=None)
    return ((tpr + tnr) / 2).reshape(preds.shape[1:])


def binary_accuracies(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Accuracy of each binary column of ``preds`` (N, ...) against ``labels``."""
    return (preds.long() == labels.long()).float().mean(0)
