"""Run a benchmark protocol for models and baselines: features, probes, records."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from halibench.attributes import evaluate_attributes
from halibench.checkpoints import MODEL_FILE, load_checkpoint, locate, read_index
from halibench.data import Split
from halibench.data import load as load_split
from halibench.environment import environment
from halibench.errors import CheckpointError, HalibenchError
from halibench.evaluate import Features, evaluate
from halibench.feature_cache import cached_features
from halibench.feature_sources import BASELINES, FeatureSource, ModelSource, baseline_sources
from halibench.features import level_names
from halibench.probes.registry import PROBES
from halibench.protocols import Protocol
from halibench.results import write_record


def shipped_for(dataset: str) -> list[str]:
    return sorted(n for n, e in read_index().items() if e.get("dataset") == dataset)


def model_sources(spec: str, levels: list[str] | None, image_size: int) -> list[FeatureSource]:
    """Feature sources of a model name (baseline, shipped checkpoint or folder) per level."""
    if spec in BASELINES:
        try:
            return baseline_sources(spec, tuple(levels) if levels else None, image_size)
        except ValueError as e:
            raise HalibenchError(f"{spec}: {e}") from None
    try:
        folder, expected, name = locate(spec)
    except CheckpointError:
        raise HalibenchError(f"unknown model {spec!r}; valid: shipped {sorted(read_index())}, "
                             f"baselines {list(BASELINES)}, or a checkpoint folder") from None
    network, config = load_checkpoint(folder, expected)
    sha = config["sha256"][MODEL_FILE]
    valid = level_names(network)
    single = network.levels == 1  # concat would repeat z1
    chosen = levels or [lv for lv in valid if lv != "hidden" and not (single and lv == "concat")]
    bad = [lv for lv in chosen if lv not in valid]
    if bad:
        raise HalibenchError(f"unknown level(s) {bad} for {spec}; valid levels: {valid}")
    if config.get("model", {}).get("family") and network.config.image_shape[-1] != image_size:
        raise HalibenchError(f"{spec} takes {network.config.image_shape[-1]} px images, this "
                             f"benchmark has {image_size} px")
    return [ModelSource(name, lv, checkpoint_sha256=sha, network=network,
                        sibling_levels=tuple(chosen)) for lv in chosen]


@dataclass
class BenchmarkData:
    """Images and labels of a protocol's splits (lazily decoded, memory-mapped, loaded once
    per role)."""

    protocol: Protocol
    root: str | Path | None
    loaded: dict[str, Split] = field(default_factory=dict)

    def split(self, role: str) -> Split:
        if role not in self.loaded:
            rng = self.protocol.splits[role]
            split = load_split(self.protocol.dataset, rng.split, self.root)
            self.loaded[role] = split.take(rng.start, rng.stop)
        return self.loaded[role]

    def image_size(self) -> int:
        return int(self.split("pool").images.shape[-1])


def features_for(source: FeatureSource, data: BenchmarkData, use_cache: bool) -> Features:
    protocol = data.protocol
    if hasattr(source, "pool_key"):
        source.pool_key = data.split("pool").identity

    def feats(role: str) -> np.ndarray:
        return cached_features(source, data.split(role).identity,
                               lambda: data.split(role).images, use_cache,
                               fit_pool=lambda: data.split("pool").images)

    has_val = "validation" in protocol.splits
    pool, val, test = feats("pool"), feats("validation") if has_val else None, feats("test")
    if protocol.standardize:
        mean, std = pool.mean(0), pool.std(0) + 1e-8
        pool, test = (pool - mean) / std, (test - mean) / std
        val = None if val is None else (val - mean) / std
    return Features(pool, np.asarray(data.split("pool").labels), val,
                    None if val is None else np.asarray(data.split("validation").labels), test)


def run(protocol: Protocol, models: list[str], levels: list[str] | None,
        probes: list[str] | None, *, full: bool = False, root: str | Path | None = None,
        use_cache: bool = True, backend: str = "torch", draws: int | None = None,
        results_dir: Path | None = None, progress=None, device: str = "cpu"
        ) -> list[dict[str, Any]]:
    """Evaluate every (model, level, probe, label count); write one record per evaluation."""
    probes = probes or list(protocol.probes)
    bad = [p for p in probes if p not in PROBES]
    if bad:
        raise HalibenchError(f"unknown probe(s) {bad}; valid probes: {list(PROBES)}")
    data = BenchmarkData(protocol, root)
    size = data.image_size()
    n_draws = draws or protocol.n_draws(full)
    test_labels = np.asarray(data.split("test").labels)
    # Every name and level is resolved before the first evaluation writes anything.
    sources = [s for spec in models for s in model_sources(spec, levels, size)]
    data_identity = {role: data.split(role).identity for role in protocol.splits}
    records = []
    for source in sources:
        feats = features_for(source, data, use_cache)
        for probe, lpc in product(probes, protocol.labels_per_class):
            if progress:
                progress(f"{source.model} {source.level} {probe} {lpc}/class")
            if protocol.task == "attributes":
                res = evaluate_attributes(protocol, feats, test_labels, probe,
                                          data.split("test").label_names, backend,
                                          device=device)
            else:
                res = evaluate(protocol, feats, test_labels, probe, lpc, n_draws,
                               backend=backend, variants=source.variants, device=device)
            record = {
                "benchmark": protocol.name, "protocol_version": protocol.version,
                "protocol_sha256": protocol.sha256, "dataset": protocol.dataset,
                "model": source.model, "level": source.level,
                "representation": source.representation,
                "checkpoint_sha256": source.checkpoint_sha256, "probe": probe,
                "metric": protocol.metric, "seed": protocol.seed, "full": full,
                "standardize": protocol.standardize, "subset": protocol.subset,
                "data": data_identity, **res, "environment": environment()}
            if results_dir is not None:
                record["path"] = str(write_record(results_dir, record))
            records.append(record)
    return records
