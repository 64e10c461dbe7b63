"""Encoder-only weights: what feature extraction needs, small enough to ship as package data
so that shipped encoders work from ``pip install`` with no checkout and no download.

Beside an index (``halibench/shipped/checkpoints.json``, or ``$HALIBENCH_CHECKPOINTS/
index.json``) lies ``encoders/<name>.safetensors`` (the ``generators.encoder.*`` tensors of
the checkpoint, float32, bit-identical) and ``encoders/<name>.json`` (its config.json); the
index entry's ``encoder_sha256`` verifies the tensors. A model loaded this way gives the same
features as the full checkpoint; decoding (reconstructions, samples) names the full
checkpoint it needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from halibench.errors import CheckpointError
from halibench.io import atomic_path, sha256_file, write_text_atomic
from halibench.models import HierarchicalALI, build_model
from halibench.models.checkpoints import (
    CONFIG_FILE,
    MODEL_FILE,
    model_config_of,
    trained_labels_of,
)
from halibench.models.hub import FOLDER_ENV, URL_ENV, index_path, local_folders

PREFIX = "generators.encoder."


def encoders_dir(index: Path | None = None) -> Path:
    """The encoder-only files beside ``index`` (default: the index in use)."""
    return (index or index_path()).parent / "encoders"


def write_encoder(checkpoint: Path, name: str, index: Path) -> str:
    """Write the encoder-only files of checkpoint folder ``checkpoint`` as ``name`` beside
    ``index``; returns the sha256 of the tensors file."""
    tensors = {k: v for k, v in load_file(str(checkpoint / MODEL_FILE)).items()
               if k.startswith(PREFIX)}
    folder = encoders_dir(index)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / f"{name}.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_text_atomic(folder / f"{name}.json", (checkpoint / CONFIG_FILE).read_text())
    return sha256_file(folder / f"{name}.safetensors")


def has_encoder(name: str, entry: dict[str, Any]) -> bool:
    return bool(entry.get("encoder_sha256")) and (
        encoders_dir() / f"{name}.safetensors").is_file()


def load_encoder(name: str, entry: dict[str, Any]) -> tuple[HierarchicalALI, dict[str, Any]]:
    """The model of shipped ``name`` with its encoder weights (verified) and its config;
    the decoder and discriminator are not loaded and refuse to run."""
    weights = encoders_dir() / f"{name}.safetensors"
    config_path = encoders_dir() / f"{name}.json"
    actual = sha256_file(weights)
    if actual != entry["encoder_sha256"]:
        raise CheckpointError(f"{weights}: sha256 {actual[:12]}… does not match the index "
                              f"({entry['encoder_sha256'][:12]}…); reinstall halibench")
    try:
        config = json.loads(config_path.read_text())
        tensors = load_file(str(weights))
    except (OSError, json.JSONDecodeError, SafetensorError) as e:
        raise CheckpointError(f"{config_path.parent}/{name}.*: unreadable ({e}); reinstall "
                              "halibench") from None
    if config.get("sha256", {}).get(MODEL_FILE) != entry["sha256"]:
        raise CheckpointError(f"{config_path}: not the config of the indexed {name}; "
                              "reinstall halibench")
    model = build_model(model_config_of(config_path.parent, config))
    expected = {k: v for k, v in model.state_dict().items() if k.startswith(PREFIX)}
    if set(tensors) != set(expected) or any(
            tensors[k].shape != expected[k].shape for k in expected):
        raise CheckpointError(f"{weights}: tensors do not match {name}'s encoder")
    model.load_state_dict(tensors, strict=False)
    model.trained_labels = trained_labels_of(config)
    model.encoder_only = (
        f"{name}: only its encoder is installed (package data); reconstructions, samples and "
        f"its own classifier "
        f"need the full checkpoint: set {FOLDER_ENV} to a folder holding {name}/, or "
        f"{URL_ENV} to an address to download it from (looked in "
        f"{[str(p) for p in local_folders()]})")
    return model.eval(), config
