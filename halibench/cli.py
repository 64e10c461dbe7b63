"""The ``halibench`` command line (click). Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import torch

from halibench.errors import HalibenchError

FAMILY_BY_SIZE = {28: "28px", 32: "32px", 64: "64px"}


class HalibenchGroup(click.Group):
    """A click group that turns HalibenchError into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HalibenchError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(2)


def parse_range(value: str, option: str) -> tuple[int, int]:
    try:
        start, stop = (int(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not START:STOP", param_hint=option) from None
    if not 0 <= start < stop:
        raise click.BadParameter(f"{value!r}: need 0 <= START < STOP", param_hint=option)
    return start, stop


data_root_option = click.option(
    "--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Dataset folder (default: $HALIBENCH_DATA, else ~/.cache/halibench/data).")


@click.group(cls=HalibenchGroup)
@click.version_option(package_name="halibench")
def cli() -> None:
    """Train, load and fairly compare ALI, BiGAN and HALI representations."""


@cli.command()
@click.argument("kind", type=click.Choice(["hali", "ali", "bigan"]))
@click.option("--dataset", default="mnist", show_default=True, help="Dataset name.")
@data_root_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (default: runs/KIND-DATASET).")
@click.option("--steps", type=click.IntRange(min=1), default=10000, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--levels", type=click.IntRange(min=1), default=None,
              help="HALI levels (default 2; ALI and BiGAN have 1).")
@click.option("--z-dims", default=None, help="Comma-separated |z| per level, e.g. 64,32.")
@click.option("--discriminator", type=click.Choice(["joint", "pairs"]), default="joint",
              show_default=True, help="One D over (x, z1..zL), or one per adjacent pair.")
@click.option("--prior", type=click.Choice(["gaussian", "uniform"]), default=None,
              help="p(zL); BiGAN's paper used uniform on [-1, 1].")
@click.option("--width", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Channel-width multiplier of every network.")
@click.option("--lr", type=float, default=1e-4, show_default=True)
@click.option("--beta1", type=float, default=0.5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--train-range", default="0:50000", show_default=True,
              help="START:STOP rows of the train split to learn from.")
@click.option("--health-range", default="50000:52000", show_default=True,
              help="START:STOP held-out rows of the train split for health probes.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=1000,
              show_default=True)
@click.option("--health-every", type=click.IntRange(min=0), default=500, show_default=True)
@click.option("--instance-noise", type=click.FloatRange(min=0), default=0.0,
              show_default=True, help="Std of Gaussian noise on D's image inputs.")
@click.option("--instance-noise-steps", type=click.IntRange(min=0), default=0,
              help="Anneal the instance noise to 0 over this many steps (0: constant).")
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu",
              show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last "
              "checkpoint (its stored config wins, except --steps).")
def train(kind: str, dataset: str, data_root: Path | None, out: Path | None, steps: int,
          batch_size: int, levels: int | None, z_dims: str | None, discriminator: str,
          prior: str | None, width: float, lr: float, beta1: float, seed: int,
          train_range: str, health_range: str, checkpoint_every: int, health_every: int,
          instance_noise: float, instance_noise_steps: int, device: str, threads: int | None,
          resume: bool) -> None:
    """Train KIND (hali, ali or bigan) on DATASET without labels."""
    from halibench.models import preset
    from halibench.train import TrainConfig, Trainer
    from halibench.training_data import training_data

    if threads:
        torch.set_num_threads(threads)
    t_range = parse_range(train_range, "--train-range")
    h_range = parse_range(health_range, "--health-range")
    data = training_data(dataset, data_root, t_range, h_range)
    size = data.images.shape[-1]
    if size not in FAMILY_BY_SIZE:
        raise HalibenchError(f"{dataset}: {size}x{size} images fit no architecture family "
                             f"(sizes {sorted(FAMILY_BY_SIZE)})")
    overrides: dict = {"discriminator": discriminator, "width": width}
    if prior:
        overrides["prior"] = prior
    if z_dims:
        try:
            overrides["z_dims"] = tuple(int(v) for v in z_dims.split(","))
        except ValueError:
            raise click.BadParameter(f"{z_dims!r} is not a comma-separated list of sizes",
                                     param_hint="--z-dims") from None
    try:
        model_config = preset(kind, FAMILY_BY_SIZE[size], levels, **overrides)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    config = TrainConfig(dataset=dataset, train_range=t_range, health_range=h_range,
                         steps=steps, batch_size=batch_size, lr=lr, betas=(beta1, 0.999),
                         seed=seed, checkpoint_every=checkpoint_every,
                         health_every=health_every, instance_noise=instance_noise,
                         instance_noise_steps=instance_noise_steps, device=device)
    run_dir = out or Path("runs") / f"{kind}-{dataset}"
    trainer = Trainer(model_config, config, run_dir, data, resume=resume)
    final = trainer.fit()
    if final is not None:
        click.echo(f"checkpoint: {final}")


@cli.group(cls=HalibenchGroup)
def data() -> None:
    """List, verify, prepare and describe datasets."""


@data.command("list")
@data_root_option
def data_list(data_root: Path | None) -> None:
    """Known datasets, whether their files are present, and where."""
    from halibench.data import DATASETS
    from halibench.data import data_root as resolve_root

    root = resolve_root(data_root)
    for name, ds in sorted(DATASETS.items()):
        folder = ds.folder(root)
        missing = ds.missing(folder)
        state = "present" if not missing else f"missing {len(missing)} files"
        click.echo(f"{name:16s} {state:18s} {folder}")


@data.command("verify")
@click.argument("name")
@data_root_option
def data_verify(name: str, data_root: Path | None) -> None:
    """Check every file of NAME against its official checksum."""
    from halibench.data import verify

    for fname, md5 in verify(name, data_root).items():
        click.echo(f"ok  {md5}  {fname}")


@data.command("prepare")
@click.argument("name")
@data_root_option
@click.option("--no-download", is_flag=True, help="Fail instead of downloading missing files.")
def data_prepare(name: str, data_root: Path | None, no_download: bool) -> None:
    """Download (when missing), verify and decode NAME into the prepared cache."""
    from halibench.data import prepare

    for split, n in prepare(name, data_root, download_missing=not no_download).items():
        click.echo(f"{name} {split}: {n} examples prepared")


@data.command("info")
@click.argument("name")
@data_root_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_info(name: str, data_root: Path | None, as_json: bool) -> None:
    """Counts per split, shapes and the label histogram of NAME."""
    from halibench.data.info import dataset_info

    info = dataset_info(name, data_root)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['title']} ({info['folder']})")
    for split, entry in info["splits"].items():
        click.echo(f"{split}: {entry['count']} images of shape {entry['shape']}")
        click.echo("  labels: " + ", ".join(f"{k}={v}" for k, v in entry["labels"].items()))


def main() -> None:
    cli(prog_name="halibench")


if __name__ == "__main__":
    sys.exit(main())
