"""Benchmark protocols: declarative, versioned TOML files (``halibench/shipped/benchmarks``).

A protocol declares its dataset, split ranges, labels per class, number of draws, probes
with their hyper-parameter grids, the metric and the seed. Defaults live in those files and
nowhere else; the protocol version and the file's sha256 go into every result.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from halibench.errors import HalibenchError
from halibench.evaluation.protocol_schema import validated

BENCHMARKS_ENV = "HALIBENCH_BENCHMARKS"


def shipped_benchmarks_dir() -> Path:
    """The protocol files that ship with the package."""
    return Path(str(resources.files("halibench") / "shipped" / "benchmarks"))


def benchmarks_dir() -> Path:
    """The protocols in use: the shipped ones; ``$HALIBENCH_BENCHMARKS`` overrides."""
    env = os.environ.get(BENCHMARKS_ENV)
    return Path(env) if env else shipped_benchmarks_dir()


@dataclass(frozen=True)
class SplitRange:
    split: str
    start: int
    stop: int


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    dataset: str
    description: str
    seed: int
    metric: str
    standardize: bool
    labels_per_class: tuple[int | str, ...]
    draws: int
    draws_full: int
    probes: tuple[str, ...]
    splits: dict[str, SplitRange]
    probe_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    sha256: str = ""
    task: str = "classification"
    subset: str = ""
    min_positives: int = 0

    def c_grid(self, probe: str) -> np.ndarray:
        spec = self.probe_params.get(probe, {}).get("log_c")
        if spec is None:
            return np.array([1.0])
        return np.exp(np.linspace(spec["start"], spec["stop"], spec["count"]))

    def n_draws(self, full: bool) -> int:
        return self.draws_full if full else self.draws


def list_protocols() -> list[str]:
    return sorted(p.stem for p in benchmarks_dir().glob("*.toml"))


def load_protocol(name: str) -> Protocol:
    """A shipped protocol by name, or a user's protocol file by path (``*.toml``), checked
    against the schema (``protocol_schema``) before anything runs."""
    from halibench.probes.registry import PROBES

    path = Path(name) if name.endswith(".toml") else benchmarks_dir() / f"{name}.toml"
    if not path.is_file():
        raise HalibenchError(f"unknown benchmark {name!r}; valid benchmarks: {list_protocols()}"
                             ", or the path of a protocol file (*.toml)")
    raw_bytes = path.read_bytes()
    try:
        raw = tomllib.loads(raw_bytes.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise HalibenchError(f"{path}: not a TOML file ({type(e).__name__}: {e})") from None
    fields = validated(raw, path, tuple(PROBES))
    splits = {role: SplitRange(*spec) for role, spec in fields.pop("splits").items()}
    return Protocol(**fields, splits=splits, sha256=hashlib.sha256(raw_bytes).hexdigest())


def restrict(protocol: Protocol, labels_per_class: Sequence[str | int]) -> Protocol:
    """The protocol limited to the given label settings (all when none are given). A
    setting the protocol does not list (a positive count, or "all") is allowed; its records
    are marked as not an official setting."""
    if not labels_per_class:
        return protocol
    return replace(protocol, labels_per_class=tuple(
        label_setting(v, protocol) for v in dict.fromkeys(str(v) for v in labels_per_class)))


def label_setting(value: str, protocol: Protocol) -> int | str:
    """``value`` as a label setting: "all" or a positive count."""
    if value == "all":
        return "all"
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise HalibenchError(f"--labels-per-class {value!r}: give a positive count or 'all' "
                             f"({protocol.name} lists {list(protocol.labels_per_class)})")
    return count


def balanced_draws(labels: np.ndarray, per_class: int, n_draws: int, seed: int) -> np.ndarray:
    """(n_draws, per_class * n_classes) indices into ``labels``, class-balanced, each draw
    from its own seeded generator (seed, per_class, draw), so draws are shared across models."""
    classes = np.unique(labels)
    by_class = [np.flatnonzero(labels == c) for c in classes]
    short = [int(c) for c, idx in zip(classes, by_class, strict=True) if len(idx) < per_class]
    if short:
        raise HalibenchError(f"classes {short} have fewer than {per_class} examples in the pool")
    draws = []
    for d in range(n_draws):
        rng = np.random.default_rng([seed, per_class, d])
        draws.append(np.concatenate([rng.choice(idx, per_class, replace=False)
                                     for idx in by_class]))
    return np.stack(draws)


def pool_draw_rows(protocol: Protocol, pool_labels: np.ndarray, per_class: int,
                   draw: int) -> np.ndarray:
    """Draw ``draw`` of ``per_class`` labels per class from the protocol's pool: sorted
    rows of the pool's split (the labelled images of semi-supervised training)."""
    picked = balanced_draws(pool_labels, per_class, draw + 1, protocol.seed)[draw]
    return np.sort(protocol.splits["pool"].start + picked)
