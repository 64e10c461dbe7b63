"""Regression of reproduced numbers: re-evaluate the rows of the expected values (package
data ``halibench/shipped/expected.csv``, or a file given), compare with each row's expected
value, and with the published number the row names (``published_model``) where there is one:
a row that claims to beat it (``beats_published``) fails when it no longer does."""

from __future__ import annotations

import csv
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from halibench.data.registry import get_dataset
from halibench.data.root import data_root
from halibench.errors import HalibenchError
from halibench.evaluation import benchmark
from halibench.evaluation.protocol_schema import MAX_DRAWS
from halibench.evaluation.protocols import load_protocol
from halibench.features.sources import BASELINE_LEVEL
from halibench.models.hub import full_copy_reachable

COLUMNS = ["benchmark", "model", "level", "probe", "labels_per_class", "draws", "expected",
           "tolerance"]
OPTIONAL = {"published_model": "", "beats_published": False}


def shipped_expected() -> Path:
    """The expected values that ship with the package."""
    return Path(str(resources.files("halibench") / "shipped" / "expected.csv"))


def read_expected(path: Path | None = None) -> pd.DataFrame:
    """The expected rows of ``path`` (default: the shipped ones), each checked for its form
    (``check_row``); ``attrs["path"]`` names the file for later messages. Row numbers are
    the file's lines: blank lines are skipped but counted."""
    path = path or shipped_expected()
    if not path.is_file():
        raise HalibenchError(f"{path}: missing; it lists the numbers to reproduce "
                             f"(columns {COLUMNS})")
    check_fields(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise HalibenchError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    df = df[(df != "").any(axis=1)]  # blank lines (their index keeps the line numbers)
    for column, default in OPTIONAL.items():
        if column not in df.columns:
            df[column] = default
    df["beats_published"] = df["beats_published"].astype(str).str.lower().isin(
        ["true", "1", "yes"])
    for column in ("draws", "expected", "tolerance"):
        numbers = pd.to_numeric(df[column], errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
        if bad.any():
            raise HalibenchError(f"{path}: row {int(bad.idxmax()) + 2}: {column} "
                                 f"{df[column][bad].iloc[0]!r} is not a finite number; give one")
        df[column] = numbers
    for row in df.itertuples():
        check_row(row, f"{path}: row {row.Index + 2}")
    df.attrs["path"] = str(path)
    return df


def check_fields(path: Path) -> None:
    """The CSV has rows, and every non-blank line as many fields as its header (pandas would
    make the extra ones of a longer line an index, silently)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise HalibenchError(f"{path}: not a UTF-8 CSV ({e})") from None
    if not any(field.strip() for fields in lines[1:] for field in fields):
        raise HalibenchError(f"{path}: no rows to reproduce; give a header {COLUMNS} and one "
                             "row per number")
    width = len(lines[0])
    for number, fields in enumerate(lines[1:], start=2):
        if fields and len(fields) != width:
            raise HalibenchError(f"{path}: row {number}: {len(fields)} fields, the header has "
                                 f"{width}; mend that row")


def check_row(row: Any, where: str) -> None:
    """One expected row's form: its level against its model, a label setting, whole draws
    in range. What needs the protocol, data or model (the model's levels, the probe, label
    counts the pool can give) is checked by ``regress`` before the first row runs."""
    fixed = BASELINE_LEVEL.get(row.model)
    if fixed and row.level != fixed:
        raise HalibenchError(f"{where}: level {row.level!r}: {row.model} has only level "
                             f"{fixed!r}")
    if not fixed and row.level in set(BASELINE_LEVEL.values()):
        raise HalibenchError(f"{where}: level {row.level!r} is a pixel baseline's; give one of "
                             f"{row.model}'s levels (e.g. z1)")
    if row.labels_per_class != "all" and not (row.labels_per_class.isdigit()
                                              and int(row.labels_per_class) > 0):
        raise HalibenchError(f"{where}: labels_per_class {row.labels_per_class!r}: give a "
                             "positive whole number or 'all'")
    if row.draws != int(row.draws) or not 1 <= row.draws <= MAX_DRAWS:
        raise HalibenchError(f"{where}: draws {row.draws!r}: give a whole number in "
                             f"1..{MAX_DRAWS}")


def published_rows(bench: str, model: str) -> pd.DataFrame:
    """The rows of published.csv for ``model`` on ``bench``; an error when there are none."""
    from halibench.report.results import published_table

    table = published_table()
    rows = table[(table["benchmark"] == bench) & (table["model"] == model)]
    if rows.empty:
        raise HalibenchError(f"published_model {model!r} names no row of {bench} in "
                             "published.csv; name one of its models")
    return rows


def published_value(bench: str, model: str, labels: int) -> tuple[float, str] | None:
    """(value, paper) of the published row of ``model`` on ``bench`` (at ``labels`` labels
    where the paper gives several); None when the paper gives no number."""
    rows = published_rows(bench, model)
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
    """Every expected row re-evaluated, after every row was prepared (protocol, data, model,
    levels, probe, label counts checked: a fault is one line naming the row before anything
    is evaluated). ``status``: "ok" (within tolerance and, for a row that claims to beat its
    published number, still beating it), "DRIFT", "LOST CLAIM", or "skipped: why" for a row
    that cannot run here (``planned``; ``ok`` is False: nothing was checked)."""
    plans = [planned(row, root, expected.attrs.get("path", "expected values"))
             for row in expected.itertuples()]
    out = []
    for row, plan in zip(expected.itertuples(), plans, strict=True):
        if isinstance(plan, str):  # cannot run here: the reason
            out.append(result_row(row, None, plan))
            continue
        (rec,) = benchmark.execute(plan, use_cache=use_cache)
        out.append(result_row(row, rec, plan.protocol.metric))
    return pd.DataFrame(out).astype({"labels": "Int64", "draws": "Int64"})


def planned(row: Any, root: str | Path | None, path: str) -> benchmark.Plan | str:
    """The row's evaluation, prepared; or why it cannot run here ("skipped: ..."): its
    dataset's folder is absent from the data root, or it needs a full checkpoint that is not
    reachable. A dataset folder that is there but incomplete or corrupt is an error."""
    try:
        protocol = load_protocol(row.benchmark)
        lpc = row.labels_per_class
        protocol = replace(protocol, labels_per_class=(lpc if lpc == "all" else int(lpc),))
        own = protocol.task == "own-classifier"  # one draw: the model's own
        if row.published_model:
            published_rows(row.benchmark, row.published_model)
        level = None if row.model in BASELINE_LEVEL else [row.level]
        draws = None if own else int(row.draws)
        root_folder = data_root(root)
        if not root_folder.is_dir():
            raise HalibenchError(f"data root {root_folder}: no such folder; pass --data-root or "
                                 "set HALIBENCH_DATA to the folder holding the datasets "
                                 "(`halibench data prepare mnist` makes one)")
        if own and not full_copy_reachable(row.model):  # its model cannot be read here
            benchmark.checked_request(protocol, [row.model], level, [row.probe], draws=draws)
            return SKIP_FULL
        folder = get_dataset(protocol.dataset).folder(root_folder)
        if not folder.exists() and not folder.is_symlink():
            benchmark.check_without_data(protocol, [row.model], level, [row.probe], draws)
            return (f"skipped: no {protocol.dataset} data at {folder} (`halibench data "
                    f"prepare {protocol.dataset}` fetches it or says how)")
        return benchmark.prepare(protocol, [row.model], level, [row.probe], root=root,
                                 draws=draws)
    except HalibenchError as e:
        raise HalibenchError(f"{path}: row {row.Index + 2}: {e}") from None


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
