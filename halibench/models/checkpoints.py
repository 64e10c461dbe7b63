"""Checkpoints: a folder of safetensors and JSON. No pickle is written or read.

Layout of a checkpoint folder::

    model.safetensors          weights and buffers of the whole model
    config.json                format, model config, training config, data, seed, step,
                               versions, sha256 of model.safetensors
    training_state.safetensors optimizer tensors (training checkpoints only), and the raw
                               weights when model.safetensors holds their average
    training_state.json        optimizer hyper-parameters and scalar state

A training run folder holds ``step-NNNNNNNN/`` checkpoints and a ``latest`` file naming the
newest; ``load`` accepts a checkpoint folder, a run folder, or a name in
the index (``halibench.models.hub``), whose sha256 of the weights is verified.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from halibench.environment import environment
from halibench.errors import CheckpointError
from halibench.io import atomic_dir, sha256_file, write_text_atomic
from halibench.models import HierarchicalALI, ModelConfig, build_model
from halibench.models.hub import fetch, local_copy, read_index

FORMAT = "halibench-checkpoint/1"
MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "training_state.safetensors"
STATE_META_FILE = "training_state.json"
LATEST_FILE = "latest"
BEST_FILE = "best"
TRAINING_WEIGHTS = "training_weights."  # prefix of the raw weights in STATE_FILE


def optimizer_to_safetensors(opt: torch.optim.Optimizer, prefix: str
                             ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state dict into tensors and JSON-able metadata."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{pid}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    keys = {str(pid): sorted(state) for pid, state in sd["state"].items()}
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars, "keys": keys}


def optimizer_from_safetensors(opt: torch.optim.Optimizer, prefix: str,
                               tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for pid, keys in meta["keys"].items():
        entry = {}
        for key in keys:
            name = f"{prefix}.{pid}.{key}"
            entry[key] = tensors[name] if name in tensors else meta["scalars"][pid][key]
        state[int(pid)] = entry
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(folder: str | Path, model: HierarchicalALI, meta: dict[str, Any],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None,
                    training_weights: torch.nn.Module | None = None) -> Path:
    """Write a checkpoint folder atomically; ``meta`` goes into config.json beside the model
    config. With ``optimizers``, the training state (optimizers and RNG) is saved too, and
    with it ``training_weights``: the weights training continues from, when ``model`` holds
    others (an average of them)."""
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        save_file(cpu_state(model), str(tmp / MODEL_FILE))
        if optimizers is not None:
            tensors: dict[str, torch.Tensor] = {}
            opt_meta = {}
            for name, opt in optimizers.items():
                t, m = optimizer_to_safetensors(opt, f"optim.{name}")
                tensors.update(t)
                opt_meta[name] = m
            if training_weights is not None:
                tensors.update({TRAINING_WEIGHTS + k: v
                                for k, v in cpu_state(training_weights).items()})
            save_file(tensors, str(tmp / STATE_FILE))
            (tmp / STATE_META_FILE).write_text(json.dumps({"optimizers": opt_meta}, indent=2))
        config = {
            "format": FORMAT,
            "model": model.config.to_dict(),
            **meta,
            "environment": environment(),
            "sha256": {MODEL_FILE: sha256_file(tmp / MODEL_FILE)},
        }
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; a checkpoint folder needs {CONFIG_FILE} and "
                              f"{MODEL_FILE}")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); "
                              "restore the file or retrain") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: holds a JSON {type(config).__name__}, expected an "
                              "object; restore the file or retrain")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {config.get('format')!r}, expected {FORMAT!r}")
    recorded = config.get("sha256")
    if not (isinstance(recorded, dict) and SHA256_HEX.fullmatch(str(recorded.get(MODEL_FILE)))):
        raise CheckpointError(f"{path}: 'sha256' must map {MODEL_FILE} to 64 hex digits, got "
                              f"{recorded!r}; restore the file or retrain")
    return config


def resolve_folder(path: Path, marker: str = LATEST_FILE) -> Path:
    """A checkpoint folder itself, or a run folder's checkpoint named by ``marker`` (the
    newest, or ``best`` on validation)."""
    name = marked(path, marker)
    return path / name if name else path


def load_weights(model: torch.nn.Module, weights_path: Path) -> None:
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path}: missing; the checkpoint is incomplete")
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_path}: unreadable safetensors file ({e}); "
                              "re-download or retrain the checkpoint") from None
    load_checked(model, weights, str(weights_path))


def load_checked(model: torch.nn.Module, weights: dict[str, torch.Tensor], source: str,
                 prefix: str = "") -> None:
    """Load ``weights`` into ``model`` after checking that names and shapes match; the
    names were stored under ``prefix`` in ``source`` (errors name them as stored)."""
    expected = model.state_dict()
    missing = sorted(prefix + k for k in set(expected) - set(weights))
    unexpected = sorted(prefix + k for k in set(weights) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{source}: tensors do not match the model config "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(f"{source}: tensor {prefix}{name} has shape "
                                  f"{tuple(tensor.shape)}, the config implies "
                                  f"{tuple(expected[name].shape)}")
    model.load_state_dict(weights)


def verified_config(folder: Path, expected_sha256: str | None = None) -> dict[str, Any]:
    """config.json of a checkpoint folder, after checking model.safetensors against the hash
    recorded there (and against ``expected_sha256`` when given)."""
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    config = read_config(folder)
    weights_path = folder / MODEL_FILE
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path}: missing; the checkpoint is incomplete")
    actual = sha256_file(weights_path)
    for want in (expected_sha256, config.get("sha256", {}).get(MODEL_FILE)):
        if want and actual != want:
            raise CheckpointError(f"{weights_path}: sha256 {actual[:12]}… does not match "
                                  f"the recorded {want[:12]}…; the file is corrupted or "
                                  "was replaced: re-download or retrain it")
    return config


def model_config_of(folder: Path, config: dict[str, Any]) -> ModelConfig:
    try:
        return ModelConfig.from_dict(config["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / CONFIG_FILE}: invalid model config ({e})") from None


def trained_labels_of(config: dict[str, Any]) -> dict[str, Any] | None:
    """The labelled draw a checkpoint trained with, and what its unlabelled images did
    ("adversarial", or "none" for the supervised-only baseline); None without labels."""
    labels = config.get("labels")
    if not labels:
        return None
    return {**labels, "unlabelled": (config.get("training") or {}).get("unlabelled",
                                                                       "adversarial")}


def load_checkpoint(path: str | Path, expected_sha256: str | None = None
                    ) -> tuple[HierarchicalALI, dict[str, Any]]:
    """Model and config.json of a checkpoint or run folder (its step marked ``best`` on
    validation, else its newest, as ``export`` chooses); the weights' hash is checked."""
    path = Path(path)
    folder = resolve_folder(path, BEST_FILE if marked(path, BEST_FILE) else LATEST_FILE)
    config = verified_config(folder, expected_sha256)
    model = build_model(model_config_of(folder, config))
    load_weights(model, folder / MODEL_FILE)
    model.trained_labels = trained_labels_of(config)
    model.eval()
    return model, config


