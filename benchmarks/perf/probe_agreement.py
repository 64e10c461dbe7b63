"""Agreement and speed of the batched probe solver against the scikit-learn reference.

For each (model, probe, label setting), the same protocol, draws and C grid run through
``--backend torch`` (batched Newton-CG) and ``--backend sklearn`` (one reference fit per
draw, C and output) in this process; prints the mean metric of each, |difference| and the
wall time of each, and appends one JSON line per row to ``--jsonl``.

    HALIBENCH_DATA=../shared/data python benchmarks/perf/probe_agreement.py \\
        --benchmark celeba-attributes-subset --model hog --model raw-pixels \\
        --model ali-celeba64 --probe l2svm --probe linear --jsonl agreement.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from halibench.evaluation import benchmark
from halibench.evaluation.protocols import load_protocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default="mnist-semisup")
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--level", action="append", default=None)
    parser.add_argument("--probe", action="append", default=None)
    parser.add_argument("--labels-per-class", action="append", default=None)
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--jsonl", type=Path, default=None)
    args = parser.parse_args()
    protocol = load_protocol(args.benchmark)
    settings = args.labels_per_class or [str(v) for v in protocol.labels_per_class]
    print(f"# {protocol.name} v{protocol.version}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print("| model | level | probe | labels | torch mean | sklearn mean | abs diff | torch s | "
          "sklearn s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for lpc in settings:
        one = replace(protocol, labels_per_class=(lpc if lpc == "all" else int(lpc),))
        for model in args.model:
            for probe in args.probe or list(protocol.probes):
                rows = {}
                for backend in ("torch", "sklearn"):
                    t0 = time.perf_counter()
                    recs = benchmark.run(one, [model], args.level, [probe], backend=backend,
                                         draws=args.draws)
                    rows[backend] = (recs, time.perf_counter() - t0)
                for fast, ref in zip(rows["torch"][0], rows["sklearn"][0], strict=True):
                    t_fast, t_ref = rows["torch"][1], rows["sklearn"][1]
                    diff = abs(fast["mean"] - ref["mean"])
                    print(f"| {model} | {fast['level']} | {probe} | {lpc} | {fast['mean']:.2f} "
                          f"| {ref['mean']:.2f} | {diff:.2f} | {t_fast:.1f} | {t_ref:.1f} | "
                          f"{t_ref / t_fast:.1f} |", flush=True)
                    if args.jsonl:
                        with args.jsonl.open("a") as f:
                            f.write(json.dumps({
                                "benchmark": protocol.name, "model": model,
                                "level": fast["level"], "probe": probe, "labels": lpc,
                                "draws": len(fast["draws"]), "torch_mean": fast["mean"],
                                "sklearn_mean": ref["mean"], "abs_diff": diff,
                                "torch_seconds": t_fast, "sklearn_seconds": t_ref,
                                "torch_convergence": fast["convergence"],
                                "sklearn_convergence": ref["convergence"]}) + "\n")


if __name__ == "__main__":
    main()
