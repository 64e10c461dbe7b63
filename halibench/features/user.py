"""Feature sources for a researcher's own encoder.

An encoder may be a ``torch.nn.Module`` or any callable from images to features (or to a
dict of named levels), a fitted scikit-learn transformer, or an import string
``package.module:attribute`` naming one of those. Images arrive as float32 in [0, 1], shape
(N, C, H, W), on the encoder's device; a transformer sees the flattened images (N, C*H*W).

Modules run in eval mode under ``inference_mode`` and are left exactly as they were: every
submodule's train/eval flag is restored and no parameter or buffer changes. A callable that
wraps modules (``model.encode``, a closure, a partial, an object holding them) gets the same
for the modules it holds one step away (``features.modes``). Features must be a deterministic
function of each image: the probe refuses an encoder whose output for an image depends on the
rest of its batch or changes between calls, or whose call changes its own state. Every output
passes the contract of ``features.contract``. The feature cache keys an encoder by
``features.identity.object_identity``; an encoder without one is never cached.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from halibench.errors import HalibenchError
from halibench.features.contract import OutputContractError, check_size, conformed, where
from halibench.features.extract import Allocate, as_float_images, empty_features, iter_batches
from halibench.features.identity import object_identity
from halibench.features.levels import checked_levels
from halibench.features.modes import (
    evaluation_mode,
    modules_behind,
    modules_device,
    state_unchanged,
)
from halibench.features.provenance import LoadedCheckpoint, loaded_checkpoint
from halibench.features.sources import FeatureSource
from halibench.names import MAX_NAME_LENGTH, safe_name
from halibench.progress import progress

DEFAULT_LEVEL = "features"
PROBE_IMAGES = 3  # the shape probe's batch: odd, so that a transposed output shows
PROBE_SEED = 0
PROBE_PARTS = ((0, 2), (1, 3))  # the probe's images again in smaller batches (never one alone:
# batch statistics of one image fail where those of two do not)
PER_IMAGE_RTOL = 5e-2  # of the largest feature: above reduced-precision (TF32, bf16) noise
# The same batch twice: each feature may move by a part of its own spread over the probe's
# images plus a part of its own magnitude (float noise), so neither a large constant feature
# nor a large offset can hide a sampled one.
# A floor of 1e-5 of the level's largest spread keeps float noise (GPU atomics) in a
# sparse, tiny feature from counting as a sample.
REPEAT_SPREAD_TOL, REPEAT_MAGNITUDE_TOL, REPEAT_LEVEL_TOL = 1e-3, 1e-5, 1e-5


class UserCodeError(HalibenchError):
    """The user's encoder (or its module) raised; the message names it and the exception."""


@dataclass(frozen=True)
class Encoder:
    """A user's encoder object, the name its records and leaderboard rows carry, and, for an
    unchanged model from ``halibench.load``, the checkpoint it was loaded from."""

    name: str
    obj: Any
    loaded: LoadedCheckpoint | None = None


def as_encoder(obj: Any, name: str | None = None) -> Encoder:
    """``obj`` under ``name``; by default the checkpoint's name for an unchanged model from
    ``halibench.load``, else ``default_name``. The object is fingerprinted once, here."""
    loaded = loaded_checkpoint(obj)
    if name is None:
        name = loaded.name if loaded is not None else default_name(obj)
    return Encoder(name, obj, loaded)


def default_name(obj: Any) -> str:
    """A function's qualified name (``outer.inner`` for a nested one; its own name when
    that is too long for a file name), else the class name of the object; a lambda has
    none that tells it apart, so it must be named."""
    if callable(obj) and hasattr(obj, "__qualname__") and not isinstance(obj, type):
        name = obj.__qualname__.replace("<locals>.", "")
        if "<" in name:
            raise HalibenchError(f"{obj.__qualname__}: an anonymous function; pass name=... so "
                                 "its records can be told apart")
        return name if len(name) <= MAX_NAME_LENGTH else obj.__name__
    return type(obj).__name__


