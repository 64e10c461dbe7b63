"""The one output contract of every feature source (a model's level, a baseline, a user's
encoder): per level, a numeric array with one row per image, flattened to (N, d) float32,
finite, and small enough to hold. A violation is one line naming the source, the level, the
rows of the batch and what was wrong, raised before anything is written."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch

from halibench.errors import HalibenchError

MAX_FEATURE_GB_ENV = "HALIBENCH_MAX_FEATURE_GB"


class OutputContractError(HalibenchError, ValueError):
    """A feature source's output that breaks the contract."""


def where(source: str, level: str, start: int, stop: int) -> str:
    return f"{source}, level {level!r}, rows {start}:{stop}"


def as_array(value: Any) -> np.ndarray:
    """``value`` as a NumPy array of its own dtype (bfloat16, which NumPy lacks, as float32),
    so that the checks see what the encoder returned: a complex tensor is refused rather than
    cut to its real part, a float64 beyond float32's range is named as such."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to("cpu")
        return (tensor.to(torch.float32) if tensor.dtype == torch.bfloat16 else tensor).numpy()
    return np.asarray(value)


def conformed(value: Any, source: str, level: str, start: int, stop: int) -> np.ndarray:
    """``value`` (one batch's output at ``level`` for rows ``start:stop``) as (N, d) float32;
    OutputContractError if it is not numeric, has another number of rows, is empty or holds
    NaN or inf."""
    at = where(source, level, start, stop)
    n = stop - start
    try:
        array = as_array(value)
    except (TypeError, ValueError, RuntimeError) as e:
        raise OutputContractError(f"{at}: output is not an array ({type(value).__name__}: "
                                  f"{e})") from None
    if array.dtype.kind not in "biuf":
        raise OutputContractError(f"{at}: output of dtype {array.dtype}; features must be "
                                  "real numbers")
    if array.ndim == 0 or array.shape[0] != n:
        raise OutputContractError(
            f"{at}: output of shape {tuple(array.shape)} for a batch of {n} images; the first "
            f"axis must be the batch ({n}, ...), not transposed or reshaped")
    array = array.reshape(n, -1) if n else array.reshape(0, int(np.prod(array.shape[1:])))
    if array.shape[1] == 0:
        raise OutputContractError(f"{at}: output has 0 features per image")
    with np.errstate(over="ignore"):  # an overflow is named below
        given, array = array, array.astype(np.float32, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        bad_columns = np.flatnonzero(~finite.all(axis=0))
        what = ("values beyond float32's range (|x| > 3.4e38)" if np.isfinite(given).all()
                else "NaN or inf values")
        raise OutputContractError(
            f"{at}: {int((~finite).sum())} {what} in {len(bad_columns)} of "
            f"{array.shape[1]} feature columns (first column {int(bad_columns[0])}); features "
            "must be finite float32")
    return array


def max_feature_bytes() -> int:
    """The largest feature set a source may produce: ``$HALIBENCH_MAX_FEATURE_GB`` GB, else
    half of this machine's memory (the probes hold the features in memory)."""
    env = os.environ.get(MAX_FEATURE_GB_ENV)
    if env:
        try:
            gb = float(env)
        except ValueError:
            gb = math.nan
        if not (math.isfinite(gb) and gb > 0):
            raise HalibenchError(f"{MAX_FEATURE_GB_ENV}={env!r}: not a positive number of GB")
        return int(gb * 1e9)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def check_size(source: str, level: str, dims: int, rows: int) -> None:
    """Refuse, before any allocation, a level whose float32 features for ``rows`` images
    would exceed ``max_feature_bytes``; the message gives the estimate and the bound."""
    need, bound = 4 * dims * rows, max_feature_bytes()
    if need > bound:
        raise OutputContractError(
            f"{source}, level {level!r}: {dims} features per image x {rows} images = "
            f"{need / 1e9:.1f} GB of float32 features, over the bound of {bound / 1e9:.1f} GB "
            f"(half this machine's memory; set {MAX_FEATURE_GB_ENV} to change it, or reduce "
            "the output, e.g. by pooling)")
