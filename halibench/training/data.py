"""Training data from the dataset registry: images to learn from, a labelled health slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from halibench.data import data_root, load
from halibench.training.trainer import TrainingData


def training_data(dataset: str, root: str | Path | None, train_range: tuple[int, int],
                  health_range: tuple[int, int], split_name: str = "train") -> TrainingData:
    """Rows of one split (``train`` by default); labels are read only for the health slice's
    1-NN probe, and only when they are class labels."""
    split = load(dataset, split_name, root)
    learn = split.take(*train_range)
    held_out = split.take(*health_range)
    labels = torch.from_numpy(np.asarray(held_out.labels)) if held_out.labels.ndim == 1 else None
    return TrainingData(
        images=torch.from_numpy(np.array(learn.images)),
        health_images=torch.from_numpy(np.array(held_out.images)),
        health_labels=labels,
        description={"dataset": dataset, "split": split_name, "train_range": list(train_range),
                     "health_range": list(health_range), "data_root": str(data_root(root))},
    )
