"""Run a benchmark protocol for models and baselines: features, probes, records."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from halibench.data import Split
from halibench.data import load as load_split
from halibench.data.registry import get_dataset
from halibench.environment import environment
from halibench.errors import HalibenchError
from halibench.evaluation.classification import Features
from halibench.evaluation.gate import check_label_settings, preflight
from halibench.evaluation.own_classifier import (
    check_labelled_rows,
    check_trained_labels,
    require_trained,
)
from halibench.evaluation.protocol_schema import OWN_PROBE
from halibench.evaluation.protocols import Protocol, list_protocols
from halibench.evaluation.result_cache import cached_outcome, outcome_key, store_outcome
from halibench.evaluation.tasks import TASK_IMPLEMENTATIONS, Setting
from halibench.features.cache import cached_features, feature_path
from halibench.features.contract import OutputContractError
from halibench.features.identity import object_identity
from halibench.features.levels import checked_levels
from halibench.features.sources import BASELINES, FeatureSource, ModelSource, baseline_sources
from halibench.features.user import Encoder, UserCodeError, import_object, user_sources
from halibench.models import HierarchicalALI
from halibench.models.checkpoints import MODEL_FILE, is_training_output, load_named, read_index
from halibench.models.config import KINDS
from halibench.names import safe_name
from halibench.probes.registry import PROBES
from halibench.progress import progress as progress_bar
from halibench.report.results import deviation, write_record

log = logging.getLogger("halibench")


def shipped_for(protocol: Protocol) -> list[str]:
    """The shipped checkpoints a run of ``protocol`` evaluates by default: those of its
    dataset trained without labels; for an own-classifier protocol, those trained with its
    labelled draw (same label protocol, a label count it lists)."""
    own = protocol.task == "own-classifier"
    names = []
    for name, entry in read_index().items():
        trained = entry.get("trained_labels")
        if entry.get("dataset") != protocol.dataset or bool(trained) != own:
            continue
        if own and (trained.get("protocol") != protocol.name
                    or trained.get("labels_per_class") not in protocol.labels_per_class):
            continue
        names.append(name)
    return sorted(names)


def shipped_family(kind: str, dataset: str | None, say=None) -> str:
    """The shipped checkpoint of model family ``kind`` trained on ``dataset`` without labels
    (a checkpoint trained with labels is only ever chosen by its name)."""
    index = read_index()
    names = sorted(n for n, e in index.items() if e.get("model") == kind
                   and e.get("dataset") == dataset and not e.get("trained_labels"))
    if len(names) != 1:
        hint = ("pass the dataset (dataset=... in Python)" if dataset is None
                else f"name one of {sorted(index)}")
        raise HalibenchError(f"model family {kind!r}: {len(names)} shipped checkpoints for "
                             f"dataset {dataset!r} ({names}); {hint}")
    if say:
        say(f"{kind} -> {names[0]} (the shipped {kind} checkpoint for {dataset})")
    return names[0]


def network_sources(network: HierarchicalALI, name: str, sha: str, levels: list[str] | None,
                    image_shape: tuple[int, ...]) -> list[FeatureSource]:
    """A hierarchical model's sources per level (default: latents and concat)."""
    valid = network.feature_levels
    if levels and "classifier" in levels and network.encoder_only:
        raise HalibenchError(network.encoder_only)
    if levels and "classifier" in levels and "classifier" not in valid:
        raise HalibenchError(f"{name}: no 'classifier' level: it is not a semi-supervised model "
                             "(train one with --labels-per-class)")
    single = network.levels == 1  # concat would repeat z1
    chosen = checked_levels(levels, valid, name, default=[
        lv for lv in valid
        if lv not in ("hidden", "classifier") and not (single and lv == "concat")])
    if tuple(network.config.image_shape) != tuple(image_shape):
        raise HalibenchError(f"{name} takes images of shape {network.config.image_shape}, "
                             f"the images given are {tuple(image_shape)}")
    return [ModelSource(name, lv, checkpoint_sha256=sha, network=network,
                        sibling_levels=tuple(chosen)) for lv in chosen]


def taken_name(name: str, index: dict[str, Any] | None = None) -> bool:
    """Whether ``name``, or what it starts with before a decoration (``@sha``, ``:level``,
    a space, a bracket), is a shipped checkpoint's (in ``index``, default: the index in
    use), a model family's or a baseline's, in any letter case, ``_`` read as ``-``."""
    def folded(text: str) -> str:
        return text.lower().replace("_", "-")

    stem = folded(re.split(r"[@:#\s(\[]", name.strip())[0])
    taken = {*(read_index() if index is None else index), *KINDS, *BASELINES}
    return stem in {folded(t) for t in taken}


