"""Regression of reproduced numbers: re-evaluate, compare with results/expected.csv."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from halibench.errors import HalibenchError
from halibench.evaluation import benchmark
from halibench.evaluation.protocols import load_protocol

COLUMNS = ["benchmark", "model", "level", "probe", "labels_per_class", "draws", "expected",
           "tolerance"]


def read_expected(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise HalibenchError(f"{path}: missing; it lists the numbers to reproduce "
                             f"(columns {COLUMNS})")
    df = pd.read_csv(path, dtype={"level": str, "labels_per_class": str})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise HalibenchError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    return df


def regress(expected: pd.DataFrame, root: str | Path | None, use_cache: bool = True
            ) -> pd.DataFrame:
    """Every expected row re-evaluated; ``ok`` says whether it is within tolerance."""
    out = []
    for row in expected.itertuples():
        protocol = load_protocol(row.benchmark)
        lpc = row.labels_per_class
        lpc = lpc if lpc == "all" else int(lpc)
        protocol = replace(protocol, labels_per_class=(lpc,))
        level = None if row.level in ("pixels", "hog") else [row.level]
        (rec,) = benchmark.run(protocol, [row.model], level, [row.probe], root=root,
                               use_cache=use_cache, draws=int(row.draws))
        drift = rec["mean"] - row.expected
        out.append({"benchmark": row.benchmark, "model": row.model, "level": row.level,
                    "probe": row.probe, "labels": rec["labels"], "draws": int(row.draws),
                    "expected": row.expected, "measured": round(rec["mean"], 3),
                    "drift": round(drift, 3), "tolerance": row.tolerance,
                    "ok": abs(drift) <= row.tolerance,
                    "checkpoint_sha256": rec["checkpoint_sha256"] or ""})
    return pd.DataFrame(out)
