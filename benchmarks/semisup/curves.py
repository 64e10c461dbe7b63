"""Validation curves of study runs in one figure: error by step, one line per run.

Reads the rows that ``study.py`` wrote (validation rows only; the test split is never read)
and plots the named runs' curves, each labelled with its run name, budget and best score;
a run that averaged its weights adds its raw weights' curve, dashed, in the same colour.

    python benchmarks/semisup/curves.py hali-ss-decay-s0 hali-ss-decay6k-s0 \\
        --jsonl results/semisup/mnist-study.jsonl --out results/figures/semisup-mnist-budget.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from halibench.report.plots import save

FIELDS = ("run", "curve", "last_step", "best_step")


def is_point(point: Any) -> bool:
    """A curve point: finite [step, error] with the error above 0 (the axis is logarithmic)."""
    return (isinstance(point, list) and len(point) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    for v in point)
            and point[1] > 0)


def checked_row(line: bytes, where: str) -> dict[str, Any]:
    """One study row, refused with its file and line unless it holds a plottable curve."""
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SystemExit(f"{where}: not a JSON row; restore it from git") from None
    if not isinstance(row, dict) or any(k not in row for k in FIELDS):
        raise SystemExit(f"{where}: a study row needs {', '.join(FIELDS)}; "
                         "rewrite it with benchmarks/semisup/study.py")
    curve, raw = row["curve"], row.get("raw_curve")
    if not (isinstance(curve, list) and curve and all(map(is_point, curve))
            and row["best_step"] in {p[0] for p in curve}):
        raise SystemExit(f"{where}: run {row['run']}'s curve is not a non-empty list of "
                         "[step, finite error > 0] pairs holding its best step; rewrite it with "
                         "benchmarks/semisup/study.py")
    if raw is not None and not (isinstance(raw, list) and raw and all(map(is_point, raw))):
        raise SystemExit(f"{where}: run {row['run']}'s raw_curve is not a non-empty list of "
                         "[step, finite error > 0] pairs; rewrite it with "
                         "benchmarks/semisup/study.py")
    return row


def study_rows(jsonl: Path, runs: list[str]) -> list[dict[str, Any]]:
    """The rows of ``runs`` in ``jsonl``, in the order given (the first row of a run counts,
    as in study.py); a missing or repeated run is an error."""
    repeated = sorted({r for r in runs if runs.count(r) > 1})
    if repeated:
        raise SystemExit(f"run {', '.join(repeated)} named twice; name each run once")
    if not jsonl.is_file():
        raise SystemExit(f"{jsonl}: no such study file; write it with benchmarks/semisup/study.py")
    rows: dict[str, dict[str, Any]] = {}
    for n, line in enumerate(jsonl.read_bytes().splitlines(), 1):
        if line.strip():
            row = checked_row(line, f"{jsonl}:{n}")
            rows.setdefault(row["run"], row)
    missing = [r for r in runs if r not in rows]
    if missing:
        raise SystemExit(f"{jsonl}: no row for {', '.join(missing)}; add it with "
                         "benchmarks/semisup/study.py RUN --jsonl ...")
    return [rows[r] for r in runs]


def curves_figure(rows: list[dict[str, Any]], title: str) -> Figure:
    """Validation error (%) by step, one line per row, the best point of each marked."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for row in rows:
        steps, scores = zip(*row["curve"], strict=True)
        best = dict(row["curve"])[row["best_step"]]
        line, = ax.plot(steps, scores, marker=".", label=(
            f"{row['run']} ({row['last_step']} steps, decay {row.get('lr_decay', 0)}; "
            f"best {best:.2f} at {row['best_step']})"))
        ax.plot([row["best_step"]], [best], "o", color=line.get_color())
        if row.get("raw_curve"):
            raw_steps, raw_scores = zip(*row["raw_curve"], strict=True)
            ax.plot(raw_steps, raw_scores, "--", color=line.get_color(), alpha=0.6,
                    label=f"{row['run']}, its raw (not averaged) weights")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation error (%)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run names as in the study file")
    parser.add_argument("--jsonl", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="figure file (.png, .pdf, .svg)")
    parser.add_argument("--title", default="Own classifier's validation error by step")
    args = parser.parse_args()
    rows = study_rows(args.jsonl, args.runs)
    try:
        save(curves_figure(rows, args.title), args.out)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    except OSError as e:
        raise SystemExit(f"--out {args.out}: cannot write ({e.strerror or e}); "
                         "give a writable path") from None
    print(args.out)


if __name__ == "__main__":
    main()