def check_own_name(name: str) -> None:
    """Refuse, for a user's object, the name of a shipped checkpoint, model family or
    baseline: its rows would pass for ours on the leaderboard."""
    if not isinstance(name, str):
        raise HalibenchError(f"encoder name {name!r}: a {type(name).__name__}; pass a text "
                             "name (name=\"my-encoder\")")
    if taken_name(name):
        raise HalibenchError(f"encoder name {name!r}: the name of a shipped checkpoint, model "
                             "family or baseline; give your encoder a name of its own "
                             "(name=... in Python)")


def check_folder_name(spec: str | Path, name: str) -> None:
    """Refuse a training run's folder (or one of its steps) named like a shipped checkpoint,
    model family or baseline: its records and figures would pass for ours. An exported
    checkpoint under its own name (the checkout's ``checkpoints/NAME``, or an earlier one
    from an older checkout) is recorded under that name with its sha256."""
    index = read_index()
    by_path = str(spec) not in index  # a shipped name resolves through the index
    if by_path and taken_name(name, index) and is_training_output(Path(spec)):
        raise HalibenchError(f"model {str(spec)!r}: a training run's folder named {name!r}, "
                             "the name of a shipped checkpoint, model family or baseline; "
                             "rename the folder, or in Python pass name=... (its records "
                             "would pass for ours)")


def model_sources(spec: str | Encoder, levels: list[str] | None, image_shape: tuple[int, ...],
                  dataset: str | None = None, say=None, rows: int = 0) -> list[FeatureSource]:
    """Feature sources per level of: a baseline, a model family (its shipped checkpoint for
    ``dataset``), a shipped checkpoint name or folder, an import string
    ``package.module:attribute``, or an ``Encoder`` (a loaded model or a user's object).
    A user's encoder is probed for the output contract, ``rows`` images' worth of it."""
    if isinstance(spec, Encoder):
        loaded = spec.loaded
        if loaded is not None and spec.name == loaded.name:  # halibench.load's, unchanged
            check_folder_name(loaded.source, loaded.name)
            return network_sources(spec.obj, loaded.name, loaded.sha256, levels, image_shape)
        check_own_name(spec.name)
        if isinstance(spec.obj, HierarchicalALI):
            return network_sources(spec.obj, safe_name(spec.name, "encoder name"),
                                   object_identity(spec.obj), levels, image_shape)
        return user_sources(spec.obj, spec.name, levels, image_shape, rows)
    if spec in BASELINES:
        return baseline_sources(spec, tuple(levels) if levels else None, image_shape[-1])
    if spec in KINDS:  # a model family stands for its shipped checkpoint of the dataset
        spec = shipped_family(spec, dataset, say)
    if ":" in spec and not Path(spec).exists():
        return model_sources(Encoder(spec, import_object(spec)), levels, image_shape,
                             rows=rows)
    if spec not in read_index() and not Path(spec).exists():
        if "/" in spec or "\\" in spec or spec.startswith("."):
            raise HalibenchError(f"model {spec!r}: no such checkpoint folder")
        raise HalibenchError(f"unknown model {spec!r}; valid: shipped {sorted(read_index())}, "
                             f"families {list(KINDS)}, baselines {list(BASELINES)}, a "
                             "checkpoint folder, or package.module:attribute")
    # the own classifier is the discriminator: it needs the full checkpoint, not the encoder
    network, config, name = load_named(spec, decoders=bool(levels and "classifier" in levels))
    check_folder_name(spec, name)
    return network_sources(network, name, config["sha256"][MODEL_FILE], levels, image_shape)


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

    def image_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.split("pool").images.shape[1:])


def features_for(source: FeatureSource, data: BenchmarkData, use_cache: bool) -> Features:
    protocol = data.protocol
    if hasattr(source, "pool_key"):
        source.pool_key = data.split("pool").identity

    def feats(role: str) -> np.ndarray:
        try:
            return cached_features(source, data.split(role).identity,
                                   lambda: data.split(role).images, use_cache,
                                   fit_pool=lambda: data.split("pool").images)
        except (OutputContractError, UserCodeError) as e:  # say which images it was
            raise type(e)(f"{e} (computing the {role} images' features)") from e

    return assemble({role: feats(role) for role in feature_roles(protocol)}, data,
                    f"{source.model}, level {source.level!r}")


