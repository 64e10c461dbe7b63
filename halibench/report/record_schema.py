"""Result records checked when read: schema, the summary recomputed from the per-draw
values, and a write order a copied or edited file cannot fake (the file's name is made from
the record when it is written, and its date may not lie in the future). A record that fails
is one line naming its file; the command stops before any computation."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from halibench.errors import HalibenchError
from halibench.evaluation.protocol_schema import METRICS
from halibench.names import UnsafeNameError, safe_name

SCHEMA = "halibench-result/1"
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
CLOCK_SKEW = timedelta(minutes=10)  # how far in the future a record's date may be
TOLERANCE = 1e-9
FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (str,), "run_id": (str,), "created": (str,), "benchmark": (str,),
    "protocol_version": (str,), "model": (str,), "level": (str,), "probe": (str,),
    "labels": (int, str), "metric": (str,), "mean": (int, float), "std": (int, float),
    "draws": (list,), "full": (bool,), "protocol_sha256": (str,),
    "checkpoint_sha256": (str, type(None))}


class RecordError(HalibenchError):
    """A damaged, edited or misplaced result record."""


def record_file_name(record: dict[str, Any], portable: bool = True) -> str:
    """The name a record is written under; reading checks that it still matches. A ':' of
    an import-string model name becomes '~' (names before that kept it: ``portable``)."""
    stamp = record["created"][:19].replace(":", "").replace("-", "")
    model = record["model"].replace(":", "~") if portable else record["model"]
    return (f"{stamp}_{record['benchmark']}_{model}_{record['level']}_"
            f"{record['probe']}_{record['labels']}_{record['run_id'][:8]}.json")


def now_created() -> str:
    return datetime.now(UTC).strftime(CREATED_FORMAT)


def recomputed(values: list[float]) -> tuple[float, float]:
    """The mean and std (ddof 1) a record's draws give, as the tasks compute them."""
    mean = float(np.mean(values))
    return mean, float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def problem(record: Any, path: Path) -> str | None:
    """What is wrong with ``record`` read from ``path`` (None: nothing)."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not a record"
    if record.get("schema") != SCHEMA:
        return f"schema {record.get('schema')!r}, not {SCHEMA!r}"
    for key, types in FIELDS.items():
        if key not in record:
            return f"field {key!r} is missing"
        value = record[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"field {key!r} is {value!r}, not {' or '.join(t.__name__ for t in types)}"
    if record["metric"] not in METRICS:
        return f"'metric' {record['metric']!r} is not one of {list(METRICS)}"
    for key in ("benchmark", "model", "level", "probe"):
        try:
            safe_name(record[key], f"field {key!r}")
        except UnsafeNameError as e:
            return str(e)
    if trouble := summary_problem(record):
        return trouble
    try:
        created = datetime.strptime(record["created"], CREATED_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return f"'created' {record['created']!r} is not a UTC time {CREATED_FORMAT}"
    if created > datetime.now(UTC) + CLOCK_SKEW:
        return f"'created' {record['created']} lies in the future"
    if path.name not in (record_file_name(record), record_file_name(record, portable=False)):
        return (f"its name does not match its fields (expected {record_file_name(record)}); "
                "a record is never renamed or edited")
    return None


def summary_problem(outcome: dict[str, Any]) -> str | None:
    """What is wrong with the draws and summary of a record or a cached outcome: the draws'
    test values, and the mean and std (and attribute means) they give."""
    draws = outcome.get("draws")
    if not isinstance(draws, list) or not draws or not all(
            isinstance(d, dict) and isinstance(d.get("test"), int | float)
            and math.isfinite(d["test"]) for d in draws):
        return "'draws' must be a non-empty list of draws, each with a finite 'test' value"
    if not all(isinstance(outcome.get(k), int | float) for k in ("mean", "std")):
        return "'mean' and 'std' must be numbers"
    mean, std = recomputed([d["test"] for d in draws])
    if not (close(mean, outcome["mean"]) and close(std, outcome["std"])):
        return (f"mean {outcome['mean']!r} / std {outcome['std']!r} do not match its draws "
                f"({mean!r} / {std!r}); the record was edited")
    if "attributes" in outcome:
        return attribute_problem(outcome)
    return None


def attribute_problem(record: dict[str, Any]) -> str | None:
    done = [a for a in record["attributes"] if isinstance(a, dict) and a.get("status") == "ok"]
    try:
        bal = float(np.mean([a["balanced_accuracy"] for a in done])) if done else math.nan
        acc = float(np.mean([a["accuracy"] for a in done])) if done else math.nan
    except (KeyError, TypeError):
        return "an evaluated attribute lacks its balanced_accuracy or accuracy"
    if done and not (close(bal, record["mean"]) and close(acc, record.get("mean_accuracy", -1))
                     and record.get("attributes_evaluated") == len(done)):
        return "mean, mean_accuracy or attributes_evaluated do not match its attributes"
    return None


def read_record(path: Path) -> dict[str, Any]:
    """The record at ``path``; RecordError naming the file when it is not a valid record."""
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        trouble = "not UTF-8 text"
    except json.JSONDecodeError as e:
        trouble = f"not valid JSON ({e.msg} at line {e.lineno})"
    else:
        trouble = problem(record, path)
    if trouble:
        raise RecordError(f"{path}: {trouble}; restore it (e.g. from git) or move it out of "
                          f"{path.parent}")
    return record
