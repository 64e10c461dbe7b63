"""The one gate before work: what an evaluation will use or write is checked before the
first feature is extracted, so every command fails the same way (one line, nothing written).

Checked here: the device, the number of draws, the probes' solver backend, that the results
folder can be written and that the records already in it are valid. Protocols are checked
when loaded (``protocol_schema``), names when they become paths (``halibench.names``),
sources and their output contract when resolved (``features.user``), cache entries when
read.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from halibench.errors import HalibenchError
from halibench.evaluation.protocol_schema import MAX_DRAWS
from halibench.report.results import read_records

DEVICE_TYPES = ("cpu", "cuda", "mps")
BACKENDS = ("torch", "sklearn")


def checked_device(device: str | torch.device) -> str:
    """``auto`` -> cuda when available, else cpu; otherwise a device this torch build and
    machine have, or one line saying which to use."""
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES:
        raise HalibenchError(f"--device {device!r}: not a device; use auto, cpu, cuda, cuda:N "
                             "or mps")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
            raise HalibenchError(f"--device {device!r}: torch {torch.__version__} has {build}; "
                                 "use --device cpu (or auto)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise HalibenchError(f"--device {device!r}: only {torch.cuda.device_count()} CUDA "
                                 "device(s) visible")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise HalibenchError(f"--device {device!r}: MPS is not available here; use --device cpu")
    return str(parsed)


def check_draws(draws: int | None) -> None:
    if draws is not None and (isinstance(draws, bool) or not isinstance(draws, int)
                              or not 1 <= draws <= MAX_DRAWS):
        raise HalibenchError(f"--draws {draws!r}: must be an integer in 1..{MAX_DRAWS}")


def check_writable(results_dir: Path) -> None:
    """``results_dir/runs`` could be made and written: its nearest existing folder takes a
    file (probed with a temporary file, removed at once; nothing is left behind)."""
    runs = Path(results_dir) / "runs"
    existing = next(p for p in (runs, *runs.parents) if p.exists())
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "a file is in the way", str(existing))
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise HalibenchError(f"--results {results_dir}: cannot write there ({existing}: "
                             f"{e.strerror or e}); choose a folder you may write") from None


def check_label_settings(protocol: Any, pool_labels: np.ndarray, probes: list[str]) -> None:
    """Every label setting can be drawn from the pool (each class has that many examples)
    and k-NN's ``n_neighbors`` does not exceed the smallest labelled set."""
    if pool_labels.ndim != 1:  # attribute protocols label every pool image
        return
    counts = np.unique(pool_labels, return_counts=True)[1]
    settings = [v for v in protocol.labels_per_class if v != "all"]
    short = [v for v in settings if v > counts.min()]
    if short:
        raise HalibenchError(f"{protocol.name}: labels_per_class {short} exceed the "
                             f"{int(counts.min())} pool examples of the rarest class")
    smallest = min([v * len(counts) for v in settings] + [len(pool_labels)])
    k = int(protocol.probe_params.get("knn", {}).get("n_neighbors", 1))
    if "knn" in probes and k > smallest:
        raise HalibenchError(f"{protocol.name}: knn n_neighbors = {k} exceeds the {smallest} "
                             "labelled examples of its smallest setting")


def preflight(results_dir: Path | None, device: str, draws: int | None,
              backend: str = "torch") -> str:
    """Check device, draws, backend, results folder and its records; the resolved device."""
    device = checked_device(device)
    check_draws(draws)
    if backend not in BACKENDS:
        raise HalibenchError(f"--backend {backend!r}: not a probe solver; use one of "
                             f"{list(BACKENDS)}")
    if results_dir is not None:
        check_writable(results_dir)
        read_records(results_dir)  # a damaged record stops the command here, not after
    return device
