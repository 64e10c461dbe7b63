"""What a resumed training run may and may not change.

A resumed run continues the stored run: its kind, architecture, data and hyper-parameters
are the stored ones. An option given on the command line that disagrees with them is
refused with a line naming it; only where and how long to run may change, when to score and
stop, and a learning-rate decay that no step already taken would have felt.
"""

from __future__ import annotations

from typing import Any

from halibench.errors import HalibenchError
from halibench.jsonable import option_fields
from halibench.models.config import ModelConfig
from halibench.training.config import TrainConfig

MAY_CHANGE = {"steps", "out", "resume", "device", "threads", "data_root"}
# when to score and stop, not what is learned: a resume may add or change them
STOPPING = ("validation", "validate_every", "patience")
# the rates' schedule: a resume may change it where every step already taken keeps its rate
SCHEDULE = ("lr_decay",)


def _range(value: str) -> list[int]:
    return [int(v) for v in value.split(":")]


def stored_values(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored run's value of every ``halibench train`` option, as the CLI spells it:
    the config fields that are options (a field an older run lacks reads as its default),
    and the options that are spelled differently from their fields."""
    model, training = stored.get("model", {}), stored.get("training", {})
    values = {f.name: source.get(f.name, f.default)
              for owner, source in ((TrainConfig, training), (ModelConfig, model))
              for f in option_fields(owner)}
    return values | {
        "kind": model.get("kind"), "split_name": stored.get("data", {}).get("split", "train"),
        "train_range": list(training.get("train_range", [])),
        "health_range": list(training.get("health_range", [])),
        "levels": len(model.get("z_dims", [])), "z_dims": list(model.get("z_dims", [])),
        "family": model.get("family"), "decoder_head": model.get("decoder_head", "conv1x1"),
        "beta1": (training.get("betas") or [None])[0],
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
        if name in MAY_CHANGE or name in STOPPING or name in SCHEDULE or name not in values:
            continue
        if as_stored(name, value) != values[name]:
            flag = "KIND" if name == "kind" else "--" + name.replace("_", "-").replace(
                "split-name", "split")
            raise HalibenchError(f"{where}: --resume continues a run with {flag} "
                                 f"{values[name]!r}, but {value!r} was given; drop the option "
                                 "or start a new run in another --out folder")


def past_rates_differ(stored: dict[str, Any], steps: int, lr_decay: int) -> bool:
    """Whether a step the stored run has taken ran at another learning rate than a run of
    ``steps`` with ``lr_decay`` would give it (then the resumed run is no run that had its
    schedule from the start)."""
    training = stored["training"]
    old = TrainConfig(steps=int(training["steps"]), lr_decay=int(training.get("lr_decay", 0)))
    new = TrainConfig(steps=steps, lr_decay=lr_decay)
    return any(old.lr_factor(s) != new.lr_factor(s) for s in range(int(stored["step"])))


def check_decay_change(stored: dict[str, Any], steps: int, lr_decay: int, where: str) -> None:
    """Raise HalibenchError when ``--lr-decay`` over the last of ``steps`` would have given
    a step already taken another rate: a resume may start a decay, or keep the stored one."""
    if not past_rates_differ(stored, steps, lr_decay):
        return
    step, training = int(stored["step"]), stored["training"]
    total, old = int(training["steps"]), int(training.get("lr_decay", 0))
    if old and total - old < step:
        raise HalibenchError(f"{where}: --lr-decay: the stored decay (the last {old} of "
                             f"{total} steps) began before the checkpoint's step {step}; a "
                             f"resume may only keep it: give --steps {total} --lr-decay {old}, "
                             "or drop --lr-decay")
    raise HalibenchError(f"{where}: --lr-decay {lr_decay} over the last of --steps {steps} "
                         f"would have lowered the rates of steps already taken (it begins at "
                         f"step {steps - lr_decay}, the checkpoint is at step {step}); give "
                         f"--lr-decay {steps - step + 1} or less")