def import_object(spec: str) -> Any:
    """The object named by ``package.module:attribute`` (attributes may be dotted). The
    current folder is searched after the installed packages, never before them."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise HalibenchError(f"--model {spec!r}: an import string is 'package.module:attribute'")
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise HalibenchError(f"--model {spec!r}: {module_name!r} is not a module name; an import "
                             "string names a module, not a file path (run from the module's "
                             "folder with 'module:attribute', or put the folder on PYTHONPATH)")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name) and \
                module_name[len(e.name):len(e.name) + 1] in ("", "."):
            raise HalibenchError(f"--model {spec!r}: no module {module_name!r}; put its folder "
                                 "on PYTHONPATH or install it") from None
        raise UserCodeError(f"--model {spec!r}: {module_name!r} needs module {e.name!r}, "
                            f"which is not installed (pip install it)") from None
    except SyntaxError as e:
        raise UserCodeError(f"--model {spec!r}: {e.filename}:{e.lineno}: SyntaxError: "
                            f"{e.msg}") from None
    except SystemExit as e:  # the module parsed the command line or exited on import
        raise UserCodeError(f"--model {spec!r}: importing {module_name!r} exited (SystemExit: "
                            f"{e.code}); keep command-line code under "
                            "`if __name__ == \"__main__\":`") from None
    except Exception as e:  # the user's module ran and raised
        raise UserCodeError(f"--model {spec!r}: importing {module_name!r} raised "
                            f"{type(e).__name__}: {e}") from e
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise HalibenchError(f"--model {spec!r}: {module_name!r} has no attribute "
                                 f"{attribute!r}{shadowing_hint(obj, module_name)}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        raise HalibenchError(f"--model {spec!r}: {attribute!r} is a class; name an instance "
                             f"(e.g. `encoder = {obj.__name__}(...)` in the module)")
    return obj


def shadowing_hint(module: Any, module_name: str) -> str:
    """When an installed module of that name was imported while ``./<name>.py`` exists."""
    own = Path.cwd() / f"{module_name.replace('.', '/')}.py"
    found = getattr(module, "__file__", None)
    if own.is_file() and found and Path(found).resolve() != own.resolve():
        return (f"; the installed module {module_name!r} ({found}) was imported, not "
                f"{own}: rename your file")
    return ""


def is_transformer(obj: Any) -> bool:
    return hasattr(obj, "transform") and hasattr(obj, "fit") and not callable(obj)


def named_outputs(out: Any, source: str, start: int, stop: int) -> dict[str, Any]:
    """The encoder's output as {level name: value}; level names are safe names and distinct
    after conversion to text."""
    if isinstance(out, list | tuple):
        raise OutputContractError(f"{source}, rows {start}:{stop}: the encoder returned a "
                                  f"{type(out).__name__}; return one array (N, ...) or a "
                                  "dict of named levels")
    if not isinstance(out, dict):
        return {DEFAULT_LEVEL: out}
    named: dict[str, Any] = {}
    for key, value in out.items():
        level = safe_name(str(key), f"{source}: level name")
        if level in named:
            raise OutputContractError(f"{source}: two outputs are both named {level!r} as "
                                      "text; give the levels distinct names")
        named[level] = value
    if not named:
        raise OutputContractError(f"{source}, rows {start}:{stop}: the encoder returned an "
                                  "empty dict")
    return named


def call_encoder(encoder: Any, batch: torch.Tensor, source: str, start: int,
                 device: torch.device) -> dict[str, Any]:
    """The encoder's named outputs for one uint8 batch (rows ``start:``), given on
    ``device``; its own exception becomes one UserCodeError naming the source and the
    rows."""
    x = as_float_images(batch)
    stop = start + len(batch)
    try:
        if is_transformer(encoder):
            out: Any = encoder.transform(x.flatten(1).numpy())
        else:
            out = encoder(x.to(device))
    except (Exception, SystemExit) as e:  # the user's code: say whose call failed and on what
        raise UserCodeError(f"{source}: the encoder raised on rows {start}:{stop} (a float32 "
                            f"batch of shape {tuple(x.shape)}): {type(e).__name__}: {e}") from e
    return named_outputs(out, source, start, stop)


@dataclass
class UserSource(FeatureSource):
    """One level of a user's encoder; ``sibling_levels`` are computed in the same pass."""

    encoder: Any = None
    sibling_levels: tuple[str, ...] = ()
    batch_size: int = 256
    keyed_by_weights = True

    def transform_into(self, images: np.ndarray, allocate: Allocate = empty_features,
                       desc: str | None = None) -> dict[str, np.ndarray]:
        levels = list(dict.fromkeys([self.level, *self.sibling_levels]))
        out: dict[str, np.ndarray] = {}
        start = 0
        modules = modules_behind(self.encoder)  # found once, not per batch
        device = modules_device(modules)
        with evaluation_mode(modules), progress(
                len(images), desc, "img", show=desc is not None, leave=False) as bar:
            for batch in iter_batches(images, self.batch_size):
                stop = start + len(batch)
                named = call_encoder(self.encoder, batch, self.model, start, device)
                for lv in levels:
                    if lv not in named:
                        raise OutputContractError(f"{where(self.model, lv, start, stop)}: "
                                                  f"missing; this batch gave {list(named)}")
                    feats = conformed(named[lv], self.model, lv, start, stop)
                    if lv not in out:
                        check_size(self.model, lv, feats.shape[1], len(images))
                        out[lv] = allocate(lv, (len(images), feats.shape[1]))
                    elif feats.shape[1] != out[lv].shape[1]:
                        raise OutputContractError(
                            f"{where(self.model, lv, start, stop)}: {feats.shape[1]} features "
                            f"per image, earlier batches gave {out[lv].shape[1]}")
                    out[lv][start:stop] = feats
                start = stop
                bar.update(len(batch))
        return out

    def transform(self, images: np.ndarray) -> np.ndarray:
        return self.transform_into(images)[self.level]