def feature_roles(protocol: Protocol) -> list[str]:
    """The splits whose features the task reads: the own-classifier task fits nothing, so it
    reads the validation and test images' class logits, not the pool's."""
    own = protocol.task == "own-classifier"
    return [role for role in protocol.splits if not (own and role == "pool")]


def assemble(by_role: dict[str, np.ndarray], data: BenchmarkData, what: str) -> Features:
    """A probe's ``Features`` from each split's features: widths checked, standardized
    with the pool's statistics where the protocol says so. A split left out (the pool, for
    a task that fits nothing) has zero rows of the same width."""
    protocol = data.protocol
    val, test = by_role.get("validation"), by_role["test"]
    pool = by_role.get("pool", np.empty((0, test.shape[1]), dtype=test.dtype))
    widths = {role: f.shape[1] for role, f in by_role.items()}
    if len(set(widths.values())) > 1:
        raise OutputContractError(f"{what}: features per image differ between splits "
                                  f"{widths}")
    if protocol.standardize:
        mean, std = pool.mean(0), pool.std(0) + 1e-8
        pool, test = (pool - mean) / std, (test - mean) / std
        val = None if val is None else (val - mean) / std
    return Features(pool, np.asarray(data.split("pool").labels), val,
                    None if val is None else np.asarray(data.split("validation").labels), test)


def cache_note(source: FeatureSource, use_cache: bool) -> str:
    """What the record says of the feature cache for ``source``."""
    if not source.cacheable:
        return "off: the source's identity cannot be established (e.g. a plain function)"
    return "used" if use_cache else "recomputed (--no-cache)"


@dataclass
class Plan:
    """An evaluation with everything checked and resolved, nothing computed yet."""

    protocol: Protocol
    data: BenchmarkData
    sources: list[FeatureSource]
    settings_of: dict[int, tuple[int | str, ...]]
    probes: list[str]
    n_draws: int
    device: str
    full: bool
    backend: str


def prepare(protocol: Protocol, models: list[str | Encoder], levels: list[str] | None,
            probes: list[str] | None, *, full: bool = False, root: str | Path | None = None,
            backend: str = "torch", draws: int | None = None, results_dir: Path | None = None,
            progress=None, device: str = "cpu") -> Plan:
    """Everything an evaluation will use, checked (``gate.preflight``, then every source and
    label setting) before the first feature is extracted."""
    device = preflight(results_dir, device, draws, backend)
    models = distinct(models)  # a model, level or probe named twice is evaluated once
    probes, levels = checked_request(protocol, models, distinct(levels), distinct(probes),
                                     full, draws)
    data = BenchmarkData(protocol, root)
    shape = data.image_shape()
    pool_labels = np.asarray(data.split("pool").labels)
    check_label_settings(protocol, pool_labels, probes)
    sources = resolved_sources(protocol, models, levels, shape, progress)
    settings = {id(s): label_settings(protocol, s, pool_labels) for s in sources}
    return Plan(protocol, data, sources, settings,
                probes, draws or protocol.n_draws(full), device, full, backend)


def distinct(items: list[Any] | None) -> list[Any] | None:
    """``items`` without repeats, in order (a user's encoder objects by identity)."""
    if items is None:
        return None
    seen: dict[Any, Any] = {}
    for item in items:
        seen.setdefault(item if isinstance(item, str) else id(item), item)
    return list(seen.values())


def checked_request(protocol: Protocol, models: list[str | Encoder], levels: list[str] | None,
                    probes: list[str] | None, full: bool = False, draws: int | None = None
                    ) -> tuple[list[str], list[str] | None]:
    """(probes, levels) of a request, checked against the protocol; needs no images."""
    probes = probes or list(protocol.probes)
    bad = [p for p in probes if p not in PROBES]
    if bad:
        raise HalibenchError(f"unknown probe(s) {bad}; valid probes: {list(PROBES)}")
    levels = task_levels(protocol, probes, levels, full, draws)
    baselines = [m for m in models if isinstance(m, str) and m in BASELINES]
    if protocol.task == "own-classifier" and baselines:
        raise HalibenchError(f"{baselines[0]}: a baseline has no classifier of its own; "
                             f"{protocol.name} scores models trained with --labels-per-class: "
                             "pass --model RUN_FOLDER (or a checkpoint)")
    return probes, levels


