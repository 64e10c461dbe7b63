"""``halibench train``: train ALI, BiGAN or HALI, without labels or semi-supervised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from halibench.cli.common import (
    command_line,
    data_root_option,
    examples,
    given_on_command_line,
    parse_range,
    resolve_device,
)
from halibench.cli.options import config_options, split_options
from halibench.errors import HalibenchError
from halibench.models.config import FAMILY_SHAPES, KINDS, ModelConfig
from halibench.training.config import TrainConfig
from halibench.training.resume import SCHEDULE, STOPPING, check_decay_change


@examples(
    'halibench train hali --family 28px-dcgan --lr 2e-4 --lr-d 2e-4 --steps 24000 \\',
    '  --out runs/my-hali --validation mnist-recipe-validation --validate-every 1000 \\',
    '  --patience 3',
    'halibench train ali --out runs/my-ali --resume --steps 30000',
    'halibench train hali --labels-per-class 10 --out runs/my-hali-semisup \\',
    '  --validation mnist-recipe-validation --validate-every 500 --patience 3',
    'torchrun --nproc-per-node 4 -m halibench train hali --device cuda --out runs/h',
)
@click.command()
@click.argument("kind", type=click.Choice(KINDS))
@data_root_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (default: runs/KIND-DATASET-sSEED).")
@click.option("--levels", type=click.IntRange(min=1), default=None,
              help="HALI levels (default 2; ALI and BiGAN have 1).")
@click.option("--z-dims", default=None, help="Comma-separated |z| per level, e.g. 64,32.")
@click.option("--family", type=click.Choice(list(FAMILY_SHAPES)), default=None,
              help="Architecture family (default: the one of the images' size; 28px-dcgan is "
              "the 28 px family that plays MNIST's image game; 64px-dcgan the 64 px one that "
              "plays CelebA's).")
@click.option("--decoder-head", type=click.Choice(["conv1x1", "upsample"]), default=None,
              help="How p(x|z1) writes pixels: a 1x1 conv after the last block (ALI's "
              "layout), or the last transposed conv itself (DCGAN's); default: the family's.")
@click.option("--beta1", type=float, default=0.5, show_default=True, help="Adam's beta1.")
@click.option("--split", "split_name", default="train", show_default=True,
              help="Dataset split to learn from, e.g. 'present' for a partial CelebA copy.")
@click.option("--train-range", default="0:50000", show_default=True,
              help="START:STOP rows of the train split to learn from.")
@click.option("--health-range", default="50000:52000", show_default=True,
              help="START:STOP held-out rows of the train split for health probes.")
@config_options(TrainConfig, ModelConfig)
@click.option("--device", default="auto", show_default=True,
              help="cpu, cuda, cuda:1, ...; auto: cuda when available, else cpu.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last "
              "checkpoint. Its stored options stay; only --steps, --threads, --device, "
              "--data-root, the validation options (--validation, --validate-every, "
              "--patience) and an --lr-decay that leaves every step taken at its rate (one "
              "that starts at the checkpoint) may differ.")
def train(kind: str, data_root: Path | None, out: Path | None, levels: int | None,
          z_dims: str | None, family: str | None, decoder_head: str | None, beta1: float,
          split_name: str, train_range: str, health_range: str, device: str,
          threads: int | None, resume: bool, **options: Any) -> None:
    """Train KIND (hali, ali or bigan) on DATASET, without labels or, with
    --labels-per-class, semi-supervised (D as a (K+1)-class classifier)."""
    import torch

    from halibench.models import preset
    from halibench.models.config import FAMILY_BY_SIZE
    from halibench.training.data import training_data
    from halibench.training.trainer import Trainer, check_out_folder

    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device)
    ctx = click.get_current_context()
    dataset = options["dataset"]
    run_dir = out or Path("runs") / f"{kind}-{dataset}-s{options['seed']}"
    legacy = Path("runs") / f"{kind}-{dataset}"  # the default folder before seeds named it
    if resume and out is None and not run_dir.exists() and legacy.is_dir():
        raise HalibenchError(f"{run_dir}: no such run, but {legacy} is one (the default folder "
                             f"of earlier versions); mv {legacy} {run_dir} (a run folder may "
                             "not take a shipped checkpoint's name) and resume")
    check_out_folder(run_dir, resume)
    given = given_on_command_line(ctx)
    t_range = parse_range(train_range, "--train-range")
    h_range = parse_range(health_range, "--health-range")
    if resume:  # the stored run's data and options, never the defaults of this invocation
        from halibench.models.checkpoints import model_config_of, resolve_folder
        from halibench.training.resume import check_resume
        from halibench.training.trainer import stored_run

        stored = stored_run(run_dir)
        model_config_of(resolve_folder(run_dir), stored)  # a bad one stops before the data
        check_resume(given | {"kind": kind}, stored, str(run_dir))
        if options["steps"] <= stored["step"]:
            raise HalibenchError(f"{run_dir}: already at step {stored['step']}; give --steps "
                                 "above it to train on")
        dataset, split_name = stored["training"]["dataset"], stored["data"].get("split", "train")
        t_range = tuple(stored["training"]["train_range"])
        h_range = tuple(stored["training"]["health_range"])
        fields = {**stored["training"], "steps": options["steps"], "device": device,
                  **{k: options[k] for k in (*STOPPING, *SCHEDULE) if k in given}}
    else:
        fields = split_options(options, TrainConfig) | {
            "dataset": dataset, "train_range": t_range, "health_range": h_range,
            "betas": (beta1, 0.999), "device": device}
    try:
        config = TrainConfig.from_dict(fields)
    except ValueError as e:
        if resume:  # the stored options are at fault unless this command changed them
            raise HalibenchError(f"{run_dir}: --resume: {e}") from None
        raise click.UsageError(str(e)) from None
    if resume and "lr_decay" in given:
        check_decay_change(stored, config.steps, config.lr_decay, str(run_dir))
    data = training_data(dataset, data_root, t_range, h_range, split_name, config)
    if resume:
        from halibench.training.labels import check_same_draw

        check_same_draw(stored.get("labels"), data.labelled, str(run_dir))
    size = data.images.shape[-1]
    if size not in FAMILY_BY_SIZE:
        raise HalibenchError(f"{dataset}: {size}x{size} images fit no architecture family "
                             f"(sizes {sorted(FAMILY_BY_SIZE)})")
    family = family or FAMILY_BY_SIZE[size]
    if FAMILY_SHAPES[family][-1] != size:
        raise click.BadParameter(f"{family} is for other image sizes; {dataset} has "
                                 f"{size}x{size} images", param_hint="--family")
    overrides = split_options(options, ModelConfig)
    if decoder_head:
        overrides["decoder_head"] = decoder_head
    if data.labelled is not None:  # a (K+1)-class discriminator for the labels' K classes
        overrides["classes"] = int(data.labelled.labels.max()) + 1
    if z_dims:
        try:
            overrides["z_dims"] = tuple(int(v) for v in z_dims.split(","))
        except ValueError:
            raise click.BadParameter(f"{z_dims!r} is not a comma-separated list of sizes",
                                     param_hint="--z-dims") from None
    try:
        model_config = preset(kind, family, levels, **overrides)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    # a resume records what was typed: the stored run's options are the ones in force
    changes = ({k: getattr(config, k) for k in (*STOPPING, *SCHEDULE) if k in given}
               if resume else None)
    trainer = Trainer(model_config, config, run_dir, data, resume=resume,
                      command=command_line(ctx, ("kind",), typed_only=resume),
                      resume_changes=changes)
    final = trainer.fit()
    if final is not None:
        click.echo(f"checkpoint: {final}")
