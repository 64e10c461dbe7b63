"""Do reconstructions through higher levels keep the digit? (HALI's claim, measured.)

A fixed reference classifier (an L2-SVM on raw pixels, trained with every label of the
protocol's pool, C chosen on its validation split) labels the test images and their
reconstructions through each level. The class consistency of level l is the share of test
images whose reconstruction through l is classified as the image's own class; the
classifier's accuracy on the originals is the ceiling.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from halibench.evaluation.classification import as_tensor
from halibench.evaluation.metrics import accuracies
from halibench.features.extract import as_float_images, iter_batches
from halibench.models import HierarchicalALI
from halibench.probes.newton import LinearPath, solve_path
from halibench.probes.targets import one_vs_rest

C_GRID = np.exp(np.linspace(-6.0, 2.0, 5))


class PixelClassifier:
    """One-vs-rest L2-SVM on flattened pixels in [0, 1], C chosen on validation."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, val_images: np.ndarray,
                 val_labels: np.ndarray) -> None:
        self.n_classes = int(labels.max()) + 1
        x = pixels(images)
        targets = one_vs_rest(labels, np.arange(self.n_classes), binary_single=False)
        self.path: LinearPath = solve_path(x[None], targets[None].float(), C_GRID,
                                           "squared_hinge")
        errors = 1 - accuracies(self.path.decisions(pixels(val_images)).argmax(2),
                                torch.as_tensor(val_labels))
        self.c_index = int(np.argmin(errors.numpy()))
        self.validation_accuracy = float(1 - errors[self.c_index])

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Classes of float images in [0, 1] (N, C, H, W)."""
        return self.path.decisions(x.flatten(1))[:, self.c_index].argmax(1)


def pixels(images: np.ndarray) -> torch.Tensor:
    return as_tensor(images, "cpu").flatten(1) / 255.0


@torch.inference_mode()
def class_consistency(model: HierarchicalALI, classifier: PixelClassifier,
                      images: np.ndarray, labels: np.ndarray, batch_size: int = 500
                      ) -> dict[str, Any]:
    """Per level, the share of ``images`` whose reconstruction keeps its class."""
    model.eval()
    labels_t = torch.as_tensor(np.asarray(labels))
    hits = {f"z{lv}": 0 for lv in range(1, model.levels + 1)}
    originals, start = 0, 0
    for batch in iter_batches(images, batch_size):
        x = as_float_images(batch)
        y = labels_t[start:start + len(x)]
        originals += int((classifier.predict(x) == y).sum())
        for lv in range(1, model.levels + 1):
            hits[f"z{lv}"] += int((classifier.predict(model.reconstruct(x, lv)) == y).sum())
        start += len(x)
    return {"originals": 100 * originals / start,
            **{level: 100 * n / start for level, n in hits.items()},
            "classifier_validation_accuracy": 100 * classifier.validation_accuracy,
            "images": start}
