"""Result records (one JSON file per evaluation, never rewritten) and the leaderboard."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from halibench.data.cache import UNOFFICIAL
from halibench.errors import HalibenchError
from halibench.evaluation.protocols import (
    Protocol,
    benchmarks_dir,
    load_protocol,
    shipped_benchmarks_dir,
)
from halibench.io import write_json_atomic, write_text_atomic
from halibench.models.hub import read_index
from halibench.names import safe_name
from halibench.report.record_schema import SCHEMA, now_created, read_record, record_file_name
from halibench.report.tables import markdown_table

log = logging.getLogger("halibench")

# One leaderboard row per configuration: different weights (checkpoint sha256) or protocol
# files (protocol sha256) are different rows even under the same names.
KEY = ["benchmark", "protocol_version", "protocol_sha256", "model", "checkpoint_sha256",
       "level", "probe", "labels", "full", "n_draws"]


def write_record(results_dir: Path, record: dict[str, Any]) -> Path:
    """Store ``record`` under a new unique name made from its fields (concurrent runs never
    collide; reading checks the name still matches)."""
    for field in ("benchmark", "model", "level", "probe"):
        safe_name(record[field], f"record {field}")
    record = {"schema": SCHEMA, "run_id": uuid.uuid4().hex, "created": now_created(), **record}
    if "deviation" not in record:  # "": official protocol and setting
        record["deviation"] = deviation(record)
    path = results_dir / "runs" / record_file_name(record)
    write_json_atomic(path, record)
    return path


def write_semantics_record(results_dir: Path, record: dict[str, Any]) -> Path:
    """A class-consistency record (``halibench semantics``), never rewritten."""
    created = now_created()
    safe_name(record["model"], "record model")
    record = {"schema": "halibench-semantics/1", "created": created, **record}
    path = (results_dir / "semantics" / f"{created[:19].replace(':', '').replace('-', '')}_"
            f"{record['model']}_{uuid.uuid4().hex[:8]}.json")
    write_json_atomic(path, record)
    return path


def read_records(results_dir: Path) -> list[dict[str, Any]]:
    """Every record in ``results_dir/runs``, each checked (``record_schema.read_record``)."""
    return [read_record(path) for path in sorted((results_dir / "runs").glob("*.json"))]


@cache
def official_protocols() -> dict[str, dict[str, str]]:
    """name -> version -> sha256 of every official protocol file (package data)."""
    path = resources.files("halibench") / "shipped" / "official-protocols.json"
    return json.loads(path.read_text())["protocols"]


def is_official(record: dict[str, Any]) -> bool:
    """Whether the record ran the official file of its protocol name and version, at one
    of the label settings that file lists."""
    return not deviation(record)


def deviation(record: dict[str, Any]) -> str:
    """How a record departs from its official protocol ("" when it does not)."""
    shas = official_protocols().get(record.get("benchmark"), {})
    if shas.get(record.get("protocol_version")) != record.get("protocol_sha256"):
        return f"not the official protocol: sha256 {(record.get('protocol_sha256') or '')[:12]}"
    if not on_official_data(record):
        return "not the official data: a copy whose checksum differs from the official file"
    official_metric = shipped_protocol(record["benchmark"]).metric
    if record.get("metric") != official_metric:
        return f"not the official metric: {record.get('metric')}, not {official_metric}"
    setting = record.get("labels_per_class")
    if setting is not None and str(setting) not in listed_settings(record["benchmark"]):
        return f"not an official setting: {setting} labels per class"
    trained = record.get("trained_labels")
    if trained and trained.get("unlabelled") == "none":
        return "supervised only: the labelled images alone, no unlabelled ones"
    if trained and record.get("probe") != "own":
        return (f"trained with labels: {trained.get('labels_per_class')} per class, draw "
                f"{trained.get('draw')} of {trained.get('protocol')}")
    return ""


@cache
def shipped_protocol(benchmark: str) -> Protocol:
    """The shipped (official) file of ``benchmark``, whatever ``$HALIBENCH_BENCHMARKS``
    points at (read once per process)."""
    return load_protocol(str(shipped_benchmarks_dir() / f"{benchmark}.toml"))


def listed_settings(benchmark: str) -> tuple[str, ...]:
    """The label settings the shipped (official) file of ``benchmark`` lists."""
    return tuple(str(v) for v in shipped_protocol(benchmark).labels_per_class)


def on_official_data(record: dict[str, Any]) -> bool:
    """Whether every split the record was scored on is the official files' content."""
    data = record.get("data")
    return not any(UNOFFICIAL in str(identity)
                   for identity in (data.values() if isinstance(data, dict) else [data]))


