"""Ship a trained run: weights + config into ``checkpoints/<name>/``, index, model card."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from halibench.data.registry import DATASETS
from halibench.errors import CheckpointError, HalibenchError
from halibench.io import atomic_dir, sha256_file, write_json_atomic, write_text_atomic
from halibench.models.checkpoints import (
    BEST_FILE,
    CONFIG_FILE,
    LATEST_FILE,
    MODEL_FILE,
    marked,
    model_config_of,
    resolve_folder,
    trained_labels_of,
    verified_config,
)
from halibench.models.encoders import write_encoder
from halibench.models.hub import (
    fetch,
    local_copy,
    read_index,
    writable_folder,
    writable_index_path,
)
from halibench.names import safe_name
from halibench.report.results import KEY, fmt, latest_table, read_records
from halibench.report.tables import markdown_table

LOGS = ("losses.csv", "health.csv")
VALIDATION_LOG = "validation.csv"  # shipped whole: why the run stopped where it did
RESULTS_HEADING = "## Benchmark results"


def check_dataset(dataset: str, config: dict, folder: Path) -> None:
    """``--dataset`` must be a dataset halibench knows, and the one the run trained on."""
    if dataset not in DATASETS:
        raise HalibenchError(f"--dataset {dataset!r}: not a dataset halibench knows; valid: "
                             f"{sorted(DATASETS)}")
    data = config.get("data")
    trained_on = data.get("dataset") if isinstance(data, dict) else None
    if trained_on and trained_on != dataset:
        raise HalibenchError(f"--dataset {dataset!r}: {folder} was trained on {trained_on!r}; "
                             f"pass --dataset {trained_on}")


def export_run(run_dir: Path, name: str, dataset: str, notes: str = "",
               replace: bool = False) -> Path:
    """Copy a checkpoint (a run's best on validation, else its newest, or the given step
    folder) without optimizer state, and its encoder-only weights beside the index,
    with the run's logs cut at that checkpoint's step, to ``<checkpoints>/<name>``. An
    existing name is refused unless ``replace``; nothing but that folder, the encoder files
    and the index entry is ever written, each atomically."""
    name = safe_name(name, "--name")
    if ":" in name:
        raise HalibenchError(f"--name {name!r}: ':' would make --model read it as an import "
                             "string; choose a name without ':'")
    folder = resolve_folder(run_dir, BEST_FILE if marked(run_dir, BEST_FILE) else LATEST_FILE)
    config = verified_config(folder)
    check_dataset(dataset, config, folder)
    logs_dir = folder if (folder / LOGS[0]).is_file() else folder.parent
    dest = writable_folder() / name
    if dest.resolve() in (folder.resolve(), *folder.resolve().parents):
        raise HalibenchError(f"--name {name!r}: {run_dir} is that checkpoint itself; export "
                             "from the training run's folder")
    # A new private index starts from the one in use, so that it hides no checkpoint.
    index = read_index(writable_index_path() if writable_index_path().is_file() else None)
    if (dest.exists() or name in index) and not replace:
        held = index.get(name, {}).get("model", "a folder")
        raise HalibenchError(f"--name {name!r}: {dest} already holds {held}; choose another "
                             "name, or pass --replace to replace it")
    with atomic_dir(dest) as tmp:
        for fname in (MODEL_FILE, CONFIG_FILE):
            shutil.copy2(folder / fname, tmp / fname)
        for log in LOGS:
            if (logs_dir / log).is_file():
                rows = pd.read_csv(logs_dir / log)
                rows[rows["step"] <= config["step"]].to_csv(tmp / log, index=False)
        if (logs_dir / VALIDATION_LOG).is_file():
            shutil.copy2(logs_dir / VALIDATION_LOG, tmp / VALIDATION_LOG)
        if notes:
            (tmp / NOTES_FILE).write_text(notes.strip() + "\n")
    labelled = trained_labels_entry(config)
    # The package carries encoders for unsupervised representations only: a model trained
    # with labels is scored by its own classifier, which needs the full checkpoint anyway.
    encoder = {} if labelled else {
        "encoder_sha256": write_encoder(dest, name, writable_index_path())}
    index[name] = {"path": name, "sha256": sha256_file(dest / MODEL_FILE),
                   "model": config["model"]["kind"], "dataset": dataset,
                   "levels": len(config["model"]["z_dims"]),
                   "size_bytes": (dest / MODEL_FILE).stat().st_size, **encoder, **labelled}
    write_json_atomic(writable_index_path(), {"checkpoints": dict(sorted(index.items()))})
    return dest


NOTES_FILE = "NOTES.md"


def trained_labels_entry(config: dict[str, Any]) -> dict[str, Any]:
    """The index entry's ``trained_labels`` of a checkpoint trained with labels (nothing for
    an unsupervised one): such a checkpoint is chosen by name, not by its model family, and
    own-classifier protocols score it by default."""
    trained = trained_labels_of(config)
    if trained is None:
        return {}
    keep = ("labels_per_class", "draw", "protocol", "unlabelled")
    return {"trained_labels": {k: trained[k] for k in keep}}


def discriminator_lr(training: dict[str, Any]) -> float | None:
    """D's stored rate: lr_d, else lr (as ``TrainConfig.discriminator_lr``)."""
    return training.get("lr") if training.get("lr_d") is None else training["lr_d"]


