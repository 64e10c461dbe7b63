"""Score a finished run's checkpoints on a validation protocol, as ``halibench train
--validation P --validate-every N`` does during training: for runs trained before that
column existed, or to score a run on another validation protocol.

Appends one row per step folder not yet scored to ``RUN/validation.csv`` (step, each level's
score, ``score``, ``best_step``) and points ``RUN/best`` at the best step. With
``--patience P`` it also says at which step that patience would have stopped the run.

    HALIBENCH_DATA=../shared/data python benchmarks/recipes/validation_curve.py RUN \\
        --validation mnist-recipe-validation --patience 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

from halibench.errors import HalibenchError
from halibench.models.checkpoints import load_checkpoint, mark_best
from halibench.training.config import TrainConfig
from halibench.training.trainer import VALIDATION_FILE, CsvLog, stored_run
from halibench.training.validation import EarlyStopping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--validation", default="mnist-recipe-validation")
    parser.add_argument("--patience", type=int, default=0)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    stored = stored_run(args.run)
    steps = sorted(p for p in args.run.glob("step-*") if p.is_dir())
    every = int(steps[0].name.split("-")[1]) if steps else 1
    config = TrainConfig.from_dict({**stored["training"], "validation": args.validation,
                                    "validate_every": every, "checkpoint_every": every,
                                    "patience": args.patience})
    stopper = EarlyStopping(config, args.data_root or stored["data"].get("data_root"))
    log = CsvLog(args.run / VALIDATION_FILE)
    try:  # a damaged row is refused before any step is read
        stopper.restore(log.rows(), log.path)
    except HalibenchError as err:
        raise SystemExit(str(err)) from None
    done = {int(r["step"]) for r in log.rows()}
    stop_at = None
    for folder in steps:
        step = int(folder.name.split("-")[1])
        if step in done:
            continue
        model, _ = load_checkpoint(folder)
        scores = stopper.score(model)
        stopper.update(step, scores["score"])
        log.append({"step": step, **scores, "best_step": stopper.best_step,
                    "protocol": stopper.protocol_label})
        if stopper.best_step == step:
            mark_best(args.run, folder)
        if stop_at is None and stopper.exhausted():
            stop_at = step
        print(f"step {step}: {scores} (best: step {stopper.best_step})", flush=True)
    print(f"best: step {stopper.best_step}" + (
        f"; patience {args.patience} stops the run at step {stop_at}" if stop_at else ""))


if __name__ == "__main__":
    main()