def record_key(record: dict[str, Any]) -> tuple:
    """A configuration: the newest record of each is its row (a record on data other than
    the official files is another configuration, never the official row's newer version)."""
    return (*(len(record["draws"]) if k == "n_draws" else record.get(k) for k in KEY),
            on_official_data(record))


def latest_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record of each configuration."""
    newest: dict[tuple, dict[str, Any]] = {}
    for rec in sorted(records, key=lambda r: r["created"]):
        newest[record_key(rec)] = rec
    return list(newest.values())


def latest_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per configuration: its newest record."""
    cols = KEY + ["metric", "mean", "std", "mean_accuracy", "attributes_evaluated",
                  "representation", "backend", "subset", "official", "deviation", "created"]
    if not records:
        return pd.DataFrame(columns=cols)
    rows = [{**{k: r.get(k) for k in cols if k != "n_draws"}, "n_draws": len(r["draws"]),
             "subset": r.get("subset") or "", "official": is_official(r),
             "official_data": on_official_data(r),
             "deviation": deviation(r),
             "checkpoint_sha256": r.get("checkpoint_sha256") or "",
             **attribute_columns(r)} for r in latest_records(records)]
    df = pd.DataFrame(rows)
    extra = sorted(c for c in df.columns if c not in cols)
    order = ["benchmark", "labels", "probe", "model", "checkpoint_sha256", "level",
             "protocol_sha256"]
    return df.sort_values(order, kind="stable").reset_index(drop=True)[cols + extra]


def attribute_columns(record: dict[str, Any]) -> dict[str, float]:
    """Per-attribute balanced accuracy of attribute protocols, as ``bal_acc:<name>``."""
    return {f"bal_acc:{a['attribute']}": a["balanced_accuracy"]
            for a in record.get("attributes", []) if a.get("status") == "ok"}


def published_table() -> pd.DataFrame:
    return pd.read_csv(benchmarks_dir() / "published.csv", dtype=str, keep_default_na=False)


def fmt(mean: float, std: float, n: int) -> str:
    return f"{mean:.2f}" if n <= 1 else f"{mean:.2f} ± {std:.2f}"


def model_cell(row: Any) -> str:
    cell = f"{row.model} [subset]" if row.subset else str(row.model)
    if not row.official:
        cell += f" ({row.deviation})"
    if getattr(row, "earlier_protocol", False):
        cell += " (earlier protocol)"
    if getattr(row, "also_as", ""):
        cell += f" (also scored as {row.also_as})"
    return f"{cell} (earlier checkpoint)" if getattr(row, "superseded", False) else cell


def mark_superseded(table: pd.DataFrame, shipped: dict[str, str]) -> pd.DataFrame:
    """``superseded``: the row is of a shipped name but not of the checkpoint shipped now
    (``shipped``: name -> sha256 of its weights)."""
    superseded = [bool(sha) and model in shipped and sha != shipped[model]
                  for model, sha in zip(table["model"], table["checkpoint_sha256"], strict=True)]
    return table.assign(superseded=superseded)


