"""Probe speed: the batched Newton-CG solver against per-fit scikit-learn references.

1. mnist-semisup, 100 labels, ``--draws`` draws x 50 C values, L2-SVM on raw pixels: the
   batched solve (whole evaluation, validation choice included) against LinearSVC fitted
   once per (draw, C), as the protocol did before; the reference is timed on
   ``--reference-draws`` draws and scaled to all draws.
2. celeba-attributes-subset (when the CelebA images are present), HOG and raw pixels, both
   probes, 40 attributes x the protocol's C grid: the batched evaluation against the
   reference estimator timed on ``--sample-fits`` random (C, attribute) fits and scaled.
3. A cold run of make demo's benchmark (feature extraction + probes, empty cache) against
   a cached rerun of the same command (features and probe outcomes from the cache).

Every ratio is measured in this one process; run it on an otherwise idle machine.

    HALIBENCH_DATA=../shared/data python benchmarks/perf/probe_speed.py [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from sklearn.svm import LinearSVC

from halibench.evaluation import benchmark
from halibench.evaluation.attributes import evaluate_attributes
from halibench.evaluation.classification import evaluate
from halibench.evaluation.protocols import balanced_draws, load_protocol
from halibench.probes.registry import get_probe


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def mnist_svm(draws: int, reference_draws: int) -> dict:
    protocol = replace(load_protocol("mnist-semisup"), labels_per_class=(10,))
    data = benchmark.BenchmarkData(protocol, None)
    (source,) = benchmark.model_sources("raw-pixels", None, data.image_shape())
    feats = benchmark.features_for(source, data, True)
    test_y = data.split("test").labels
    res, t_fast = timed(lambda: evaluate(protocol, feats, test_y, "l2svm", 10, draws))
    grid = protocol.c_grid("l2svm")
    picks = balanced_draws(feats.pool_labels, 10, reference_draws, protocol.seed)

    def reference() -> None:
        for idx in picks:
            for c in grid:
                LinearSVC(C=float(c), tol=1e-4, max_iter=1000, random_state=0).fit(
                    feats.pool[idx], feats.pool_labels[idx]).predict(feats.validation)

    _, t_sample = timed(reference)
    t_ref = t_sample * draws / reference_draws
    return {"setting": f"mnist-semisup 100 labels, {draws} draws x {len(grid)} C, raw pixels, "
                       "L2-SVM", "batched_s": round(t_fast, 1),
            "reference_s": round(t_ref, 1),
            "reference_measured": f"{reference_draws} draws in {t_sample:.1f} s",
            "ratio": round(t_ref / t_fast, 1), "batched_mean_error": round(res["mean"], 2)}


def celeba(model: str, probe: str, sample_fits: int) -> dict:
    protocol = load_protocol("celeba-attributes-subset")
    data = benchmark.BenchmarkData(protocol, None)
    (source,) = benchmark.model_sources(model, None, data.image_shape())
    feats = benchmark.features_for(source, data, True)
    test_y = np.asarray(data.split("test").labels)
    names = data.split("test").label_names
    res, t_fast = timed(lambda: evaluate_attributes(protocol, feats, test_y, probe, names))
    grid = protocol.c_grid(probe)
    rng = np.random.default_rng(0)
    fits = [(float(grid[rng.integers(len(grid))]), int(rng.integers(len(names))))
            for _ in range(sample_fits)]
    estimator = get_probe(probe).estimator

    def reference() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for c, j in fits:
                estimator(C=c, backend="sklearn").fit(feats.pool, feats.pool_labels[:, j])

    _, t_sample = timed(reference)
    t_ref = t_sample / sample_fits * len(grid) * len(names)
    return {"setting": f"celeba-attributes-subset, {model}, {probe}, {len(names)} attributes x "
                       f"{len(grid)} C", "batched_s": round(t_fast, 1),
            "reference_s": round(t_ref, 1),
            "reference_measured": f"{sample_fits} fits in {t_sample:.1f} s",
            "ratio": round(t_ref / t_fast, 1),
            "batched_mean_balanced_accuracy": round(res["mean"], 2)}


def cached_rerun(models: list[str]) -> dict:
    protocol = replace(load_protocol("mnist-semisup"), labels_per_class=(10,))

    def demo() -> list[dict]:
        return benchmark.run(protocol, models, None, ["l2svm", "knn"])

    with tempfile.TemporaryDirectory() as cache:
        os.environ["HALIBENCH_CACHE"] = cache
        _, t_cold = timed(demo)
        _, t_warm = timed(demo)
    return {"setting": f"make demo's benchmark ({', '.join(models)}; l2svm, knn; 100 labels)",
            "cold_s": round(t_cold, 1), "cached_s": round(t_warm, 1),
            "ratio": round(t_cold / t_warm, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--reference-draws", type=int, default=10)
    parser.add_argument("--sample-fits", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", nargs="*", choices=["mnist", "celeba", "cached"],
                        default=["mnist", "celeba", "cached"], help="Sections to run.")
    args = parser.parse_args()
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": []}
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HALIBENCH_CACHE"] = cache
        if "mnist" in args.only:
            out["rows"].append(mnist_svm(args.draws, args.reference_draws))
            print(out["rows"][-1], flush=True)
        if "celeba" in args.only and _celeba_present():
            for model in ("hog", "raw-pixels"):
                for probe in ("l2svm", "linear"):
                    out["rows"].append(celeba(model, probe, args.sample_fits))
                    print(out["rows"][-1], flush=True)
        if "cached" in args.only:
            out["rows"].append(cached_rerun(["hali-mnist", "ali-mnist", "bigan-mnist",
                                             "raw-pixels"]))
            print(out["rows"][-1], flush=True)
    if args.json:
        from halibench.io import write_json_atomic

        write_json_atomic(args.json, out)


def _celeba_present() -> bool:
    from halibench.data import data_root

    return (data_root(None) / "celeba" / "img_align_celeba").is_dir()


if __name__ == "__main__":
    main()
