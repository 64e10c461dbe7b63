"""Probe speed on the MNIST-100 protocol (100 labels, 100 draws, 50 C values, L2-SVM).

1. Reference (scikit-learn LinearSVC, one fit per draw and C) vs the fast batched PyTorch
   solver, on the same features (raw pixels by default) and draws: wall time and ratio.
2. A cold run of the whole benchmark for a model level (feature extraction + probes, empty
   feature cache) vs a cached rerun (features from the cache + probes).

    HALIBENCH_DATA=../shared/data python benchmarks/perf/probe_speed.py \
        [--source raw-pixels] [--cache-source hali-mnist --cache-level hidden]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from dataclasses import replace

import torch

from halibench import benchmark
from halibench.evaluate import evaluate
from halibench.protocols import load_protocol


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="raw-pixels",
                        help="Feature source for the backend comparison.")
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--cache-source", default="hali-mnist",
                        help="Model for the cold vs cached comparison.")
    parser.add_argument("--cache-level", default="hidden")
    parser.add_argument("--cache-draws", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", module="sklearn")
    protocol = load_protocol("mnist-semisup")
    protocol = replace(protocol, labels_per_class=(10,))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.draws} draws x {len(protocol.c_grid('l2svm'))} C values, 100 labels")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HALIBENCH_CACHE"] = cache
        data = benchmark.BenchmarkData(protocol, None)
        (source,) = benchmark.model_sources(args.source, None, data.image_size())
        feats = benchmark.features_for(source, data, True)
        test_y = data.split("test").labels
        fast, t_fast = timed(lambda: evaluate(protocol, feats, test_y, "l2svm", 10,
                                              args.draws, backend="torch"))
        ref, t_ref = timed(lambda: evaluate(protocol, feats, test_y, "l2svm", 10,
                                            args.draws, backend="sklearn"))
        print("| backend | wall s | mean test error % |")
        print("|---|---|---|")
        print(f"| sklearn LinearSVC (reference) | {t_ref:.1f} | {ref['mean']:.2f} ± "
              f"{ref['std']:.2f} |")
        print(f"| torch batched dual | {t_fast:.1f} | {fast['mean']:.2f} ± {fast['std']:.2f} |")
        print(f"speed-up: {t_ref / t_fast:.1f}x; |difference of means| "
              f"{abs(fast['mean'] - ref['mean']):.3f} points")

        def whole_run():
            return benchmark.run(protocol, [args.cache_source], [args.cache_level],
                                 ["l2svm"], draws=args.cache_draws)

        os.environ["HALIBENCH_CACHE"] = tempfile.mkdtemp(dir=cache)
        (rec,), t_cold = timed(whole_run)
        _, t_warm = timed(whole_run)
        print(f"{args.cache_source} {args.cache_level}, {args.cache_draws} draws, L2-SVM "
              f"backend {rec['backend']}: cold cache {t_cold:.1f} s; cached rerun "
              f"{t_warm:.1f} s; ratio {t_cold / t_warm:.1f}x")


if __name__ == "__main__":
    main()