def merge_aliases(table: pd.DataFrame, shipped: dict[str, str]) -> pd.DataFrame:
    """One row per checkpoint scored under several names (e.g. its run folder and its
    shipped name, or two copies of one run folder) with the same value at the table's two
    decimals: the shipped name's row stays, else the first scored; its ``also_as`` names the
    others. Rows of one checkpoint whose values differ all stay, and a warning says so."""
    names = {sha: name for name, sha in shipped.items()}
    same = [k for k in KEY if k != "model"] + ["official_data"]
    keep = pd.Series(True, index=table.index)
    also = pd.Series("", index=table.index)
    scored = table[table["checkpoint_sha256"].fillna("").astype(str) != ""]
    for key, group in scored.groupby(same, dropna=False, sort=False):
        if len(group) < 2:
            continue
        sha = group["checkpoint_sha256"].iloc[0]
        order = group.assign(_not_shipped=group["model"] != names.get(sha)).sort_values(
            ["_not_shipped", "created"] if "created" in group else ["_not_shipped"],
            kind="stable")
        shown = {i: f"{m:.2f} ± {d:.2f}" for i, m, d in zip(
            order.index, order["mean"], order["std"], strict=True)}
        for value in dict.fromkeys(shown.values()):
            rows = [i for i in order.index if shown[i] == value]
            keep[rows[1:]] = False
            also[rows[0]] = ", ".join(sorted(group.loc[rows[1:], "model"]))
        if len(set(shown.values())) > 1:
            log.warning("warning: checkpoint %s scored on %s %s %s, %s labels under several "
                        "names gives different values (%s); the leaderboard keeps each",
                        sha[:12], key[0], group["level"].iloc[0], group["probe"].iloc[0],
                        group["labels"].iloc[0],
                        "; ".join(f"{table.at[i, 'model']} {v}" for i, v in shown.items()))
    return table.assign(also_as=also)[keep]


def mark_earlier_protocol(table: pd.DataFrame) -> pd.DataFrame:
    """``earlier_protocol``: an official row of an older version of the benchmark than the
    newest official version with rows for that probe (kept, and ranked after an equal
    current row)."""
    official = table[table["official"].astype(bool)]
    newest = official.groupby(["benchmark", "probe"])["protocol_version"].agg(
        lambda v: max(v, key=version_key))
    earlier = [bool(o) and version_key(v) < version_key(newest.get((b, p), v))
               for o, v, b, p in zip(table["official"], table["protocol_version"],
                                     table["benchmark"], table["probe"], strict=True)]
    return table.assign(earlier_protocol=earlier)


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(version).split(".") if p.isdigit())


def sha_cell(row: Any) -> str:
    return (row.checkpoint_sha256 or "")[:12] or "—"


def attribute_rows(mine: pd.DataFrame) -> list[str]:
    """Means over the evaluated attributes; per-attribute columns are in the CSV."""
    ordered = mine.sort_values(["probe", "mean"], ascending=[True, False], kind="stable")
    lines = markdown_table(
        ("model", "level", "probe", "mean balanced accuracy", "mean accuracy", "attributes",
         "checkpoint", "protocol"),
        [(model_cell(r), r.level, r.probe, f"{r.mean:.2f}", f"{r.mean_accuracy:.2f}",
          int(r.attributes_evaluated), sha_cell(r), f"v{r.protocol_version}")
         for r in ordered.itertuples()])
    return [*lines, "", "Per-attribute balanced accuracy: the `bal_acc:<attribute>` columns of "
            "`leaderboard.csv`.", ""]


def protocol_draws(name: str) -> int | None:
    """The shipped protocol's number of draws (None for a protocol that is not shipped)."""
    try:
        return load_protocol(name).draws
    except HalibenchError:
        return None


def ranked_tables(mine: pd.DataFrame, draws: int | None) -> list[str]:
    """One table per (labels, probe, metric), best first; rows of fewer draws than the
    protocol's are marked as quick looks."""
    lines: list[str] = []
    tables = mine.groupby(["labels", "probe", "metric", "official_data"], sort=True)
    metrics = mine.groupby(["labels", "probe"])["metric"].nunique()
    usual = mine["metric"].mode()[0]  # the most common metric (the protocol's): first
    for (labels, probe, metric, official_data), group in sorted(
            tables, key=lambda t: (str(type(t[0][0])), t[0][0], t[0][1], not t[0][3],
                                   t[0][2] != usual, t[0][2])):
        lower = metric == "error"
        ranked = group.sort_values(["mean", "earlier_protocol"], ascending=[lower, True],
                                   kind="stable")
        title = f"{labels} labels, {probe}" + (f", {metric}" if metrics[labels, probe] > 1
                                               else "")
        title += "" if official_data else ", not the official data"
        lines += [f"### {title} ({'lower' if lower else 'higher'} is better)", ""]
        lines += markdown_table(
            ("rank", "model", "level", "metric", "value", "draws", "checkpoint", "protocol"),
            [(i, model_cell(r), r.level, r.metric, fmt(r.mean, r.std, r.n_draws),
              f"{r.n_draws} (quick look)" if draws and r.n_draws < draws else r.n_draws,
              sha_cell(r), f"v{r.protocol_version}")
             for i, r in enumerate(ranked.itertuples(), start=1)])
        lines.append("")
    return lines


