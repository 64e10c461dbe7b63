"""Cache of probe outcomes, keyed by everything an outcome is a pure function of.

The key holds the content keys of the feature files (each already keyed by the source's
identity and the data's checksums), the protocol's sha256, the probe, label setting, draws,
backend and device type, and the sha256 of the evaluation code itself (probes, tasks,
metrics), so a changed solver never serves an old outcome. A hit is recorded as reused, with
the key; ``--no-cache`` recomputes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from halibench.data.root import cache_root
from halibench.io import (
    content_record,
    contents_state,
    record_contents,
    sweep_stale_temps,
    write_json_atomic,
)
from halibench.report.record_schema import summary_problem

log = logging.getLogger("halibench")
CODE = ("probes", "evaluation/classification.py", "evaluation/attributes.py",
        "evaluation/tasks.py", "evaluation/metrics.py", "evaluation/protocols.py")


@cache
def code_sha256() -> str:
    """sha256 over the source files that compute an outcome from features."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for name in CODE:
        for path in sorted((root / name).rglob("*.py")) if (root / name).is_dir() else [
                root / name]:
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def outcome_key(parts: dict[str, Any]) -> str:
    text = json.dumps({**parts, "code": code_sha256()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def outcome_path(key: str) -> Path:
    return cache_root() / "outcomes" / f"{key[:32]}.json"


def cached_outcome(key: str) -> dict[str, Any] | None:
    """The stored outcome, or None; a damaged entry (not JSON, not an outcome, or other
    bytes than were written) is recomputed and replaced, with one warning line."""
    path = outcome_path(key)
    if not path.is_file():
        return None
    try:
        outcome = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        outcome = None
    state = contents_state(content_record(path), {"outcome": path})
    if isinstance(outcome, dict) and not summary_problem(outcome) and state == "same":
        return outcome
    if state == "unrecorded":  # an older version's entry: recomputed quietly
        return None
    log.warning(f"warning: damaged outcome cache entry {path}; recomputing it")
    return None


def store_outcome(key: str, outcome: dict[str, Any]) -> None:
    sweep_stale_temps(outcome_path(key).parent)
    write_json_atomic(outcome_path(key), outcome)
    record_contents(content_record(outcome_path(key)), {"outcome": outcome_path(key)})

