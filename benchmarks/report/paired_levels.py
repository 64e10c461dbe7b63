"""Paired comparison of two (model, level) rows of one benchmark from their committed records,
where `halibench compare` cannot pair them (it reads every model at the same levels, and a
baseline such as HOG has only its own level).

Each side is MODEL:LEVEL, or MODEL:LEVEL@SHA to pick one checkpoint by its sha256 prefix (an
earlier checkpoint of the same name); without it, the newest record. The two records must
share the protocol version, label setting, ``--full`` and number of draws (``--labels``
chooses among several settings). The test is paired over the draws, or, for a benchmark with
one draw and per-attribute scores (CelebA), over the attributes both records scored.

    python benchmarks/report/paired_levels.py --benchmark celeba-attributes-subset \\
        --a hali-celeba64:hidden --b hog:hog --probe l2svm --probe linear
"""

from __future__ import annotations

import argparse
from pathlib import Path

from halibench.report.compare import paired_p_value, paired_units
from halibench.report.results import latest_records, read_records

SETTING = ("protocol_version", "labels", "full")


def parse_side(side: str) -> tuple[str, str, str]:
    """MODEL:LEVEL[@SHA] -> (model, level, sha prefix)."""
    model, sep, rest = side.partition(":")
    level, _, sha = rest.partition("@")
    if not (sep and model and level):
        raise SystemExit(f"{side!r}: give MODEL:LEVEL or MODEL:LEVEL@SHA, e.g. hog:hog")
    return model, level, sha


def setting(record: dict) -> tuple:
    return (*(record.get(k) for k in SETTING), len(record["draws"]))


def matching(records: list[dict], side: str, probe: str, labels: str | None) -> list[dict]:
    model, level, sha = parse_side(side)
    mine = [r for r in records if (r["model"], r["level"], r["probe"]) == (model, level, probe)
            and (r.get("checkpoint_sha256") or "").startswith(sha)
            and (labels is None or str(r["labels"]) == labels)]
    if not mine:
        raise SystemExit(f"{side}: no record with probe {probe}"
                         f"{f' at {labels} labels' if labels else ''} among the records read; "
                         "run `halibench run` first")
    return mine


def pair(records: list[dict], a_side: str, b_side: str, probe: str, labels: str | None
         ) -> tuple[dict, dict]:
    """Side A's newest record and side B's newest of the same setting."""
    a_all, b_all = (matching(records, s, probe, labels) for s in (a_side, b_side))
    if len({setting(r) for r in a_all}) > 1 and labels is None:
        raise SystemExit(f"{a_side}: records at several settings "
                         f"{sorted({str(r['labels']) for r in a_all})} labels; choose one "
                         "with --labels")
    a = max(a_all, key=lambda r: r["created"])
    same = [r for r in b_all if setting(r) == setting(a)]
    if not same:
        raise SystemExit(f"{b_side}: no record with {a_side}'s setting {setting(a)} "
                         f"({', '.join(SETTING)}, draws)")
    return a, max(same, key=lambda r: r["created"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--a", required=True, help="MODEL:LEVEL[@SHA]")
    parser.add_argument("--b", required=True, help="MODEL:LEVEL[@SHA]")
    parser.add_argument("--probe", action="append", default=None)
    parser.add_argument("--labels", default=None, help="Label setting, e.g. 100 or 3000.")
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    if not (args.results / "runs").is_dir():
        parser.error(f"--results {args.results}: no runs/ folder of records there")
    records = [r for r in latest_records(read_records(args.results))
               if r["benchmark"] == args.benchmark]
    if not records:
        parser.error(f"--benchmark {args.benchmark}: no records in {args.results}/runs")
    for probe in args.probe or ["l2svm"]:
        a, b = pair(records, args.a, args.b, probe, args.labels)
        unit, scores_a = paired_units(a)
        p, n = paired_p_value(scores_a, paired_units(b)[1])
        sha_a, sha_b = ((r.get("checkpoint_sha256") or "-")[:12] for r in (a, b))
        print(f"{probe}, {a['labels']} labels: {args.a} {a['mean']:.2f} ({sha_a}) vs {args.b} "
              f"{b['mean']:.2f} ({sha_b}): {a['mean'] - b['mean']:+.2f}, paired p = {p:.3g} "
              f"over {n} {unit}")


if __name__ == "__main__":
    main()
