"""Which checkpoint a model from ``halibench.load`` came from, while it still is that model.

``load`` remembers each model it returns with the checkpoint's name and weights' sha256 and
the model's identity at that moment (``features.identity``). ``evaluate`` records such an
object under the checkpoint's name and sha256, as it records ``evaluate("name")``, only
while its identity is unchanged: a model whose weights, buffers or settings changed since
(fine-tuned, cast to another dtype) is the user's own object again, recorded under its own
name and object hash. A copy of a loaded model (``copy.deepcopy``) is not remembered.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import torch

from halibench.features.identity import object_identity
from halibench.models import HierarchicalALI
from halibench.models.checkpoints import MODEL_FILE, load_named


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint's display name, its weights' sha256, the model's identity at load, and
    what it was loaded from (a shipped name or a folder)."""

    name: str
    sha256: str
    identity: str
    source: str


LOADED: weakref.WeakKeyDictionary[torch.nn.Module, LoadedCheckpoint] = (
    weakref.WeakKeyDictionary())


def load_remembered(name_or_path: str | Path) -> HierarchicalALI:
    """A model from a checkpoint folder, a run folder, or a shipped checkpoint's name (its
    packaged encoder when the full checkpoint is not at hand), remembered with it."""
    model, config, name = load_named(name_or_path)
    identity = object_identity(model)
    if identity is not None:
        LOADED[model] = LoadedCheckpoint(name, config["sha256"][MODEL_FILE], identity,
                                         str(name_or_path))
    return model


def loaded_checkpoint(obj: object) -> LoadedCheckpoint | None:
    """The checkpoint ``obj`` was loaded from, if it is unchanged since; else None."""
    entry = LOADED.get(obj) if isinstance(obj, torch.nn.Module) else None
    return entry if entry is not None and object_identity(obj) == entry.identity else None