def decay_words(training: dict[str, Any]) -> str:
    """The card's words for a learning-rate decay (none when the rates were constant)."""
    n = training.get("lr_decay", 0)
    return f", decayed linearly over the last {n} steps," if n else ""


def averaging_words(training: dict[str, Any]) -> str:
    """The card's words for shipped weights that are an average of the trained ones."""
    decay = training.get("weight_average", 0)
    return (f"; the weights are an exponential moving average of the trained ones (decay "
            f"min({decay}, (1+n)/(10+n)) at update n; the health log probes the trained "
            "weights)" if decay else "")


def stopping_lines(config: dict[str, Any], validation: pd.DataFrame | None) -> list[str]:
    """Why the shipped step is the one it is: the best validation score, or (without a
    validation record) a pointer to the notes."""
    training, step = config.get("training", {}), config.get("step")
    if validation is not None and len(validation):
        protocol = (validation["protocol"].iloc[-1] if "protocol" in validation.columns
                    else training.get("validation") or "a validation protocol")
        best = validation[validation["step"] == step]
        score = f" ({best['score'].iloc[0]:g})" if len(best) else ""
        equal = int((validation["score"] == best["score"].iloc[0]).sum()) if len(best) else 1
        tied = f", the earliest of {equal} equal scores" if equal > 1 else ""
        return [f"- Chosen on validation: `{protocol}` scored every "
                f"{int(validation['step'].diff().median() or validation['step'].iloc[0])} "
                f"steps (the best level's score); this checkpoint is step {step}{score}, the "
                f"best of {len(validation)} scores up to step {int(validation['step'].max())}"
                f"{tied}"]
    if training.get("steps") and step != training.get("steps"):
        return [f"- This checkpoint is step {step} of the planned {training.get('steps')}; "
                "the notes say why"]
    return []


def how_trained(config: dict[str, Any]) -> str:
    labels = config.get("labels")
    if not labels:
        return "trained without labels"
    alone = config.get("training", {}).get("unlabelled") == "none"
    how = "on labels alone (supervised-only baseline)" if alone else "semi-supervised"
    return (f"trained {how} with {labels['labels_per_class']} labels per class (draw "
            f"{labels['draw']} of {labels['protocol']}, {labels['count']} images)")