def resolved_sources(protocol: Protocol, models: list[str | Encoder], levels: list[str] | None,
                     shape: tuple[int, ...], progress=None) -> list[FeatureSource]:
    """Every model's sources at ``levels``, for images of ``shape``: every name and level is
    resolved before the first evaluation writes anything."""
    rows = sum(r.stop - r.start for r in protocol.splits.values())
    return [s for spec in models
            for s in model_sources(spec, levels, shape, protocol.dataset, progress, rows)]


def check_without_data(protocol: Protocol, models: list[str | Encoder],
                       levels: list[str] | None, probes: list[str] | None,
                       draws: int | None = None) -> None:
    """What ``prepare`` checks that needs no images (probes, levels, models at the dataset's
    declared image shape), for a request whose dataset is not here."""
    probes, levels = checked_request(protocol, models, levels, probes, draws=draws)
    for source in resolved_sources(protocol, models, levels,
                                   get_dataset(protocol.dataset).image_shape):
        label_settings(protocol, source)


def run(protocol: Protocol, models: list[str | Encoder], levels: list[str] | None,
        probes: list[str] | None, *, full: bool = False, root: str | Path | None = None,
        use_cache: bool = True, backend: str = "torch", draws: int | None = None,
        results_dir: Path | None = None, progress=None, device: str = "cpu"
        ) -> list[dict[str, Any]]:
    """Evaluate every (model, level, probe, label count); write one record per evaluation.
    Everything is checked (``prepare``) before the first feature is extracted."""
    plan = prepare(protocol, models, levels, probes, full=full, root=root, backend=backend,
                   draws=draws, results_dir=results_dir, progress=progress, device=device)
    return execute(plan, use_cache=use_cache, results_dir=results_dir, progress=progress)


def execute(plan: Plan, *, use_cache: bool = True, results_dir: Path | None = None,
            progress=None) -> list[dict[str, Any]]:
    """The prepared evaluations: features, probes, one record each (written when
    ``results_dir`` is given)."""
    protocol, data, probes, n_draws, device = (plan.protocol, plan.data, plan.probes,
                                               plan.n_draws, plan.device)
    sources, settings_of, full, backend = (plan.sources, plan.settings_of, plan.full,
                                           plan.backend)
    test_labels = np.asarray(data.split("test").labels)
    label_names = tuple(data.split("test").label_names)
    task = TASK_IMPLEMENTATIONS[protocol.task]
    data_identity = {role: data.split(role).identity for role in protocol.splits}
    records = []
    settings = len(probes) * sum(len(v) for v in settings_of.values())
    with progress_bar(settings, protocol.name, "setting") as bar:
        for source in sources:
            t0 = time.perf_counter()
            feats = features_for(source, data, use_cache)
            warn_constant(feats.pool if len(feats.pool) else feats.test, source)
            if progress:
                progress(f"{source.model} {source.level}: features in "
                         f"{time.perf_counter() - t0:.1f} s")
            for probe, lpc in product(probes, settings_of[id(source)]):
                t0 = time.perf_counter()
                bar.set_postfix_str(f"{source.model} {source.level} {probe} {lpc}/class")
                key = outcome_key({
                    "features": [feature_path(source, data.split(r).identity).name
                                 for r in protocol.splits],
                    "protocol": protocol.sha256, "probe": probe, "labels": lpc,
                    "draws": n_draws, "backend": backend, "device": device.split(":")[0]})
                reusable = use_cache and source.cacheable and all(data_identity.values())
                res = cached_outcome(key) if reusable else None
                if res is not None:
                    res = {**res, "reused_outcome": key}
                else:
                    res = task.evaluate(Setting(
                        protocol, feats, test_labels, label_names, probe, lpc, n_draws,
                        backend=backend, device=device, variants=source.variants,
                        trained_labels=source.trained_labels, model=source.model))
                if reusable and "reused_outcome" not in res:
                    store_outcome(key, res)
                record = {**record_fields(protocol, source, probe, full, use_cache),
                          "data": data_identity, **res, "environment": environment()}
                record["deviation"] = deviation(record)
                if results_dir is not None:
                    record["path"] = str(write_record(results_dir, record))
                records.append(record)
                bar.update(1)
                if progress:
                    progress(f"{source.model} {source.level} {probe} {lpc}/class: "
                             f"{record['mean']:.2f} in {time.perf_counter() - t0:.1f} s"
                             + (" (cached outcome)" if "reused_outcome" in res else ""))
    warn_grid_edges(records)
    return records


