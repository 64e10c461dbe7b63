"""The schema of a benchmark protocol file, checked before anything runs: types, ranges,
required roles and disjoint rows. Every violation is one line naming the file and the key."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from halibench.errors import HalibenchError
from halibench.names import safe_name

MAX_DRAWS = 1000  # the most draws a protocol (or --draws) may ask for
MAX_GRID = 1000  # the most values of a hyper-parameter grid
METRICS = ("error", "accuracy", "balanced_accuracy")
TASKS = ("classification", "attributes", "own-classifier")
OWN_PROBE = "own"  # the probe of the own-classifier task, and of no other
ROLES = ("pool", "validation", "test")
REQUIRED_ROLES = ("pool", "test")
KEYS = {"name", "version", "dataset", "description", "seed", "metric", "standardize",
        "labels_per_class", "draws", "draws_full", "probes", "splits", "probe", "task",
        "subset", "min_positives"}
REQUIRED = ("name", "version", "dataset", "seed", "metric", "labels_per_class", "draws",
            "probes", "splits")
PROBE_KEYS = {"log_c", "n_neighbors"}


class ProtocolError(HalibenchError, ValueError):
    """A protocol file that breaks the schema."""


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def fail(path: Path, key: str, problem: str) -> ProtocolError:
    return ProtocolError(f"{path}: {key}: {problem}")


def int_in(raw: dict[str, Any], key: str, path: Path, low: int, high: int | None,
           label: str | None = None) -> int:
    value = raw[key]
    label = label or key
    if not is_int(value) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise fail(path, label, f"{value!r} is not an integer in {bound}")
    return value


def text(raw: dict[str, Any], key: str, path: Path, default: str | None = None) -> str:
    value = raw.get(key, default)
    if isinstance(value, int | float) and not isinstance(value, bool) and key == "version":
        return str(value)
    if not isinstance(value, str):
        raise fail(path, key, f"{value!r} is not text")
    return value


def labels_per_class(raw: dict[str, Any], path: Path) -> tuple[int | str, ...]:
    values = raw["labels_per_class"]
    if not isinstance(values, list) or not values:
        raise fail(path, "labels_per_class", "a non-empty list of label counts, e.g. [10, 100]")
    for v in values:
        if not (v == "all" or (is_int(v) and v >= 1)):
            raise fail(path, "labels_per_class", f"{v!r} is neither a count >= 1 nor 'all'")
    if len({str(v) for v in values}) != len(values):
        raise fail(path, "labels_per_class", f"{values} repeats a setting")
    return tuple(values)


def split_ranges(raw: dict[str, Any], path: Path) -> dict[str, tuple[str, int, int]]:
    """role -> (split, start, stop); roles known, pool and test present, ranges of one split
    disjoint (no image may both train a probe and test it)."""
    splits = raw["splits"]
    if not isinstance(splits, dict):
        raise fail(path, "splits", "a table of roles (pool, validation, test)")
    unknown = sorted(set(splits) - set(ROLES))
    missing = [r for r in REQUIRED_ROLES if r not in splits]
    if unknown or missing:
        raise fail(path, "splits", f"roles must be {list(ROLES)} with {list(REQUIRED_ROLES)} "
                   f"required; unknown {unknown}, missing {missing}")
    out = {}
    for role, spec in splits.items():
        key = f"splits.{role}"
        if not isinstance(spec, dict) or set(spec) != {"split", "start", "stop"}:
            raise fail(path, key, "must be { split = NAME, start = ROW, stop = ROW }")
        if not isinstance(spec["split"], str) or not spec["split"]:
            raise fail(path, f"{key}.split", f"{spec['split']!r} is not a split name")
        start = int_in(spec, "start", path, 0, None, f"{key}.start")
        stop = int_in(spec, "stop", path, start + 1, None, f"{key}.stop")
        out[role] = (spec["split"], start, stop)
    roles = sorted(out)
    for i, a in enumerate(roles):
        for b in roles[i + 1:]:
            (sa, a0, a1), (sb, b0, b1) = out[a], out[b]
            if sa == sb and a0 < b1 and b0 < a1:
                raise fail(path, "splits", f"{a} rows {a0}:{a1} and {b} rows {b0}:{b1} of split "
                           f"{sa!r} overlap; the roles must not share images")
    return out


def probe_params(raw: dict[str, Any], probes: tuple[str, ...], path: Path
                 ) -> dict[str, dict[str, Any]]:
    params = raw.get("probe", {})
    if not isinstance(params, dict):
        raise fail(path, "probe", "a table of per-probe settings")
    for probe, spec in params.items():
        key = f"probe.{probe}"
        if probe not in probes:
            raise fail(path, key, f"settings for a probe not in probes {list(probes)}")
        if not isinstance(spec, dict) or set(spec) - PROBE_KEYS:
            raise fail(path, key, f"known settings are {sorted(PROBE_KEYS)}")
        if "n_neighbors" in spec:
            int_in(spec, "n_neighbors", path, 1, None, f"{key}.n_neighbors")
        if "log_c" in spec:
            grid = spec["log_c"]
            if not isinstance(grid, dict) or set(grid) != {"start", "stop", "count"}:
                raise fail(path, f"{key}.log_c", "must be { start = X, stop = Y, count = N }")
            ends = [grid["start"], grid["stop"]]
            if not all(isinstance(v, int | float) and not isinstance(v, bool)
                       and math.isfinite(v) and abs(v) <= 50 for v in ends) or ends[0] > ends[1]:
                raise fail(path, f"{key}.log_c", f"start {ends[0]!r} and stop {ends[1]!r} must "
                           "be numbers in -50..50 with start <= stop")
            count = int_in(grid, "count", path, 1, MAX_GRID, f"{key}.log_c.count")
            if count == 1 and ends[0] != ends[1]:
                raise fail(path, f"{key}.log_c", "count 1 needs start == stop")
    return params


def validated(raw: dict[str, Any], path: Path, known_probes: tuple[str, ...]
              ) -> dict[str, Any]:
    """The keyword arguments of ``Protocol`` from a parsed protocol file, or ProtocolError."""
    unknown = sorted(set(raw) - KEYS)
    missing = [k for k in REQUIRED if k not in raw]
    if unknown or missing:
        raise fail(path, "keys", f"unknown {unknown}, missing {missing}; known keys: "
                   f"{sorted(KEYS)}")
    name = safe_name(text(raw, "name", path), f"{path}: name")
    if name != path.stem:
        raise fail(path, "name", f"{name!r} must be the file's name without .toml "
                   f"({path.stem!r})")
    metric, task = text(raw, "metric", path), text(raw, "task", path, "classification")
    if metric not in METRICS:
        raise fail(path, "metric", f"{metric!r} is not one of {list(METRICS)}")
    if task not in TASKS:
        raise fail(path, "task", f"{task!r} is not one of {list(TASKS)}")
    probes = raw["probes"]
    if not isinstance(probes, list) or not probes or any(p not in known_probes for p in probes):
        raise fail(path, "probes", f"{probes!r}: a non-empty list of {list(known_probes)}")
    if (task == "own-classifier") != (OWN_PROBE in probes) or (
            task == "own-classifier" and probes != [OWN_PROBE]):
        raise fail(path, "probes", f"{probes!r}: the own-classifier task has exactly the probe "
                   f"[{OWN_PROBE!r}], and no other task has it")
    if not isinstance(raw.get("standardize", False), bool):
        raise fail(path, "standardize", "true or false")
    draws = int_in(raw, "draws", path, 1, MAX_DRAWS)
    if task == "own-classifier" and (metric != "error" or raw.get("standardize", False)
                                     or draws != 1 or raw.get("draws_full", 1) != 1):
        raise fail(path, "task", "own-classifier scores one draw (the model's own) as an "
                   "error: it needs metric = \"error\", standardize = false, draws = 1")
    splits = split_ranges(raw, path)
    return dict(
        name=name, version=safe_name(text(raw, "version", path), f"{path}: version"),
        dataset=text(raw, "dataset", path), description=text(raw, "description", path, ""),
        seed=int_in(raw, "seed", path, 0, None), metric=metric,
        standardize=raw.get("standardize", False),
        labels_per_class=labels_per_class(raw, path), draws=draws,
        draws_full=int_in({"draws_full": raw.get("draws_full", draws)}, "draws_full", path, 1,
                          MAX_DRAWS),
        probes=tuple(probes), splits=splits,
        probe_params=probe_params(raw, tuple(probes), path), task=task,
        subset=text(raw, "subset", path, ""),
        min_positives=int_in({"min_positives": raw.get("min_positives", 0)}, "min_positives",
                             path, 0, None))