def card_text(name: str, config: dict[str, Any], health: pd.DataFrame | None,
              results: pd.DataFrame, notes: str = "",
              validation: pd.DataFrame | None = None) -> str:
    model, training, data = config["model"], config.get("training", {}), config.get("data", {})
    env = config.get("environment", {})
    lines = [f"# {name}", "",
             f"{model['kind'].upper()} ({model['family']} family, z dims "
             f"{model['z_dims']}, discriminator `{model['discriminator']}`, spectral norm "
             f"{model.get('spectral_norm', False)}), {how_trained(config)} by halibench.", "",
             "## Training", "",
             f"- Command: `{config.get('command', 'not recorded')}`",
             *[f"- Resumed with: `{c}`" for c in config.get("resumes", [])],
             f"- Data: {data.get('dataset')} `{data.get('split')}` rows "
             f"{data.get('train_range')}; health probes on rows {data.get('health_range')}",
             f"- Seed {config.get('seed')}, {config.get('step')} steps of batch "
             f"{training.get('batch_size')}, Adam lr {training.get('lr')} (discriminator "
             f"{discriminator_lr(training)}){decay_words(training)} betas "
             f"{training.get('betas')}, cycle weight {training.get('cycle_weight', 0.0)}, "
             f"instance noise {training.get('instance_noise')}"
             + (f", hidden noise in D {model['hidden_noise']}" if model.get("hidden_noise")
                else "")
             + averaging_words(training),
             *stopping_lines(config, validation),
             f"- Wall time: {config.get('train_seconds', 'not recorded')} s on "
             f"{env.get('machine')} ({env.get('platform')}), GPU: {env.get('cuda')}, "
             f"torch {env.get('torch')}",
             f"- Weights: `{MODEL_FILE}`, sha256 `{config['sha256'][MODEL_FILE]}`", ""]
    if notes:
        lines += ["## Notes", "", notes.strip(), ""]
    if health is not None and len(health):
        last = health.iloc[-1]
        lines += ["## Final health probes (held-out slice)", "", *markdown_table(
            ("metric", "value"), [(k, f"{v:.4f}") for k, v in last.items() if k != "step"]), ""]
    if validation is not None and len(validation):
        cols = [c for c in validation.columns if c not in ("best_step", "protocol")]
        lines += ["## Validation scores (the run's curve; the test split never read)", "",
                  *markdown_table(cols, [[f"{v:g}" for v in row]
                                         for row in validation[cols].itertuples(index=False)]),
                  ""]
    lines += [RESULTS_HEADING, ""]
    if len(results):
        lines += markdown_table(
            ("benchmark", "protocol", "level", "probe", "labels", "metric", "value", "draws"),
            [(f"{r.benchmark} [subset]" if r.subset else r.benchmark, f"v{r.protocol_version}",
              r.level, r.probe, r.labels, r.metric, fmt(r.mean, r.std, r.n_draws), r.n_draws)
             for r in results.itertuples()])
    else:
        lines.append("None recorded yet: run `halibench run BENCHMARK --model "
                     f"{name}` and regenerate this card with `halibench card {name}`.")
    logs = ", ".join(f"`{f}`" for f in (*LOGS, VALIDATION_LOG)
                     if f != VALIDATION_LOG or validation is not None)
    lines += ["", f"Training curves: {logs} beside this file."]
    return "\n".join(lines) + "\n"


def result_rows(card: str) -> int:
    """The number of rows in a card's benchmark results table."""
    section = card.split(RESULTS_HEADING, 1)[1] if RESULTS_HEADING in card else ""
    table = [line for line in section.splitlines() if line.startswith("| ")]
    return max(0, len(table) - 1)  # the header row; the rule starts with "|-"


def one_per_setting(rows: pd.DataFrame, name: str) -> pd.DataFrame:
    """One row per setting of records of one checkpoint, which may have been scored under
    several names (its run folder, then its shipped name): the shipped name's row first."""
    setting = [k for k in KEY if k != "model"] + ["official_data"]
    first = rows.assign(other_name=rows["model"] != name).sort_values("other_name",
                                                                      kind="stable")
    return first.drop_duplicates(subset=setting).drop(columns="other_name").sort_index()


def write_card(name: str, results_dir: Path, out: Path | None = None) -> Path:
    """(Re)generate the card of shipped checkpoint ``name`` from its config, logs and
    records, into ``out`` or the checkpoint's ``README.md``. The checkpoint's own card is
    never replaced by one that lists fewer results (records read from the wrong folder)."""
    index = read_index()
    folder = ((local_copy(index[name]) if name in index else None)
              or writable_folder() / safe_name(name, "checkpoint name"))
    if not (folder / CONFIG_FILE).is_file():
        if name not in index:
            raise CheckpointError(f"{name}: not a shipped checkpoint ({sorted(index)}) and no "
                                  f"checkpoint folder at {folder}")
        folder = fetch(name, index[name])  # a card is made from the full checkpoint's logs
    config = verified_config(folder)
    model_config_of(folder, config)  # a damaged model section is a one-line error here
    health = pd.read_csv(folder / "health.csv") if (folder / "health.csv").is_file() else None
    validation = (pd.read_csv(folder / VALIDATION_LOG) if (folder / VALIDATION_LOG).is_file()
                  else None)
    table = latest_table(read_records(results_dir))
    mine = one_per_setting(table[table["checkpoint_sha256"] == config["sha256"][MODEL_FILE]],
                           name)
    notes = (folder / NOTES_FILE).read_text() if (folder / NOTES_FILE).is_file() else ""
    text = card_text(name, config, health, mine, notes, validation)
    path = out or folder / "README.md"
    if out is None and path.is_file() and result_rows(path.read_text()) > result_rows(text):
        raise HalibenchError(
            f"{path}: its card lists {result_rows(path.read_text())} results, the records in "
            f"{results_dir} give {result_rows(text)}; pass --results with the records, or "
            "--out to write the card elsewhere")
    write_text_atomic(path, text)
    return path