def task_levels(protocol: Protocol, probes: list[str], levels: list[str] | None,
                full: bool = False, draws: int | None = None) -> list[str] | None:
    """The levels to evaluate: the own-classifier task reads the ``classifier`` level with
    its probe ``own``, in its one draw; no other task reads either."""
    own = protocol.task == "own-classifier"
    if own and (probes != [OWN_PROBE] or (levels and levels != ["classifier"])):
        raise HalibenchError(f"{protocol.name} scores a semi-supervised model's own classifier: "
                             f"probe {OWN_PROBE!r}, level 'classifier' (got probes {probes}, "
                             f"levels {levels or 'default'})")
    if own and (full or draws):
        raise HalibenchError(f"--full/--draws: {protocol.name} has one draw, the one the model "
                             "trained with; drop the option")
    if not own and OWN_PROBE in probes:
        raise HalibenchError(f"--probe {OWN_PROBE}: {protocol.name} probes frozen features; a "
                             "model's own classifier is scored by an own-classifier protocol, "
                             f"e.g. {own_protocol_hint(protocol)}")
    if not own and levels and "classifier" in levels:
        raise HalibenchError(f"--level classifier: the class logits were trained on labels, "
                             f"not frozen features; score them with an own-classifier "
                             f"protocol (e.g. {own_protocol_hint(protocol)}), not {protocol.name}")
    return ["classifier"] if own else levels


def own_protocol_hint(protocol: Protocol) -> str:
    """The own-classifier twin of a frozen-feature protocol where one ships, else MNIST's."""
    twin = f"{protocol.name}-own"
    return twin if twin in list_protocols() else "mnist-semisup-own"


def label_settings(protocol: Protocol, source: FeatureSource,
                   pool_labels: np.ndarray | None = None) -> tuple[int | str, ...]:
    """The label settings to evaluate ``source`` at: all of the protocol's, except for the
    own-classifier task, which scores a model at the one it trained with (and, given the
    pool's labels, only on the labelled rows its checkpoint records)."""
    if protocol.task != "own-classifier":
        return protocol.labels_per_class
    trained = require_trained(protocol, source.trained_labels, source.model)
    count = trained.get("labels_per_class")
    if count not in protocol.labels_per_class:
        raise HalibenchError(f"{source.model}: trained with {count} labels per class, the "
                             f"setting(s) asked for are {list(protocol.labels_per_class)}; pass "
                             f"--labels-per-class {count}")
    check_trained_labels(protocol, trained, count, source.model)
    if pool_labels is not None:
        check_labelled_rows(protocol, pool_labels, trained, source.model)
    return (count,)


def record_fields(protocol: Protocol, source: FeatureSource, probe: str, full: bool,
                  use_cache: bool) -> dict[str, Any]:
    """What a record says of the protocol, the source and the setting."""
    return {"benchmark": protocol.name, "protocol_version": protocol.version,
            "protocol_sha256": protocol.sha256, "dataset": protocol.dataset,
            "model": source.model, "level": source.level,
            "representation": source.representation,
            "checkpoint_sha256": source.checkpoint_sha256, "probe": probe,
            "metric": protocol.metric, "seed": protocol.seed, "full": full,
            "trained_labels": source.trained_labels,
            "standardize": protocol.standardize, "subset": protocol.subset,
            "feature_cache": cache_note(source, use_cache)}


def warn_constant(features: np.ndarray, source: FeatureSource, rows: int = 1000) -> None:
    """One warning line when a source's features do not vary over the first images (the
    pool's, else the test split's): every probe would then predict one class."""
    if float(np.ptp(np.asarray(features[:rows], dtype=np.float32),
                    axis=0).max(initial=0.0)) == 0:
        log.warning("warning: %s %s gives the same features for the first %d images; "
                    "probes on it can only guess one class", source.model, source.level,
                    min(rows, len(features)))


def warn_grid_edges(records: list[dict[str, Any]]) -> None:
    """One warning line naming every setting whose chosen hyper-parameter sat at an end of
    its grid in some draw (or attribute): its optimum may lie outside the grid."""
    hits = [f"{r['model']} {r['level']} {r['probe']} {r['labels_per_class']}/class "
            f"({r['grid_edges']['at_edge']} of {r['grid_edges']['of']})"
            for r in records if (r.get("grid_edges") or {}).get("at_edge")]
    if hits:
        log.warning("warning: the probe's chosen C is at an end of its grid for %s; the "
                    "optimum may lie outside the grid (see the records' 'grid_edges')",
                    "; ".join(hits))
