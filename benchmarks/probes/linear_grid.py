"""The linear probe's C grid, read from records: per (benchmark, version, model, checkpoint,
level, labels), the log C each draw chose on the validation rows and how many draws sat at an end
of the grid. Test errors are not read: a grid is chosen from validation choices only.

    python benchmarks/probes/linear_grid.py RESULTS_DIR [--benchmark NAME] [--margin 2]
        [--ends LOW HIGH]

With the exploratory protocol's records (``mnist-semisup-linear-explore.toml``, a wide grid)
it prints the narrowest grid, in whole steps of log C, that holds every choice with
``--margin`` steps to spare on each side. ``--ends LOW HIGH`` counts the draws that chose
log C = LOW or HIGH (the ends of a grid, for records written before they said so).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from halibench.report.tables import markdown_table


def choices(results: Path, benchmark: str | None, probe: str,
            ends: tuple[float, float] | None = None) -> pd.DataFrame:
    """One row per record: its setting, the chosen log C of every draw and the edge count."""
    rows = []
    for path in sorted(results.glob("runs/*.json")):
        record = json.loads(path.read_text())
        if record.get("probe") != probe or (benchmark and record["benchmark"] != benchmark):
            continue
        logs = [math.log(d["selected"]["C"]) for d in record["draws"]]
        edges = record.get("grid_edges") or {}
        if ends:
            edges = {"at_edge": sum(min(abs(v - e) for e in ends) < 1e-6 for v in logs)}
        rows.append({"benchmark": record["benchmark"], "version": record["protocol_version"],
                     "model": record["model"],
                     "checkpoint": (record.get("checkpoint_sha256") or "")[:12],
                     "level": record["level"],
                     "labels": record["labels"], "min_log_c": min(logs),
                     "max_log_c": max(logs), "at_edge": edges.get("at_edge", "—"),
                     "of": len(logs), "created": record["created"]})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    keys = ["benchmark", "version", "model", "checkpoint", "level", "labels"]
    return frame.sort_values("created").groupby(keys, as_index=False).last()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--benchmark", default=None)
    parser.add_argument("--probe", default="linear")
    parser.add_argument("--margin", type=int, default=2)
    parser.add_argument("--ends", type=float, nargs=2, default=None)
    args = parser.parse_args()
    frame = choices(args.results, args.benchmark, args.probe,
                    tuple(args.ends) if args.ends else None)
    if frame.empty:
        raise SystemExit(f"{args.results}/runs: no {args.probe} records")
    shown = frame.drop(columns="created").round(2)
    print("\n".join(markdown_table(list(shown.columns), shown.itertuples(index=False))))
    low = math.floor(frame["min_log_c"].min()) - args.margin
    high = math.ceil(frame["max_log_c"].max()) + args.margin
    print(f"\nchoices span log C {frame['min_log_c'].min():.2f} .. "
          f"{frame['max_log_c'].max():.2f}; with {args.margin} steps to spare: "
          f"log_c = {{ start = {low:.1f}, stop = {high:.1f}, count = {high - low + 1} }}")


if __name__ == "__main__":
    main()