def render_markdown(ours: pd.DataFrame, published: pd.DataFrame,
                    results_dir: Path = Path("results")) -> str:
    lines = ["# Leaderboard", "",
             f"Generated by `halibench leaderboard` from "
             f"`{Path(results_dir).resolve().name}/runs/*.json` (newest "
             "record per configuration and checkpoint) and the published numbers "
             "(`halibench/shipped/benchmarks/published.csv`). Values in %; mean ± std over "
             "draws; within each table rows are ranked by value; \"quick look\": fewer draws "
             "than the protocol's.", ""]
    for bench in sorted(set(ours["benchmark"]) | set(published["benchmark"])):
        lines += [f"## {bench}", ""]
        mine = ours[ours["benchmark"] == bench]
        subsets = sorted({s for s in mine["subset"] if s})
        if subsets:
            lines += [f"**Subset protocol, not comparable to published numbers:** "
                      f"{'; '.join(subsets)}. Rows marked [subset]. Published numbers belong "
                      "to the full protocol's table.", ""]
        if len(mine) and mine["mean_accuracy"].notna().any():
            lines += attribute_rows(mine)
        elif len(mine):
            lines += ranked_tables(mine, protocol_draws(bench))
        pub = published[published["benchmark"] == bench]
        if len(pub):
            rows = []
            for r in pub.itertuples():
                value = (r.value or "not available") + (f" ± {r.std}" if r.std else "")
                note = f" ({r.note})" if r.note else ""
                rows.append((r.paper, r.model, r.labels or "—", r.probe or "—", r.metric,
                             value + note, r.source))
            lines += ["Published:", "", *markdown_table(
                ("paper", "model", "labels", "probe", "metric", "value", "source"), rows), ""]
    return "\n".join(lines)


@contextmanager
def leaderboard_refreshed(results_dir: Path | None) -> Iterator[None]:
    """Rebuild the leaderboard of ``results_dir`` after the block; when the block fails after
    writing records (each a finished evaluation, kept), rebuild it too and say so, so that
    the tables always match the records. None: nothing is written."""
    if results_dir is None:
        yield
        return
    before = set((results_dir / "runs").glob("*.json"))
    try:
        yield
    except BaseException:
        kept = set((results_dir / "runs").glob("*.json")) - before
        if kept:
            log.warning("note: the %d record(s) finished before the error are kept in %s; "
                        "the leaderboard is rebuilt with them", len(kept), results_dir / "runs")
            write_leaderboard(results_dir)
        raise
    write_leaderboard(results_dir)


def write_leaderboard(results_dir: Path) -> tuple[Path, Path]:
    """Regenerate leaderboard.md and leaderboard.csv from the records (deterministic)."""
    shipped = {name: entry["sha256"] for name, entry in read_index().items()}
    ours = mark_earlier_protocol(mark_superseded(latest_table(read_records(results_dir)),
                                                 shipped))
    published = published_table()
    md = results_dir / "leaderboard.md"
    write_text_atomic(md, render_markdown(merge_aliases(ours, shipped), published,
                                          results_dir) + "\n")
    mine = ours.drop(columns=["created", "superseded", "earlier_protocol"]).assign(
        source="halibench")
    mine = mine[[c for c in mine.columns if not c.startswith("bal_acc:")]
                + sorted(c for c in mine.columns if c.startswith("bal_acc:"))]
    pub = published.rename(columns={"value": "mean", "paper": "source_paper"})
    table = pd.concat([mine, pub.assign(source="published")], ignore_index=True)
    csv = results_dir / "leaderboard.csv"
    write_text_atomic(csv, table.to_csv(index=False, lineterminator="\n"))
    return md, csv
