"""Data throughput: prepared cache vs decoding the source files, for MNIST and CelebA.

For each dataset: time to first batch and images/s over a full pass in batches, (a) from the
prepared, memory-mapped cache (warm) and (b) decoding the official source files (cold cache).
Both run in this process on this machine; the ratio is cache images/s / source images/s.

    HALIBENCH_DATA=../shared/data python benchmarks/perf/data_throughput.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from halibench.data import load

CASES = {"mnist": "train", "celeba": "present"}


def full_pass(images: np.ndarray, batch: int) -> tuple[float, float]:
    """(seconds to the first batch, seconds for the pass) over float batches of ``images``."""
    t0 = time.perf_counter()
    first = None
    for start in range(0, len(images), batch):
        x = torch.from_numpy(np.array(images[start:start + batch])).float().div_(255)
        x.mean()
        if first is None:
            first = time.perf_counter() - t0
    return first, time.perf_counter() - t0


def measure(name: str, split: str, batch: int) -> dict:
    """Cold: decode the sources into an empty cache, then the first batch. Warm: open the
    prepared cache and iterate it."""
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HALIBENCH_CACHE"] = cache
        t0 = time.perf_counter()
        cold = load(name, split)
        t_decode = time.perf_counter() - t0
        cold_first, _ = full_pass(cold.images[:batch], batch)
        t0 = time.perf_counter()
        warm = load(name, split)
        t_open = time.perf_counter() - t0
        first, t_pass = full_pass(warm.images, batch)
    n = len(warm.images)
    source_rate, cache_rate = n / t_decode, n / (t_open + t_pass)
    return {"dataset": name, "split": split, "images": n,
            "source_first_batch_s": round(t_decode + cold_first, 3),
            "source_img_s": round(source_rate, 1),
            "cache_first_batch_s": round(t_open + first, 4),
            "cache_img_s": round(cache_rate, 1),
            "ratio": round(cache_rate / source_rate, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    print("| dataset | images | source: first batch s | source img/s | cache: first batch s "
          "| cache img/s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, split in CASES.items():
        r = measure(name, split, args.batch)
        print(f"| {name} {split} | {r['images']} | {r['source_first_batch_s']} | "
              f"{r['source_img_s']} | {r['cache_first_batch_s']} | {r['cache_img_s']} | "
              f"{r['ratio']}x |")


if __name__ == "__main__":
    main()
