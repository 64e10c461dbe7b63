"""Agreement and speed of the batched probe solver against the scikit-learn reference.

For each (model, probe, label setting), the same protocol, draws and C grid run through
``--backend torch`` (batched Newton-CG) and ``--backend sklearn`` (one reference fit per
draw, C and output) in this process; prints the mean metric of each, |difference| and the
wall time of each, and appends one JSON line per row to ``--jsonl``.

``--attribute NAME`` (repeatable) restricts an attribute protocol to those attributes, for
feature sets whose reference fits over all 40 would take hours; the row records which.

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
from typing import Any

import numpy as np
import torch

from halibench.evaluation import benchmark
from halibench.evaluation.attributes import evaluate_attributes
from halibench.evaluation.classification import Features
from halibench.evaluation.protocols import Protocol, load_protocol


def attribute_problems(protocol: Protocol, model: str, levels: list[str] | None,
                       attributes: list[str]) -> list[tuple[str, Features, np.ndarray]]:
    """Each level's features with labels restricted to ``attributes``, and those test labels."""
    data = benchmark.BenchmarkData(protocol, None)
    names = list(data.split("test").label_names)
    unknown = [a for a in attributes if a not in names]
    if unknown:
        raise SystemExit(f"--attribute: unknown {unknown}; valid: {names}")
    cols = [names.index(a) for a in attributes]
    test_labels = np.asarray(data.split("test").labels)[:, cols]
    problems = []
    for source in benchmark.model_sources(model, levels, data.image_shape(), protocol.dataset):
        f = benchmark.features_for(source, data, use_cache=True)
        problems.append((source.level, Features(f.pool, f.pool_labels[:, cols], f.validation,
                                                f.validation_labels[:, cols], f.test),
                         test_labels))
    return problems


def attribute_sample(protocol: Protocol, problems: list[tuple[str, Features, np.ndarray]],
                     probe: str, backend: str, attributes: list[str]) -> list[dict[str, Any]]:
    """The attribute protocol's evaluation of ``problems`` (no records written)."""
    return [{**evaluate_attributes(protocol, feats, test_labels, probe, tuple(attributes),
                                   backend), "level": level}
            for level, feats, test_labels in problems]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default="mnist-semisup")
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--level", action="append", default=None)
    parser.add_argument("--probe", action="append", default=None)
    parser.add_argument("--labels-per-class", action="append", default=None)
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--attribute", action="append", default=None)
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
            problems = (attribute_problems(one, model, args.level, args.attribute)
                        if args.attribute else None)  # loaded once for both backends
            for probe in args.probe or list(protocol.probes):
                rows = {}
                for backend in ("torch", "sklearn"):
                    t0 = time.perf_counter()
                    recs = (attribute_sample(one, problems, probe, backend, args.attribute)
                            if problems else
                            benchmark.run(one, [model], args.level, [probe], backend=backend,
                                          draws=args.draws))
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
                                "draws": len(fast["draws"]),
                                "attributes": args.attribute or "all",
                                "torch_mean": fast["mean"],
                                "sklearn_mean": ref["mean"], "abs_diff": diff,
                                "torch_seconds": t_fast, "sklearn_seconds": t_ref,
                                "torch_convergence": fast["convergence"],
                                "sklearn_convergence": ref["convergence"]}) + "\n")


if __name__ == "__main__":
    main()
