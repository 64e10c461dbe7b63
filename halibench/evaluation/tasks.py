"""The task interface: one evaluation of one feature set with one probe at one label setting.

A protocol names its task; the benchmark runner hands every task the same ``Setting`` and
writes what it returns into the record. Two tasks exist: ``classification`` (draws of a
labelled pool, choice on validation, test error or accuracy) and ``attributes`` (one binary
problem per attribute, balanced accuracy) and ``own-classifier`` (a semi-supervised model's
own classifier, nothing fitted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from halibench.evaluation.attributes import evaluate_attributes
from halibench.evaluation.classification import Features, evaluate
from halibench.evaluation.own_classifier import evaluate_own
from halibench.evaluation.protocols import Protocol as BenchmarkProtocol


@dataclass(frozen=True)
class Setting:
    """Everything one evaluation reads."""

    protocol: BenchmarkProtocol
    features: Features
    test_labels: np.ndarray
    label_names: tuple[str, ...]
    probe: str
    labels_per_class: int | str
    n_draws: int
    backend: str = "torch"
    device: str = "cpu"
    variants: list[tuple[str, slice]] | None = None
    trained_labels: dict[str, Any] | None = None  # the labelled draw a model trained with
    model: str = "model"


class Task(Protocol):
    def evaluate(self, setting: Setting) -> dict[str, Any]:
        """The record fields of one evaluation (draws or attributes, mean, solver, ...)."""
        ...


class ClassificationTask:
    def evaluate(self, s: Setting) -> dict[str, Any]:
        return evaluate(s.protocol, s.features, s.test_labels, s.probe, s.labels_per_class,
                        s.n_draws, backend=s.backend, variants=s.variants, device=s.device)


class AttributeTask:
    def evaluate(self, s: Setting) -> dict[str, Any]:
        return evaluate_attributes(s.protocol, s.features, s.test_labels, s.probe,
                                   s.label_names, s.backend, device=s.device)


class OwnClassifierTask:
    def evaluate(self, s: Setting) -> dict[str, Any]:
        return evaluate_own(s.protocol, s.features, s.test_labels, s.labels_per_class,
                            s.trained_labels, s.model)


TASK_IMPLEMENTATIONS: dict[str, Task] = {"classification": ClassificationTask(),
                                         "attributes": AttributeTask(),
                                         "own-classifier": OwnClassifierTask()}
