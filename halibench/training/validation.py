"""Stop on validation, not on a schedule: score a model in training with a protocol whose
"test" rows are held-out training rows (``mnist-recipe-validation``: the 100-label L2-SVM,
C chosen on train[50000:55000], error on train[55000:60000]), and keep the best step.

The score of a step is its best level's metric under the protocol's first probe and first
label setting (a semi-supervised model's: the error of its own classifier on the protocol's
"test" rows, with the frozen-feature score of z1 beside it); it is computed exactly as
``halibench run PROTOCOL --model CHECKPOINT`` would (the same features, draws and selection)
but nothing is cached or recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from halibench.errors import HalibenchError
from halibench.evaluation.benchmark import BenchmarkData, assemble, network_sources
from halibench.evaluation.own_classifier import error_percent
from halibench.evaluation.protocols import Protocol, SplitRange, list_protocols, load_protocol
from halibench.evaluation.tasks import TASK_IMPLEMENTATIONS, Setting
from halibench.features.extract import extract_features
from halibench.models import HierarchicalALI
from halibench.training.config import TrainConfig

LOWER_IS_BETTER = {"error"}


def shipped_test_rows(dataset: str) -> dict[str, SplitRange]:
    """The test rows of every shipped benchmark on ``dataset``, by protocol name: rows no
    stopping rule may read. The shipped validation protocols (``*-recipe-validation``) are
    left out: their "test" rows are held-out training rows."""
    out = {}
    for name in list_protocols():
        protocol = load_protocol(name)
        if protocol.dataset == dataset and not name.endswith("-recipe-validation"):
            out[name] = protocol.splits["test"]
    return out


def overlapping(r: SplitRange, split: str, start: int, stop: int) -> bool:
    return r.split == split and r.start < stop and start < r.stop


def validation_protocol(name: str, dataset: str) -> Protocol:
    """The protocol ``name`` (shipped name or ``.toml`` path), checked to be about
    ``dataset`` and never to read a test split or a shipped benchmark's test rows."""
    protocol = load_protocol(name)
    if protocol.dataset != dataset:
        raise HalibenchError(f"--validation {name}: a protocol on {protocol.dataset}, the "
                             f"model trains on {dataset}; give a {dataset} validation protocol")
    if any(r.split == "test" for r in protocol.splits.values()):
        raise HalibenchError(f"--validation {name}: it reads the dataset's test split; a "
                             "validation protocol scores held-out training rows only")
    for bench, test in shipped_test_rows(dataset).items():
        for role, r in protocol.splits.items():
            if overlapping(r, test.split, test.start, test.stop):
                raise HalibenchError(
                    f"--validation {name}: its {role} rows {r.split} {r.start}:{r.stop} "
                    f"overlap {bench}'s test rows {test.start}:{test.stop}; a validation "
                    "protocol scores held-out training rows only")
    return protocol


def check_held_out(protocol: Protocol, split_name: str, train_range: tuple[int, int]) -> None:
    """A run may not learn from the rows its stopping protocol holds out (validation, test),
    nor from a shipped benchmark's test rows."""
    start, stop = train_range
    for role, r in protocol.splits.items():
        if role != "pool" and overlapping(r, split_name, start, stop):
            raise HalibenchError(f"--validation {protocol.name}: its {role} rows "
                                 f"{r.start}:{r.stop} lie inside --train-range {start}:{stop}; "
                                 "train on rows outside them")
    for bench, test in shipped_test_rows(protocol.dataset).items():
        if overlapping(test, split_name, start, stop):
            raise HalibenchError(f"--train-range {start}:{stop}: it overlaps {bench}'s test "
                                 f"rows {test.start}:{test.stop}; train on rows outside them")


