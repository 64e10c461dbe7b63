"""The feature cache streams: chunks in, memory-mapped files out, nothing half-written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from halibench.data.root import cache_root
from halibench.features.cache import cached_features, feature_path
from halibench.features.sources import ModelSource, RawPixels
from halibench.models import build_model, preset

DATA = "toy:train:abc[0:10]"


class CountingPixels(RawPixels):
    """Raw pixels that remember the size of every chunk they were given."""

    def transform(self, images: np.ndarray) -> np.ndarray:
        self.seen.append(len(images))
        return super().transform(images)


def images(n: int = 10) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 1, 4, 4), dtype=np.uint8)


def test_features_are_written_chunk_by_chunk_and_read_back_mapped():
    source = CountingPixels("raw-pixels", "pixels", chunk_rows=3)
    source.seen = []
    feats = cached_features(source, DATA, images)
    assert source.seen == [3, 3, 3, 1]
    assert isinstance(feats, np.memmap)
    np.testing.assert_array_equal(feats, RawPixels("", "").transform(images()))
    source.seen = []
    again = cached_features(source, DATA, images)
    assert source.seen == [] and np.array_equal(again, feats)


def test_an_entry_rewritten_with_other_values_of_the_same_shape_is_recomputed(caplog):
    source = CountingPixels("raw-pixels", "pixels", chunk_rows=5)
    source.seen = []
    first = np.array(cached_features(source, DATA, images))
    path = feature_path(source, DATA)
    np.save(path, np.zeros_like(first))  # a valid entry of the right shape, other values
    source.seen = []
    again = cached_features(source, DATA, images)
    assert source.seen == [5, 5] and np.array_equal(again, first)
    assert "(its bytes are not those written); recomputing it" in caplog.text


class FailingPixels(CountingPixels):
    def transform(self, images: np.ndarray) -> np.ndarray:
        if len(self.seen) == 2:
            raise RuntimeError("disk full")
        return super().transform(images)


def test_a_failure_mid_stream_leaves_no_cache_file():
    source = FailingPixels("raw-pixels", "pixels", chunk_rows=3)
    source.seen = []
    with pytest.raises(RuntimeError, match="disk full"):
        cached_features(source, DATA, images)
    assert source.seen == [3, 3]
    assert list(feature_path(source, DATA).parent.glob("*")) == []


def test_model_levels_stream_together_and_match_in_memory_extraction():
    torch.manual_seed(0)
    net = build_model(preset("hali", "28px", 2, width=0.25)).eval()
    x = np.random.default_rng(1).integers(0, 256, (7, 1, 28, 28), dtype=np.uint8)
    source = ModelSource("toy-hali", "z1", checkpoint_sha256="x", network=net, batch_size=3,
                         sibling_levels=("z1", "z2"))
    z1 = cached_features(source, "toy:train:abc[0:7]", lambda: x)
    assert feature_path(source.for_level("z2"), "toy:train:abc[0:7]").is_file()
    np.testing.assert_allclose(z1, source.transform(x), rtol=1e-5, atol=1e-6)


def resident_file_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    pytest.skip("no RssFile in /proc/self/status")


@pytest.mark.skipif(not hasattr(__import__("mmap"), "MADV_DONTNEED"), reason="no madvise")
def test_streaming_a_mapped_split_does_not_keep_it_resident(tmp_path):
    from halibench.features.extract import iter_batches

    rows = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8,
                                     shape=(4096, 16384))  # 64 MiB
    rows[:] = np.arange(4096, dtype=np.uint8)[:, None]
    rows.flush()
    del rows
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")[8:]  # a view, as Split.take gives
    before = resident_file_kb()
    total = sum(int(b[:, 0].sum()) for b in iter_batches(mapped, 256))
    assert total == int(np.arange(8, 4096, dtype=np.uint8).astype(np.int64).sum())
    assert resident_file_kb() - before < 16 * 1024  # far below the 64 MiB streamed


def test_a_rerun_reuses_the_probe_outcome_and_no_cache_recomputes(tiny_mnist_root, tmp_path,
                                                                  monkeypatch):
    from test_harness import tiny_benchmarks

    from halibench.evaluation import benchmark, tasks
    from halibench.evaluation.protocols import load_protocol

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    protocol = load_protocol("mnist-semisup")
    calls = []
    real = tasks.evaluate
    monkeypatch.setattr(tasks, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    run = lambda **kw: benchmark.run(protocol, ["raw-pixels"], None, ["l2svm"],  # noqa: E731
                                     root=tiny_mnist_root, draws=2, **kw)
    (first,), (again,) = run(), run()
    assert len(calls) == 1 and again["reused_outcome"] and "reused_outcome" not in first
    assert again["mean"] == first["mean"] and again["draws"] == first["draws"]
    (path,) = (p for p in (cache_root() / "outcomes").glob("*.json")
               if not p.name.endswith(".content.json"))
    edited = json.loads(path.read_text())  # a consistent edit: draws, mean and std together
    edited["draws"] = [{**d, "test": 1.0} for d in edited["draws"]]
    edited["mean"], edited["std"] = 1.0, 0.0
    path.write_text(json.dumps(edited))
    (recomputed,) = run()
    assert len(calls) == 2 and recomputed["mean"] == first["mean"]
    (fresh,) = run(use_cache=False)
    assert len(calls) == 3 and "reused_outcome" not in fresh
    (other,) = benchmark.run(protocol, ["raw-pixels"], None, ["l2svm"], root=tiny_mnist_root,
                             draws=3)
    assert len(calls) == 4 and len(other["draws"]) == 3


def test_pca_axes_are_the_same_in_every_process_and_name_their_cache_entries():
    """Splits cached by different processes must share one fit: the axes are seeded and
    signed, and their hash is part of the entry's name (a regression: an unseeded fit in a
    second process once projected new splits on other axes than the cached pool)."""
    from halibench.features.sources import PCASource

    pool = np.random.default_rng(0).integers(0, 256, (60, 1, 8, 8), dtype=np.uint8)
    fits, axes = [], []
    for seed in (1, 2):
        torch.manual_seed(seed)
        source = PCASource("pca", "pixels", max_components=5, pool_key="p")
        fits.append(cached_features(source, "pool-id", lambda: pool,
                                    fit_pool=lambda: pool))
        axes.append(source.components_.copy())
    np.testing.assert_array_equal(axes[0], axes[1])
    np.testing.assert_array_equal(fits[0], fits[1])
    other = PCASource("pca", "pixels", max_components=5, pool_key="p")
    other.fit(pool)
    other.components_ = -other.components_
    assert feature_path(other, "pool-id") != feature_path(source, "pool-id")
