"""Time and peak memory of the full CelebA protocol for one learned level, on a full-size
fake CelebA.

A fake CelebA with the official partition (162,770 / 19,867 / 19,962 ids, real annotation
formats, 178x218 JPEGs) is written once to ``--fixture``. A fresh child process then runs
the ``celeba-attributes`` protocol with an empty cache: decode each split into the prepared
memory-mapped cache, extract one level of a 64 px model into the feature cache, then both
probes (L2-SVM and logistic) for all 40 attributes over the protocol's whole C grid, each
one batched solve. A sampler thread reads the child's /proc status every 50 ms.

Reported per stage: peak resident memory (VmHWM, which counts the memory-mapped cache pages
the process touched), peak anonymous memory (RssAnon: what the process itself allocated),
and the decode workers' peak. The bound to meet is 4 GB.

    python benchmarks/perf/celeba_full_protocol.py --fixture /tmp/celeba-full \\
        [--model hali-celeba64 --level concat] [--json results/perf/celeba-full-protocol.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BOUND_MB = 4096


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakSampler(threading.Thread):
    """Polls RssAnon; ``peak`` is the largest value since the last ``reset``."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0

    def run(self) -> None:
        while True:
            self.peak = max(self.peak, status_mb("RssAnon"))
            time.sleep(0.05)

    def reset(self) -> float:
        peak, self.peak = self.peak, status_mb("RssAnon")
        return peak


def child(model: str, level: str, fixture: Path) -> dict:
    """The measured run (in a fresh process)."""
    import numpy as np

    from halibench.evaluation.attributes import evaluate_attributes
    from halibench.evaluation.benchmark import BenchmarkData, features_for, model_sources
    from halibench.evaluation.protocols import load_protocol

    sampler = PeakSampler()
    sampler.start()
    protocol = load_protocol("celeba-attributes")
    data = BenchmarkData(protocol, fixture)
    stages = {}

    def stage(name: str, t0: float) -> None:
        stages[name] = {"seconds": round(time.perf_counter() - t0, 1),
                        "peak_anon_mb": round(sampler.reset(), 1),
                        "peak_rss_mb_so_far": round(status_mb("VmHWM"), 1)}
        print(name, stages[name], flush=True)

    t0 = time.perf_counter()
    for role in ("pool", "validation", "test"):
        data.split(role)
    stage("prepare", t0)
    t0 = time.perf_counter()
    (source,) = model_sources(model, [level], data.image_shape())
    feats = features_for(source, data, use_cache=True)
    stage("features", t0)
    test_labels = np.asarray(data.split("test").labels)
    results = {}
    for probe in ("l2svm", "linear"):
        t0 = time.perf_counter()
        res = evaluate_attributes(protocol, feats, test_labels, probe,
                                  data.split("test").label_names, backend="torch")
        results[probe] = {"mean_balanced_accuracy": res["mean"],
                          "attributes": res["attributes_evaluated"],
                          "c_values": len(protocol.c_grid(probe)),
                          "convergence": res["convergence"]}
        stage(f"probe_{probe}_40_attributes", t0)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"stages": stages, "probe_level": level, "features": list(feats.pool.shape),
            "probes": results, "peak_rss_mb": round(status_mb("VmHWM"), 1),
            "peak_anon_mb": round(max(s["peak_anon_mb"] for s in stages.values()), 1),
            "decode_workers_peak_rss_mb": round(children, 1),
            "rows": {r: len(data.split(r).labels) for r in ("pool", "validation", "test")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, required=True,
                        help="Folder for the fake CelebA (written if absent, then reused).")
    parser.add_argument("--model", default="hali-celeba64",
                        help="Shipped checkpoint, folder, or untrained-hali.")
    parser.add_argument("--level", default="concat",
                        help="The level to evaluate (hali-celeba64's concat: 384 dims).")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    celeba = args.fixture / "celeba"
    if args.child:
        print("RESULT " + json.dumps(child(args.model, args.level, args.fixture)), flush=True)
        return
    if not (celeba / "list_eval_partition.txt").is_file():
        from halibench.data.celeba import ATTR_FILE, PARTITION_FILE
        from halibench.data.fake_celeba import OFFICIAL_COUNTS, write_fake_celeba

        t0 = time.perf_counter()
        write_fake_celeba(celeba, OFFICIAL_COUNTS, distinct_images=256)
        print(f"fixture: {sum(OFFICIAL_COUNTS)} images in {time.perf_counter() - t0:.0f} s "
              f"({ATTR_FILE.name}, {PARTITION_FILE.name}, JPEGs)", flush=True)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "HALIBENCH_CACHE": cache}
        proc = subprocess.run([sys.executable, __file__, "--child", "--fixture",
                               str(args.fixture), "--model", args.model, "--level",
                               args.level], env=env,
                              capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    result_line = next((ln for ln in lines if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or result_line is None:
        sys.exit(f"child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(result_line.removeprefix("RESULT "))
    result.update({"bound_mb": BOUND_MB, "model": args.model, "level": args.level,
                   "within_bound": result["peak_rss_mb"] < BOUND_MB
                   and result["decode_workers_peak_rss_mb"] < BOUND_MB,
                   "python": platform.python_version(), "platform": platform.platform(),
                   "cpus": os.cpu_count()})
    print(json.dumps(result, indent=2))
    if args.json:
        from halibench.io import write_json_atomic

        write_json_atomic(args.json, result)


if __name__ == "__main__":
    main()