@dataclass
class ValidationScorer:
    """Scores of a model's levels on a validation protocol, and the better-of rule."""

    protocol: Protocol
    root: str | Path | None = None
    frozen: bool = True  # a semi-supervised model's z1 score beside its classifier's
    data: BenchmarkData = field(init=False)

    def __post_init__(self) -> None:
        self.data = BenchmarkData(self.protocol, self.root)
        self.probe = self.protocol.probes[0]
        self.labels = self.protocol.labels_per_class[0]

    def better(self, new: float, old: float | None) -> bool:
        if old is None:
            return True
        return new < old if self.protocol.metric in LOWER_IS_BETTER else new > old

    def score(self, model: HierarchicalALI, levels: list[str] | None = None
              ) -> dict[str, float]:
        """{level: mean metric over the protocol's draws} for each level (default: the
        latents and concat; z1 for a semi-supervised model), plus ``score``: the best of
        them, or a semi-supervised model's own-classifier error."""
        if model.config.classes:
            own = self.own_error(model)
            frozen = self.frozen_scores(model, levels or ["z1"]) if self.frozen else {}
            return {"classifier": own, **frozen, "score": own}
        frozen = self.frozen_scores(model, levels)
        best = (min if self.protocol.metric in LOWER_IS_BETTER else max)(frozen.values())
        return {**frozen, "score": best}

    def frozen_scores(self, model: HierarchicalALI, levels: list[str] | None
                      ) -> dict[str, float]:
        """The protocol's probe on each level's frozen features; each split's images go
        through the model once for all levels."""
        chosen = [s.level for s in network_sources(model, "validation", "", levels,
                                                   self.data.image_shape())]
        device = next(model.parameters()).device
        by_role = {role: extract_features(model, self.data.split(role).images, chosen,
                                          device=device)
                   for role in self.protocol.splits}
        test_labels = np.asarray(self.data.split("test").labels)
        label_names = tuple(self.data.split("test").label_names)
        task = TASK_IMPLEMENTATIONS[self.protocol.task]
        out: dict[str, float] = {}
        for level in chosen:
            feats = assemble({role: f[level] for role, f in by_role.items()}, self.data,
                             f"validation, level {level!r}")
            res = task.evaluate(Setting(self.protocol, feats, test_labels, label_names,
                                        self.probe, self.labels, self.protocol.draws))
            out[level] = round(float(res["mean"]), 4)
        return out

    def own_error(self, model: HierarchicalALI) -> float:
        """A semi-supervised model's own-classifier error (%) on the "test" rows."""
        if self.protocol.metric not in LOWER_IS_BETTER:
            raise HalibenchError(f"--validation {self.protocol.name}: its metric is "
                                 f"{self.protocol.metric}; a semi-supervised run stops on an "
                                 "error")
        device = next(model.parameters()).device
        logits = extract_features(model, self.data.split("test").images, ["classifier"],
                                  device=device)["classifier"]
        return round(error_percent(logits, np.asarray(self.data.split("test").labels)), 4)


def check_logged_row(row: dict[str, str], source: Path, line: int,
                     numbers: tuple[str, ...] = ("score",)) -> None:
    """Refuse a ``validation.csv`` row (line ``line`` of ``source``) without an integer step
    and finite ``numbers``, or with more or fewer fields than the header (a write cut short
    by a killed run can leave a truncated number): a damaged value would decide a best step
    or bend a curve."""
    if None in row or None in row.values():
        raise HalibenchError(f"{source}, line {line}: not as many fields as the header (a "
                             "write cut short?); mend or remove that row, then run again")
    try:
        ok = int(row["step"]) >= 0 and all(np.isfinite(float(row[k])) for k in numbers)
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        values = ", ".join(repr(row.get(k)) for k in ("step", *numbers))
        raise HalibenchError(f"{source}, line {line}: no step and finite "
                             f"{' and '.join(numbers)} ({values}); mend or remove that row, "
                             "then run again")


class EarlyStopping:
    """When to score, the best step so far, and whether the patience has run out."""

    def __init__(self, config: TrainConfig, root: str | Path | None = None) -> None:
        self.every, self.patience = config.validate_every, config.patience
        self.scorer = (ValidationScorer(validation_protocol(config.validation, config.dataset),
                                        root, frozen=config.unlabelled != "none")
                       if config.validate_every else None)
        self.best: float | None = None
        self.best_step = 0
        self.since_best = 0

    @property
    def protocol_label(self) -> str:
        assert self.scorer is not None
        return f"{self.scorer.protocol.name} {self.scorer.protocol.version}"

    def due(self, step: int) -> bool:
        return self.scorer is not None and step % self.every == 0

    def update(self, step: int, score: float) -> None:
        assert self.scorer is not None
        if self.scorer.better(score, self.best):
            self.best, self.best_step, self.since_best = score, step, 0
        else:
            self.since_best += 1

    def score(self, model: HierarchicalALI) -> dict[str, float]:
        """The step's scores; the model is given back in the mode it was in."""
        assert self.scorer is not None
        return self.scorer.score(model)

    def raw_scores(self, model: HierarchicalALI) -> dict[str, float]:
        """An averaged run's raw weights scored beside the average, each key suffixed
        ``_raw``: a semi-supervised model's own-classifier error, else every level's score."""
        assert self.scorer is not None
        if model.config.classes:
            return {"classifier_raw": self.scorer.own_error(model)}
        return {f"{key}_raw": value for key, value in self.scorer.score(model).items()
                if key != "score"}

    def restore(self, rows: list[dict[str, str]], source: Path) -> None:
        """Continue from a resumed run's ``validation.csv`` rows (read from ``source``); a
        row without an integer step and a finite score is refused, since it would decide
        the best step."""
        for n, row in enumerate(rows, start=2):
            check_logged_row(row, source, n)
            self.update(int(row["step"]), float(row["score"]))

    def exhausted(self) -> bool:
        return self.patience > 0 and self.since_best >= self.patience
