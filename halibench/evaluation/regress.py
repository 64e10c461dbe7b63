"""Regression of reproduced numbers: re-evaluate the rows of the expected values (package
data ``halibench/shipped/expected.csv``, or a file given), compare with each row's expected
value, and with the published number the row names (``published_model``) where there is one:
a row that claims to beat it (``beats_published``) fails when it no longer does."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from halibench.errors import HalibenchError
from halibench.evaluation import benchmark
from halibench.evaluation.protocols import load_protocol
from halibench.models.hub import full_copy_reachable

COLUMNS = ["benchmark", "model", "level", "probe", "labels_per_class", "draws", "expected",
           "tolerance"]
OPTIONAL = {"published_model": "", "beats_published": False}


def shipped_expected() -> Path:
    """The expected values that ship with the package."""
    return Path(str(resources.files("halibench") / "shipped" / "expected.csv"))


def read_expected(path: Path | None = None) -> pd.DataFrame:
    path = path or shipped_expected()
    if not path.is_file():
        raise HalibenchError(f"{path}: missing; it lists the numbers to reproduce "
                             f"(columns {COLUMNS})")
    df = pd.read_csv(path, dtype={"level": str, "labels_per_class": str,
                                  "published_model": str}, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise HalibenchError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    for column, default in OPTIONAL.items():
        if column not in df.columns:
            df[column] = default
    df["beats_published"] = df["beats_published"].astype(str).str.lower().isin(
        ["true", "1", "yes"])
    for column in ("draws", "expected", "tolerance"):
        bad = pd.to_numeric(df[column], errors="coerce").isna()
        if bad.any():
            raise HalibenchError(f"{path}: row {int(bad.idxmax()) + 2}: {column} "
                                 f"{df[column][bad].iloc[0]!r} is not a number; give one")
    return df


def published_value(bench: str, model: str, labels: int) -> tuple[float, str] | None:
    """(value, paper) of the published row of ``model`` on ``bench`` (at ``labels`` labels
    where the paper gives several); None when the paper gives no number."""
    from halibench.report.results import published_table

    table = published_table()
    rows = table[(table["benchmark"] == bench) & (table["model"] == model)]
    if len(rows) > 1:
        rows = rows[rows["labels"] == str(labels)]
    if len(rows) != 1:
        raise HalibenchError(f"expected values: published_model {model!r} names "
                             f"{len(rows)} rows of {bench} in published.csv; name exactly one")
    row = rows.iloc[0]
    return (float(row["value"]), str(row["paper"])) if row["value"] else None


def compared(row: Any, measured: float, labels: int, metric: str) -> dict[str, Any]:
    """The published number beside a measured one: the gap (positive: ours is better) and
    whether a claim to beat it still holds."""
    if not row.published_model:
        return {"published": "", "gap": None, "claim_ok": True}
    found = published_value(row.benchmark, row.published_model, labels)
    if found is None:
        return {"published": f"{row.published_model}: no number", "gap": None,
                "claim_ok": not row.beats_published}
    value, paper = found
    gap = (value - measured) if metric == "error" else (measured - value)
    return {"published": f"{value:g} ({row.published_model}, {paper})",
            "gap": round(gap, 3), "claim_ok": gap > 0 or not row.beats_published}


SKIP_FULL = ("skipped: needs the full checkpoint (its discriminator classifies); set "
             "HALIBENCH_CHECKPOINTS or HALIBENCH_CHECKPOINT_URL")


def regress(expected: pd.DataFrame, root: str | Path | None, use_cache: bool = True
            ) -> pd.DataFrame:
    """Every expected row re-evaluated. ``status``: "ok" (within tolerance and, for a row
    that claims to beat its published number, still beating it), "DRIFT", "LOST CLAIM", or
    "skipped: why" for a row that cannot run here (``ok`` is False: nothing was checked)."""
    out = []
    for row in expected.itertuples():
        protocol = load_protocol(row.benchmark)
        lpc = row.labels_per_class
        lpc = lpc if lpc == "all" else int(lpc)
        protocol = replace(protocol, labels_per_class=(lpc,))
        level = None if row.level in ("pixels", "hog") else [row.level]
        own = protocol.task == "own-classifier"  # one draw: the model's own
        if own and not full_copy_reachable(row.model):  # an installed package: encoders only
            out.append(result_row(row, None, SKIP_FULL))
            continue
        (rec,) = benchmark.run(protocol, [row.model], level, [row.probe], root=root,
                               use_cache=use_cache, draws=None if own else int(row.draws))
        out.append(result_row(row, rec, protocol.metric))
    return pd.DataFrame(out).astype({"labels": "Int64", "draws": "Int64"})


def result_row(row: Any, rec: dict[str, Any] | None, metric_or_skip: str) -> dict[str, Any]:
    """One expected row beside what was measured (``rec``, with the protocol's metric), or
    beside nothing (``rec`` None, with the reason it was skipped)."""
    out = {"benchmark": row.benchmark, "model": row.model, "level": row.level,
           "probe": row.probe, "labels": None, "draws": None, "expected": row.expected,
           "measured": None, "drift": None, "tolerance": row.tolerance,
           "within_tolerance": None, "published": "", "gap": None, "claim_ok": None,
           "ok": False, "status": metric_or_skip, "checkpoint_sha256": ""}
    if rec is None:
        return out
    drift = rec["mean"] - row.expected
    beside = compared(row, rec["mean"], rec["labels"], metric_or_skip)
    within = abs(drift) <= row.tolerance
    ok = within and beside["claim_ok"]
    return out | beside | {
        "labels": rec["labels"], "draws": len(rec["draws"]), "measured": round(rec["mean"], 3),
        "drift": round(drift, 3), "within_tolerance": within, "ok": ok,
        "status": "ok" if ok else ("DRIFT" if not within else "LOST CLAIM"),
        "checkpoint_sha256": rec["checkpoint_sha256"] or ""}
