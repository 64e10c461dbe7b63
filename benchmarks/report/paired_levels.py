"""Paired comparison of two (model, level) rows of one benchmark from their committed records,
where `halibench compare` cannot pair them (it reads every model at the same levels, and a
baseline such as HOG has only its own level).

Each side is MODEL:LEVEL; its newest record per probe is used. The test is paired over the
draws, or, for a benchmark with one draw and per-attribute scores (CelebA), over the
attributes both records scored.

    python benchmarks/report/paired_levels.py --benchmark celeba-attributes-subset \\
        --a hali-celeba64:hidden --b hog:hog --probe l2svm --probe linear
"""

from __future__ import annotations

import argparse
from pathlib import Path

from halibench.report.compare import paired_p_value, paired_units
from halibench.report.results import latest_records, read_records


def newest(records: list[dict], side: str, probe: str) -> dict:
    model, _, level = side.partition(":")
    mine = [r for r in records if (r["model"], r["level"], r["probe"]) == (model, level, probe)]
    if not mine:
        raise SystemExit(f"{side}: no record with probe {probe}; run `halibench run` first")
    return max(mine, key=lambda r: r["created"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--a", required=True, help="MODEL:LEVEL")
    parser.add_argument("--b", required=True, help="MODEL:LEVEL")
    parser.add_argument("--probe", action="append", default=None)
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    records = [r for r in latest_records(read_records(args.results))
               if r["benchmark"] == args.benchmark]
    for probe in args.probe or ["l2svm"]:
        a, b = newest(records, args.a, probe), newest(records, args.b, probe)
        unit, scores_a = paired_units(a)
        p, n = paired_p_value(scores_a, paired_units(b)[1])
        print(f"{probe}: {args.a} {a['mean']:.2f} ({a['checkpoint_sha256'][:12] or '-'}) vs "
              f"{args.b} {b['mean']:.2f}: {a['mean'] - b['mean']:+.2f}, paired p = {p:.3g} "
              f"over {n} {unit}")


if __name__ == "__main__":
    main()
