"""Feature sources for a researcher's own encoder.

An encoder may be a ``torch.nn.Module`` or any callable from images to features (or to a
dict of named levels), a fitted scikit-learn transformer, or an import string
``package.module:attribute`` naming one of those. Images arrive as float32 in [0, 1], shape
(N, C, H, W), on the encoder's device; modules run in eval mode under ``inference_mode``;
a transformer sees the flattened images (N, C*H*W).

The feature cache keys a module by the sha256 of its weights (and a transformer by its
fitted arrays), so changed weights never reuse old features; a callable without weights has
no version and is never cached.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from halibench.errors import HalibenchError
from halibench.features.extract import Allocate, as_float_images, empty_features, iter_batches
from halibench.features.levels import checked_levels
from halibench.features.sources import FeatureSource

DEFAULT_LEVEL = "features"


@dataclass(frozen=True)
class Encoder:
    """A user's encoder object and the name its records and leaderboard rows carry."""

    name: str
    obj: Any


def import_object(spec: str) -> Any:
    """The object named by ``package.module:attribute`` (attributes may be dotted)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise HalibenchError(f"--model {spec!r}: an import string is 'package.module:attribute'")
    if os.getcwd() not in sys.path:  # as ASGI servers do: modules beside the user resolve
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise HalibenchError(f"--model {spec!r}: cannot import {module_name!r} ({e}); put its "
                             "folder on PYTHONPATH or install it") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise HalibenchError(f"--model {spec!r}: {module_name!r} has no attribute "
                                 f"{attribute!r}")
        obj = getattr(obj, part)
    return obj


def is_transformer(obj: Any) -> bool:
    return hasattr(obj, "transform") and hasattr(obj, "fit") and not callable(obj)


def weights_sha256(encoder: Any) -> str | None:
    """sha256 over a module's tensors (names, dtypes, shapes, bytes) or a fitted
    transformer's learned arrays; None when the encoder has no weights to version it."""
    if isinstance(encoder, torch.nn.Module):
        tensors = sorted(encoder.state_dict().items())
    elif is_transformer(encoder):
        tensors = sorted((k, torch.as_tensor(np.asarray(v))) for k, v in vars(encoder).items()
                         if k.endswith("_") and isinstance(v, np.ndarray))
    else:
        return None
    if not tensors:
        return None
    h = hashlib.sha256(type(encoder).__qualname__.encode())
    for name, tensor in tensors:
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def encoder_device(encoder: Any) -> torch.device:
    if isinstance(encoder, torch.nn.Module):
        for tensor in (*encoder.parameters(), *encoder.buffers()):
            return tensor.device
    return torch.device("cpu")


def run_encoder(encoder: Any, batch: torch.Tensor) -> dict[str, np.ndarray]:
    """Named (n, d) float32 features of one uint8 batch."""
    x = as_float_images(batch)
    if is_transformer(encoder):
        out: Any = encoder.transform(x.flatten(1).numpy())
    else:
        with torch.inference_mode():
            out = encoder(x.to(encoder_device(encoder)))
    named = out if isinstance(out, dict) else {DEFAULT_LEVEL: out}
    result = {}
    for name, value in named.items():
        value = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        result[str(name)] = np.asarray(value, dtype=np.float32).reshape(len(batch), -1)
    return result


@dataclass
class UserSource(FeatureSource):
    """One level of a user's encoder; ``sibling_levels`` are computed in the same pass."""

    encoder: Any = None
    sibling_levels: tuple[str, ...] = ()
    batch_size: int = 256

    def __post_init__(self) -> None:
        self.cacheable = self.checkpoint_sha256 is not None

    def transform_into(self, images: np.ndarray, allocate: Allocate = empty_features,
                       desc: str | None = None) -> dict[str, np.ndarray]:
        levels = list(dict.fromkeys([self.level, *self.sibling_levels]))
        out: dict[str, np.ndarray] = {}
        was_training = getattr(self.encoder, "training", False)
        if isinstance(self.encoder, torch.nn.Module):
            self.encoder.eval()
        start = 0
        try:
            with tqdm(total=len(images), desc=desc, unit="img", leave=False,
                      disable=desc is None) as bar:
                for batch in iter_batches(images, self.batch_size):
                    feats = run_encoder(self.encoder, batch)
                    for lv in levels:
                        if lv not in out:
                            out[lv] = allocate(lv, (len(images), feats[lv].shape[1]))
                        out[lv][start:start + len(batch)] = feats[lv]
                    start += len(batch)
                    bar.update(len(batch))
        finally:
            if isinstance(self.encoder, torch.nn.Module):
                self.encoder.train(was_training)
        return out

    def transform(self, images: np.ndarray) -> np.ndarray:
        return self.transform_into(images)[self.level]


def user_sources(encoder: Any, name: str, levels: list[str] | None,
                 image_shape: tuple[int, ...]) -> list[UserSource]:
    """Feature sources of a user's encoder at ``levels`` (default: every level it returns),
    checked on two blank images of the benchmark's shape before anything is evaluated."""
    if not (callable(encoder) or is_transformer(encoder)):
        raise HalibenchError(f"{name}: not an encoder (a torch module, a callable from images "
                             "to features, or a fitted scikit-learn transformer)")
    try:
        valid = list(run_encoder(encoder, torch.zeros(2, *image_shape, dtype=torch.uint8)))
    except Exception as e:  # the user's code: say whose call failed and on what
        shape = (2, *image_shape)
        raise HalibenchError(f"{name}: calling the encoder on a float32 batch of shape "
                             f"{shape} failed ({type(e).__name__}: {e})") from None
    chosen = checked_levels(levels, valid, name)
    sha = weights_sha256(encoder)
    return [UserSource(name, lv, checkpoint_sha256=sha, representation="user",
                       encoder=encoder, sibling_levels=tuple(chosen)) for lv in chosen]
