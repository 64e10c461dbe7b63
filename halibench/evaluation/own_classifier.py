"""The own-classifier task: the test error of a semi-supervised model's own classifier.

The papers' semi-supervised rows (ALI's (K+1)-class discriminator, protocol B) are not
frozen-feature probes: the labels were used in training, so nothing is fitted here. The
features are the model's ``classifier`` level (its K class logits); the prediction is their
argmax. The labelled draw is the one the model trained with, read from its checkpoint, and
it must be the protocol's own draw: same dataset, pool rows, seed and label count.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from halibench.errors import HalibenchError
from halibench.evaluation.classification import Features
from halibench.evaluation.protocol_schema import MAX_DRAWS
from halibench.evaluation.protocols import Protocol, pool_draw_rows

SOLVER = "argmax of the model's own class logits (its discriminator on x, z1..zL); nothing fitted"


def require_trained(protocol: Protocol, trained: dict[str, Any] | None, model: str
                    ) -> dict[str, Any]:
    if not trained:
        raise HalibenchError(f"{model}: not trained with labels; the {protocol.name} protocol "
                             "scores a semi-supervised model's own classifier (halibench train "
                             "... --labels-per-class N)")
    return trained


def check_trained_labels(protocol: Protocol, trained: dict[str, Any] | None,
                         labels_per_class: int | str, model: str) -> int:
    """The draw a model trained with, after checking it is this protocol's labelled draw."""
    trained = require_trained(protocol, trained, model)
    pool = protocol.splits["pool"]
    ours = {"dataset": protocol.dataset, "pool": [pool.split, pool.start, pool.stop],
            "seed": protocol.seed, "labels_per_class": labels_per_class}
    theirs = {k: trained.get(k) for k in ours}
    if theirs != ours:
        raise HalibenchError(f"{model}: trained with labels {theirs}, the {protocol.name} "
                             f"protocol's setting is {ours}; score it with the protocol and "
                             "label count it was trained with")
    draw = trained.get("draw")
    if type(draw) is not int or not 0 <= draw < MAX_DRAWS:
        raise HalibenchError(f"{model}: its recorded labelled draw {draw!r} is not a draw "
                             f"number 0-{MAX_DRAWS - 1}; its checkpoint config is damaged")
    return draw


def check_labelled_rows(protocol: Protocol, pool_labels: np.ndarray,
                        trained: dict[str, Any], model: str) -> None:
    """The rows the checkpoint says it learned from must be the protocol's draw it names
    (a config edited by hand, or another protocol file, gives other rows)."""
    from halibench.training.labels import rows_sha256

    per_class, draw = int(trained["labels_per_class"]), trained["draw"]
    rows = pool_draw_rows(protocol, pool_labels, per_class, draw)
    if trained.get("rows_sha256") != rows_sha256(rows) or trained.get("count") != len(rows):
        raise HalibenchError(f"{model}: its recorded labelled rows (count {trained.get('count')}"
                             f", rows_sha256 {str(trained.get('rows_sha256'))[:12]}) are not "
                             f"draw {draw} of {protocol.name} with {per_class} per class; "
                             "score it with the protocol file it was trained with")


def error_percent(logits: np.ndarray, labels: np.ndarray) -> float:
    return 100.0 * float(np.mean(np.asarray(logits).argmax(1) != np.asarray(labels)))


def evaluate_own(protocol: Protocol, feats: Features, test_labels: np.ndarray,
                 labels_per_class: int | str, trained: dict[str, Any] | None,
                 model: str = "model") -> dict[str, Any]:
    """One draw: the validation and test error of the model's argmax prediction."""
    draw = check_trained_labels(protocol, trained, labels_per_class, model)
    n_classes = int(feats.pool_labels.max()) + 1
    if feats.test.shape[1] != n_classes:
        raise HalibenchError(f"{model}: {feats.test.shape[1]} columns, the {protocol.name} "
                             f"protocol needs the {n_classes} class logits of the model's "
                             "'classifier' level")
    t0 = time.perf_counter()
    val = (None if feats.validation is None
           else error_percent(feats.validation, feats.validation_labels) / 100.0)
    test = error_percent(feats.test, test_labels)
    return {
        "solver": SOLVER, "backend": "numpy", "convergence": None,
        "labels": int(labels_per_class) * n_classes,
        "labels_per_class": labels_per_class,
        "draws": [{"draw": draw, "test": test, "validation_error": val, "selected": {},
                   "grid_edge": None}],
        "grid_edges": {"at_edge": 0, "of": 1, "grid_size": 1},
        "mean": test, "std": 0.0,
        "seconds": {"select": 0.0, "total": round(time.perf_counter() - t0, 3)},
    }
