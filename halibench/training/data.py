"""Training data from the dataset registry: images to learn from, a labelled health slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from halibench.data import data_root, load
from halibench.training.config import TrainConfig
from halibench.training.labels import label_protocol, labelled_draw
from halibench.training.trainer import TrainingData
from halibench.training.validation import check_held_out, validation_protocol


def training_data(dataset: str, root: str | Path | None, train_range: tuple[int, int],
                  health_range: tuple[int, int], split_name: str = "train",
                  config: TrainConfig | None = None) -> TrainingData:
    """Rows of one split (``train`` by default); labels are read for the health slice's 1-NN
    probe (class labels only) and, when ``config`` is semi-supervised, for its labelled
    draw."""
    if config is not None and config.validation:  # labelled rows lie in the train range
        check_held_out(validation_protocol(config.validation, dataset), split_name,
                       train_range)
    split = load(dataset, split_name, root)
    labelled = None
    if config is not None and config.semi_supervised:
        labelled = labelled_draw(label_protocol(config.label_protocol, dataset), split,
                                 split_name, train_range, config.labels_per_class,
                                 config.label_draw)
    learn = split.take(*train_range)
    held_out = split.take(*health_range)
    labels = torch.from_numpy(np.asarray(held_out.labels)) if held_out.labels.ndim == 1 else None
    return TrainingData(
        images=torch.from_numpy(np.array(learn.images)),
        health_images=torch.from_numpy(np.array(held_out.images)),
        health_labels=labels,
        labelled=labelled,
        description={"dataset": dataset, "split": split_name, "train_range": list(train_range),
                     "health_range": list(health_range), "data_root": str(data_root(root))},
    )
