"""What a resumed training run may and may not change.

A resumed run continues the stored run: its kind, architecture, data and hyper-parameters
are the stored ones. An option given on the command line that disagrees with them is
refused with a line naming it; only where and how long to run may change.
"""

from __future__ import annotations

from typing import Any

from halibench.errors import HalibenchError

MAY_CHANGE = {"steps", "out", "resume", "device", "threads", "data_root"}


def _range(value: str) -> list[int]:
    return [int(v) for v in value.split(":")]


def stored_values(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored run's value of every ``halibench train`` option, as the CLI spells it."""
    model, training = stored.get("model", {}), stored.get("training", {})
    data = stored.get("data", {})
    return {
        "kind": model.get("kind"), "dataset": training.get("dataset"),
        "split_name": data.get("split", "train"),
        "train_range": list(training.get("train_range", [])),
        "health_range": list(training.get("health_range", [])),
        "levels": len(model.get("z_dims", [])), "z_dims": list(model.get("z_dims", [])),
        "discriminator": model.get("discriminator"), "prior": model.get("prior"),
        "width": model.get("width"), "spectral_norm": model.get("spectral_norm"),
        "init_std": model.get("init_std"), "family": model.get("family"),
        "dropout": model.get("dropout"), "hidden_dim": model.get("hidden_dim"),
        "decoder_head": model.get("decoder_head", "conv1x1"), "lr": training.get("lr"),
        "lr_d": training.get("lr_d"), "beta1": (training.get("betas") or [None])[0],
        "seed": training.get("seed"), "batch_size": training.get("batch_size"),
        "checkpoint_every": training.get("checkpoint_every"),
        "health_every": training.get("health_every"),
        "instance_noise": training.get("instance_noise"),
        "instance_noise_steps": training.get("instance_noise_steps"),
        "cycle_weight": training.get("cycle_weight"),
        "cycle_reduction": training.get("cycle_reduction", "sum"),
        "label_smoothing": training.get("label_smoothing", 0.0),
        "r1_weight": training.get("r1_weight", 0.0),
        "autocast": training.get("autocast", "none"),
    }


def as_stored(name: str, value: Any) -> Any:
    if name in ("train_range", "health_range"):
        return _range(value)
    if name == "z_dims":
        return [int(v) for v in value.split(",")]
    return value


def check_resume(given: dict[str, Any], stored: dict[str, Any], where: str) -> None:
    """Raise HalibenchError for the first option in ``given`` (explicit command-line values)
    that differs from the stored run in ``where``."""
    values = stored_values(stored)
    for name, value in given.items():
        if name in MAY_CHANGE or name not in values:
            continue
        if as_stored(name, value) != values[name]:
            flag = "KIND" if name == "kind" else "--" + name.replace("_", "-").replace(
                "split-name", "split")
            raise HalibenchError(f"{where}: --resume continues a run with {flag} "
                                 f"{values[name]!r}, but {value!r} was given; drop the option "
                                 "or start a new run in another --out folder")
