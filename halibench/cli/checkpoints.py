"""``halibench export``, ``figures`` and ``card``: ship a run, draw it, describe it."""

from __future__ import annotations

from pathlib import Path

import click

from halibench.cli.common import (
    data_root_option,
    examples,
    figure_options,
    parse_range,
    results_option,
)


@examples(
    'halibench export runs/my-hali --name my-hali --dataset mnist',
    'halibench export runs/my-hali/step-00013000 --name hali-mnist --dataset mnist --replace',
)
@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--name", required=True, help="Checkpoint name, e.g. hali-mnist.")
@click.option("--dataset", required=True, help="Dataset it was trained on.")
@click.option("--note", default="", help="Free text for the card's Notes section.")
@click.option("--replace", is_flag=True, help="Replace an existing checkpoint of that name.")
@results_option
def export(run_dir: Path, name: str, dataset: str, note: str, replace: bool,
           results_dir: Path) -> None:
    """Ship RUN_DIR's best checkpoint on validation, else its newest (or RUN_DIR itself, a
    step folder) as checkpoints/NAME, with index entry, sha256 and model card. An existing
    NAME is refused unless --replace is given."""
    from halibench.models.export import export_run, write_card

    dest = export_run(run_dir, name, dataset, note, replace)
    click.echo(f"exported {dest}; card {write_card(name, results_dir)}")


@examples(
    'halibench figures hali-mnist',
    'halibench figures runs/my-hali --format pdf --dpi 300 --results /tmp/r',
)
@click.command()
@click.argument("model_name", metavar="MODEL")
@click.option("--split", "split_name", default="test", show_default=True,
              help="Split whose images are reconstructed and interpolated.")
@click.option("--rows", default=None, help="START:STOP rows of that split (default: all), "
              "e.g. 3600:4283 for the CelebA subset's test ids; another split or rows add "
              "'-SPLIT' and '-rowsSTART-STOP' to the file names.")
@data_root_option
@results_option
@figure_options
def figures(model_name: str, split_name: str, rows: str | None, data_root: Path | None,
            results_dir: Path, fmt: str, dpi: int) -> None:
    """Reconstructions per level, samples, interpolations and training curves of MODEL."""
    from halibench.data import load as load_data
    from halibench.evaluation.benchmark import check_folder_name
    from halibench.evaluation.gate import check_writable
    from halibench.models.checkpoints import load_named, resolve_folder
    from halibench.models.hub import local_copy, read_index
    from halibench.names import safe_name
    from halibench.report.plots import FIGURE_IMAGES, model_figures

    check_writable(results_dir)
    model, config, name = load_named(model_name, decoders=True)
    check_folder_name(model_name, name)
    name = safe_name(name, "model name (it names the figure files)")
    entry = read_index().get(model_name)
    folder = local_copy(entry) if entry else resolve_folder(Path(model_name))
    dataset = config.get("data", {}).get("dataset") or "mnist"
    split = load_data(dataset, split_name, data_root)
    tag = "" if split_name == "test" else f"-{safe_name(split_name, '--split')}"
    if rows:
        start, stop = parse_range(rows, "--rows")
        split, tag = split.take(start, stop), f"{tag}-rows{start}-{stop}"
    if len(split) < FIGURE_IMAGES:
        raise click.BadParameter(f"{len(split)} images; the figures draw {FIGURE_IMAGES}: give "
                                 "more rows", param_hint="--rows" if rows else "--split")
    log_folder = folder if (folder / "losses.csv").is_file() else folder.parent
    for path in model_figures(model, name, split.images, log_folder, results_dir / "figures",
                              fmt, dpi, tag):
        click.echo(f"wrote {path}")


@examples(
    'halibench card hali-mnist',
    'halibench card my-hali --results my-results --out /tmp/card.md',
)
@click.command()
@click.argument("name")
@results_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the card here (default: the checkpoint's README.md, which is never "
              "replaced by a card that lists fewer results).")
def card(name: str, results_dir: Path, out: Path | None) -> None:
    """Regenerate the model card of shipped checkpoint NAME from its records."""
    from halibench.models.export import write_card

    if not results_dir.is_dir():
        raise click.BadParameter(f"{results_dir}: no such folder; pass the folder that holds "
                                 "runs/*.json", param_hint="--results")
    click.echo(f"wrote {write_card(name, results_dir, out)}")
