"""The validation study of training options: one row per training run, validation rows only.

For each run folder: the options a study varies (kind, seed, generator loss, supervised
weight, labelled batch, fake logit, what the unlabelled images do, learning rates and
their decay, cycle weight, instance and hidden noise, weight averaging, width; an option a
run predates reads as its default), the best step on the run's validation protocol and its
score there (the own classifier's validation error for a semi-supervised run, with z1's
frozen-feature L2-SVM score beside it; the best level's frozen score for an unsupervised
one), the curve (and, for a run that averaged its weights, the raw weights' curve), the last
step trained and the training seconds. Appends the rows to ``--jsonl`` (one JSON object per
run; a run already there is not added twice) and prints them as a Markdown table. The test
split is never read.

    python benchmarks/semisup/study.py RUN [RUN ...] --jsonl results/semisup/mnist-study.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from halibench.errors import HalibenchError
from halibench.io import write_text_atomic
from halibench.models.config import ModelConfig
from halibench.report.tables import markdown_table
from halibench.training.config import TrainConfig
from halibench.training.trainer import VALIDATION_FILE, stored_run
from halibench.training.validation import LOWER_IS_BETTER, check_logged_row, validation_protocol

OPTIONS = ("generator_loss", "supervised_weight", "entropy_weight", "labelled_batch", "unlabelled",
           "lr", "lr_d", "lr_decay", "cycle_weight", "instance_noise", "weight_average")
MODEL_OPTIONS = ("fake_logit", "width", "hidden_noise")
TRAIN_DEFAULTS, MODEL_DEFAULTS = TrainConfig(), ModelConfig()


def lower_is_better(run: Path, training: dict[str, Any]) -> bool:
    """Whether the run's validation protocol (as its config names it) scores an error."""
    try:
        protocol = validation_protocol(training["validation"], training["dataset"])
    except HalibenchError as e:
        raise SystemExit(f"{run}: its validation protocol: {e}") from None
    return protocol.metric in LOWER_IS_BETTER


def raw_curve(curve: list[dict[str, str]], lower: Callable[[], bool]
              ) -> list[tuple[int, float]] | None:
    """An averaged run's raw weights' curve (None for a run that did not average): the own
    classifier's error, else the better of the levels' raw scores (by ``lower()``, asked
    only then), the rule of ``score``."""
    if "classifier_raw" in curve[0]:
        return [(int(r["step"]), float(r["classifier_raw"])) for r in curve]
    levels = [k for k in curve[0] if k.endswith("_raw")]
    if not levels:
        return None
    better = min if lower() else max
    return [(int(r["step"]), better(float(r[k]) for k in levels)) for r in curve]


def study_row(run: Path) -> dict[str, Any]:
    """What one run folder says of its options and its validation curve."""
    if not (run / VALIDATION_FILE).is_file():
        raise SystemExit(f"{run}: no {VALIDATION_FILE}; give a run folder of "
                         "`halibench train ... --validation PROTOCOL`")
    try:
        stored = stored_run(run)
    except HalibenchError:
        raise SystemExit(f"{run}: no readable checkpoint in it; give a run folder of "
                         "`halibench train`") from None
    training, model = stored["training"], stored["model"]
    with open(run / VALIDATION_FILE, newline="") as f:
        curve = list(csv.DictReader(f))
    if not curve:
        raise SystemExit(f"{run}: no validation scores; train with --validation")
    numbers = ("score", *(k for k in curve[0] if k.endswith("_raw")))
    try:  # a NaN would pass into the curves and, as a raw level, into the better-of
        for n, row in enumerate(curve, start=2):
            check_logged_row(row, run / VALIDATION_FILE, n, numbers)
    except HalibenchError as e:
        raise SystemExit(str(e)) from None
    best_step = int(curve[-1]["best_step"])  # the trainer's better-of rule, per metric
    best = next(r for r in curve if int(r["step"]) == best_step)
    return {"run": run.name, "kind": model["kind"], "seed": training["seed"],
            **{k: training.get(k, getattr(TRAIN_DEFAULTS, k)) for k in OPTIONS},
            **{k: model.get(k, getattr(MODEL_DEFAULTS, k)) for k in MODEL_OPTIONS},
            "labels": stored.get("labels", {}).get("labels_per_class"),
            "validation": curve[-1]["protocol"], "best_step": int(best["step"]),
            "val_score": float(best["score"]),
            "classifier_val_error": float(best["classifier"]) if best.get("classifier") else None,
            "z1_val_error": float(best["z1"]) if best.get("z1") else None,
            "curve": [(int(r["step"]), float(r["score"])) for r in curve],
            "raw_curve": raw_curve(curve, lambda: lower_is_better(run, training)),
            "last_step": int(stored["step"]), "train_seconds": stored.get("train_seconds"),
            "command": stored.get("command"),
            "cpu": stored.get("environment", {}).get("cpu")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--jsonl", type=Path, default=None)
    args = parser.parse_args()
    rows = [study_row(r) for r in args.runs]
    if args.jsonl:
        old = args.jsonl.read_text().splitlines() if args.jsonl.is_file() else []
        seen = {json.loads(line)["run"] for line in old}
        new = [json.dumps(r, sort_keys=True) for r in rows if r["run"] not in seen]
        args.jsonl.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.jsonl, "".join(line + "\n" for line in old + new))
    cols = ["run", "kind", "seed", *OPTIONS, *MODEL_OPTIONS, "best_step", "val_score",
            "classifier_val_error",
            "z1_val_error", "last_step", "train_seconds"]
    print("\n".join(markdown_table(cols, [[r[k] for k in cols] for r in rows])))


if __name__ == "__main__":
    main()
