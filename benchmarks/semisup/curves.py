"""Validation curves of study runs in one figure: error by step, one line per run.

Reads the rows that ``study.py`` wrote (validation rows only; the test split is never read)
and plots the named runs' curves, each labelled with its run name, budget and best score.

    python benchmarks/semisup/curves.py hali-ss-decay-s0 hali-ss-decay6k-s0 \\
        --jsonl results/semisup/mnist-study.jsonl --out results/figures/semisup-mnist-budget.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from halibench.report.plots import save


def study_rows(jsonl: Path, runs: list[str]) -> list[dict[str, Any]]:
    """The rows of ``runs`` in ``jsonl``, in the order given; a missing run is an error."""
    if not jsonl.is_file():
        raise SystemExit(f"{jsonl}: no such study file; write it with benchmarks/semisup/study.py")
    rows = {}
    for n, line in enumerate(jsonl.read_text().splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise SystemExit(f"{jsonl}:{n}: not a JSON row; restore it from git") from None
        rows[row["run"]] = row
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
        line, = ax.plot(steps, scores, marker=".", label=(
            f"{row['run']} ({row['last_step']} steps, decay {row['lr_decay']}; "
            f"best {row['val_score']:.2f} at {row['best_step']})"))
        ax.plot([row["best_step"]], [row["val_score"]], "o", color=line.get_color())
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
    print(args.out)


if __name__ == "__main__":
    main()