def load_training_state(folder: Path, optimizers: dict[str, torch.optim.Optimizer],
                        training_weights: torch.nn.Module | None = None) -> None:
    """Restore optimizer state saved by ``save_checkpoint``, and the weights training
    continues from into ``training_weights`` when given."""
    try:
        tensors = load_file(str(folder / STATE_FILE))
        meta = json.loads((folder / STATE_META_FILE).read_text())
    except (OSError, SafetensorError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{folder}: training state unreadable ({e}); cannot resume "
                              "from this checkpoint") from None
    try:
        for name, opt in optimizers.items():
            optimizer_from_safetensors(opt, f"optim.{name}", tensors, meta["optimizers"][name])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as e:
        raise CheckpointError(f"{folder / STATE_META_FILE}: optimizer state damaged or of "
                              f"another configuration ({type(e).__name__}: {e}); resume from "
                              "another step of the run or start a new --out") from None
    if training_weights is not None:
        raw = {k[len(TRAINING_WEIGHTS):]: v for k, v in tensors.items()
               if k.startswith(TRAINING_WEIGHTS)}
        if not raw:
            raise CheckpointError(f"{folder / STATE_FILE}: no training weights beside the "
                                  "averaged ones; resume from another step of the run or "
                                  "start a new --out")
        load_checked(training_weights, raw, str(folder / STATE_FILE), TRAINING_WEIGHTS)


def is_training_output(path: Path) -> bool:
    """Whether ``path`` is a training run's folder or one of its steps (an exported
    checkpoint holds neither a ``latest`` marker nor an optimizer state)."""
    return path.is_dir() and ((path / LATEST_FILE).is_file() or (path / STATE_FILE).is_file())


def mark_latest(run_dir: Path, folder: Path, keep: int) -> None:
    """Point ``run_dir/latest`` at ``folder`` and delete all but the newest ``keep`` steps
    (the step marked ``best`` is always kept)."""
    write_text_atomic(run_dir / LATEST_FILE, folder.name + "\n")
    best = marked(run_dir, BEST_FILE)
    steps = sorted(p for p in run_dir.glob("step-*") if p.is_dir() and p.name != best)
    for old in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


def mark_best(run_dir: Path, folder: Path) -> None:
    """Point ``run_dir/best`` at ``folder``: the step with the best validation score."""
    write_text_atomic(run_dir / BEST_FILE, folder.name + "\n")


def marked(run_dir: Path, marker: str) -> str | None:
    """The step folder's name a marker file (``latest``, ``best``) points at, if any; a
    marker that names anything but a ``step-NNNNNNNN`` folder of this run is refused."""
    path = run_dir / marker
    if not path.is_file():
        return None
    name = path.read_bytes().decode("utf-8", errors="replace").strip()
    if not re.fullmatch(r"step-[0-9]{8,}", name) or (run_dir / name).is_symlink():
        raise CheckpointError(f"{path}: points at {name[:80]!r}, not a step folder of this run "
                              "(step-NNNNNNNN); write the newest step's name into it, or "
                              "delete it")
    return name


def load_named(name_or_path: str | Path, decoders: bool = False
               ) -> tuple[HierarchicalALI, dict[str, Any], str]:
    """(model, config.json, display name) of a shipped checkpoint's name, or of a checkpoint
    or run folder. A shipped name with no local copy loads its packaged encoder-only weights
    unless ``decoders`` are needed; otherwise it is downloaded (``$HALIBENCH_CHECKPOINT_URL``)
    or named in one line with where it was looked for."""
    from halibench.models.encoders import has_encoder, load_encoder

    index = read_index()
    key = str(name_or_path)
    if key in index:
        entry = index[key]
        folder = local_copy(entry)
        if folder is None and not decoders and has_encoder(key, entry):
            return (*load_encoder(key, entry), key)
        model, config = load_checkpoint(folder or fetch(key, entry), entry["sha256"])
        return model, config, key
    path = Path(key)
    if path.exists():
        model, config = load_checkpoint(path)
        return model, config, Path(os.path.abspath(path)).name  # ".": the folder's name
    raise CheckpointError(f"{name_or_path}: neither a checkpoint folder nor a shipped "
                          f"checkpoint; known names: {sorted(index) or 'none yet'}")

