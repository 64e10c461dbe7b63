"""``halibench data``: list, verify, prepare and describe datasets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from halibench.cli.common import HalibenchGroup, data_root_option, examples


@examples(
    'halibench data list',
    'halibench data prepare mnist',
    'halibench data info celeba --json',
)
@click.group(cls=HalibenchGroup)
def data() -> None:
    """List, verify, prepare and describe datasets."""


@examples('halibench data list', 'halibench data list --data-root ../shared/data')
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


@examples('halibench data verify mnist', 'halibench data verify celeba --data-root /data')
@data.command("verify")
@click.argument("name")
@data_root_option
def data_verify(name: str, data_root: Path | None) -> None:
    """Check every file of NAME against its official checksum (or say why it cannot)."""
    from halibench.data import verify

    for fname, outcome in verify(name, data_root).items():
        click.echo(f"{fname}: {outcome}")


@examples('halibench data prepare mnist', 'halibench data prepare cifar10 --no-download')
@data.command("prepare")
@click.argument("name")
@data_root_option
@click.option("--no-download", is_flag=True, help="Fail instead of downloading missing files.")
def data_prepare(name: str, data_root: Path | None, no_download: bool) -> None:
    """Download (when missing), verify and decode NAME into the prepared cache."""
    from halibench.data import prepare

    for split, n in prepare(name, data_root, download_missing=not no_download).items():
        click.echo(f"{name} {split}: {n} examples prepared")


@examples('halibench data info mnist', 'halibench data info celeba --json')
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
