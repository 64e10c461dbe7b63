"""Feature extraction per level (the contract itself lives on the model).

Levels of a model with L latent levels:

- ``z1`` .. ``zL``: the latent at each level (the chain of encoder means by default, or a
  sampled chain on request);
- ``concat``: all levels side by side;
- ``hidden``: ALI's SVM features: the mean of z1 followed by the post-activation outputs of
  the last three hidden x-encoder layers, flattened (5376 dims for the 32 px family);
- ``classifier`` (semi-supervised models only): the K class logits of the model's own
  classifier, its discriminator on (x, z1..zL) (needs the full checkpoint).

Extraction always runs in eval mode under ``torch.inference_mode()`` and in batches; the
result does not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from halibench.data.mapped import release
from halibench.features.contract import OutputContractError, conformed
from halibench.features.levels import checked_levels
from halibench.features.modes import evaluation_mode
from halibench.models.hierarchical import HIDDEN_LAYERS, HierarchicalALI
from halibench.progress import progress

Allocate = Callable[[str, tuple[int, int]], np.ndarray]


def as_float_images(batch: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [0, 1]; float input as float32. Always a new
    tensor: an encoder that writes into its input cannot change the caller's images."""
    if batch.dtype == torch.uint8:
        return batch.float().div_(255.0)
    return batch.to(torch.float32, copy=True)


def _batch_features(model: HierarchicalALI, x: torch.Tensor, levels: list[str], sample: bool
                    ) -> dict[str, torch.Tensor]:
    latents, hidden = model.encoder(x, sample=sample)  # one pass feeds every level
    by_name = {f"z{i + 1}": z for i, z in enumerate(latents)}
    out = {}
    for lv in levels:
        if lv == "concat":
            out[lv] = torch.cat(latents, dim=1)
        elif lv == "hidden":  # the mean of z1: the chain's first latent unless sampled
            mu = model.encode_hidden(x)[0] if sample else latents[0]
            out[lv] = torch.cat([mu] + [h.flatten(1) for h in hidden[-HIDDEN_LAYERS:]], dim=1)
        elif lv == "classifier":
            out[lv] = model.classify(x, latents)
        else:
            out[lv] = by_name[lv]
    return out


def iter_batches(images: torch.Tensor | np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
    """Batches as tensors; NumPy (memory-mapped) rows are copied into memory per batch and
    their mapped pages released, so a streamed pass does not stay resident."""
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        if isinstance(batch, torch.Tensor):
            yield batch
            continue
        copy = np.array(batch)
        release(batch)
        yield torch.from_numpy(copy)


def empty_features(level: str, shape: tuple[int, int]) -> np.ndarray:
    """The default allocator: a float32 array in memory."""
    return np.empty(shape, dtype=np.float32)


def extract_features(model: HierarchicalALI, images: torch.Tensor | np.ndarray,
                     levels: Sequence[str] = ("z1",), *, sample: bool = False,
                     batch_size: int = 256, device: str | torch.device = "cpu",
                     seed: int = 0, allocate: Allocate = empty_features,
                     desc: str | None = None, name: str = "model") -> dict[str, np.ndarray]:
    """Features of ``images`` (N, C, H, W; uint8 or float in [0, 1]) for each level.

    Returns float32 arrays of shape (N, dim), made by ``allocate(level, shape)`` (memory by
    default; a memory-mapped file streams them to disk). ``sample=True`` draws the
    stochastic chain with ``seed``; the mean is the default. ``desc`` shows a progress bar.
    Every batch passes the output contract (``name`` labels its errors). Every submodule's
    train/eval flag is restored afterwards.
    """
    levels = checked_levels(levels, model.feature_levels, "model", default=())
    dims = {d["name"]: d["dim"] for d in model.feature_info}
    out = {lv: allocate(lv, (len(images), dims[lv])) for lv in levels}
    dtype = next(model.parameters()).dtype  # a model cast with .double() reads float64
    bar = progress(len(images), desc, "img", show=desc is not None, leave=False)
    with bar, evaluation_mode([model]), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        start = 0
        for batch in iter_batches(images, batch_size):
            x = as_float_images(batch).to(device, dtype)
            stop = start + len(batch)
            for lv, f in _batch_features(model, x, levels, sample).items():
                array = conformed(f, name, lv, start, stop)
                if array.shape[1] != dims[lv]:
                    raise OutputContractError(f"{name}, level {lv!r}: {array.shape[1]} "
                                              f"dims, feature_info says {dims[lv]}")
                out[lv][start:stop] = array
            start = stop
            bar.update(len(batch))
    return out