def check_per_image(name: str, level: str, whole: np.ndarray,
                    parts: list[dict[str, Any]]) -> None:
    """Refuse a level whose features for the probe's images, computed again in smaller
    batches (``PROBE_PARTS``), differ from those of the whole batch: an image's features
    that depend on the rest of its batch (batch statistics) or change between calls (a
    sample) would make every number depend on the batch size and on chance."""
    scale = float(np.abs(whole).max()) or 1.0
    for (start, stop), named in zip(PROBE_PARTS, parts, strict=True):
        if level not in named:
            raise OutputContractError(f"{where(name, level, start, stop)}: missing; this batch "
                                      f"gave {list(named)}")
        part = conformed(named[level], name, level, start, stop)
        if part.shape != whole[start:stop].shape:
            raise OutputContractError(
                f"{where(name, level, start, stop)}: {part.shape[1]} features per image in a "
                f"batch of {stop - start}, {whole.shape[1]} in a batch of {len(whole)}")
        diff = float(np.abs(part - whole[start:stop]).max())
        if diff > PER_IMAGE_RTOL * scale:
            raise OutputContractError(
                f"{name}, level {level!r}: noise images {start}:{stop} get features differing "
                f"by up to {diff:.3g} (largest feature {scale:.3g}) in a batch of "
                f"{stop - start} and in one of {len(whole)}; an image's features must not "
                "depend on the rest of its batch or change between calls (use eval-mode "
                "statistics, e.g. BatchNorm's running ones, and return a mean, not a sample)")


def check_repeatable(name: str, level: str, whole: np.ndarray, again: np.ndarray) -> None:
    """Refuse a level whose features for the same images change between two calls."""
    if again.shape != whole.shape:
        raise OutputContractError(f"{name}, level {level!r}: the same noise images called twice "
                                  f"give {again.shape[1]} and {whole.shape[1]} features")
    spread = whole.max(axis=0) - whole.min(axis=0)
    magnitude = np.abs(whole).max(axis=0)
    allowed = (REPEAT_SPREAD_TOL * spread + REPEAT_MAGNITUDE_TOL * magnitude
               + REPEAT_LEVEL_TOL * float(spread.max(initial=0.0)))
    excess = np.abs(again - whole).max(axis=0) - allowed
    if excess.max() > 0:
        column = int(excess.argmax())
        diff = float(np.abs(again[:, column] - whole[:, column]).max())
        raise OutputContractError(
            f"{name}, level {level!r}: the same noise images called twice get feature {column} "
            f"differing by up to {diff:.3g} (its spread over the images {spread[column]:.3g}); "
            "features must not change between calls (return a mean, not a sample)")


def user_sources(encoder: Any, name: str, levels: list[str] | None,
                 image_shape: tuple[int, ...], rows: int = 0) -> list[UserSource]:
    """Feature sources of a user's encoder at ``levels`` (default: every level it returns),
    checked on a few seeded noise images of the benchmark's shape before anything is evaluated:
    the output contract, features that are the same on a second call
    (``check_repeatable``) and each image's alone (``check_per_image``), a call
    that leaves the encoder's state as it was, and that ``rows`` images' features fit the
    memory bound."""
    name = safe_name(name, "encoder name")
    if not (callable(encoder) or is_transformer(encoder)):
        raise HalibenchError(f"{name}: not an encoder (a torch module, a callable from images "
                             "to features, or a fitted scikit-learn transformer)")
    generator = torch.Generator().manual_seed(PROBE_SEED)
    noise = torch.randint(0, 256, (PROBE_IMAGES, *image_shape), dtype=torch.uint8,
                          generator=generator)
    modules = modules_behind(encoder)
    with evaluation_mode(modules), state_unchanged(modules, name):
        device = modules_device(modules)
        named = call_encoder(encoder, noise, name, 0, device)
        repeated = call_encoder(encoder, noise, name, 0, device)
        parts = [call_encoder(encoder, noise[a:b], name, a, device) for a, b in PROBE_PARTS]
    chosen = checked_levels(levels, list(named), name)
    for lv in chosen:
        whole = conformed(named[lv], name, lv, 0, PROBE_IMAGES)
        check_size(name, lv, whole.shape[1], rows)
        if lv not in repeated:
            raise OutputContractError(f"{name}, level {lv!r}: missing from a second call on the "
                                      f"same images, which gave {list(repeated)}")
        check_repeatable(name, lv, whole, conformed(repeated[lv], name, lv, 0, PROBE_IMAGES))
        check_per_image(name, lv, whole, parts)
    identity = object_identity(encoder)
    return [UserSource(name, lv, checkpoint_sha256=identity, representation="user",
                       encoder=encoder, sibling_levels=tuple(chosen)) for lv in chosen]
