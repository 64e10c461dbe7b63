"""Paired comparison over training seeds of two groups of semi-supervised runs.

Each run contributes its newest own-classifier record on ``--benchmark``; runs of the two
groups are paired by their labelled draw (train seed s used draw s), and the paired t-test
is taken over the draws both groups have. Prints each run's test error, each group's mean ±
std, the mean difference and the p-value.

    python benchmarks/semisup/paired.py --a hali-ss-s0 hali-ss-s1 hali-ss-s2 \\
        --b ali-ss-s0 ali-ss-s1 ali-ss-s2 [--results results] [--benchmark mnist-semisup-own]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from halibench.report.compare import paired_p_value
from halibench.report.results import latest_records, read_records


def by_draw(records: list[dict], models: list[str]) -> dict[str, float]:
    """{draw: test error} of each model's newest record (one draw per own-classifier record)."""
    out: dict[str, float] = {}
    for model in models:
        mine = [r for r in records if r["model"] == model]
        if len(mine) != 1:
            raise SystemExit(f"{model}: {len(mine)} newest records on the benchmark; need one")
        draw = mine[0]["draws"][0]
        if str(draw["draw"]) in out:
            raise SystemExit(f"{model}: draw {draw['draw']} is already another run's")
        out[str(draw["draw"])] = float(draw["test"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", nargs="+", required=True)
    parser.add_argument("--b", nargs="+", required=True)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--benchmark", default="mnist-semisup-own")
    args = parser.parse_args()
    records = [r for r in latest_records(read_records(args.results))
               if r["benchmark"] == args.benchmark]
    a, b = by_draw(records, args.a), by_draw(records, args.b)
    for name, group, scores in (("a", args.a, a), ("b", args.b, b)):
        values = np.array(list(scores.values()))
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        print(f"{name}: {', '.join(group)}: " + ", ".join(f"draw {k} {v:.2f}"
                                                        for k, v in scores.items())
              + f"; mean {values.mean():.2f} ± {std:.2f}")
    shared = sorted(a.keys() & b.keys())
    diff = np.mean([a[k] - b[k] for k in shared]) if shared else float("nan")
    p, n = paired_p_value(a, b)
    print(f"a - b over {n} shared draws: {diff:+.2f} points, paired t-test p = {p:.3g}")


if __name__ == "__main__":
    main()
