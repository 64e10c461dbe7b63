"""The ``halibench`` command line (click). Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from halibench.errors import HalibenchError

FAMILY_BY_SIZE = {28: "28px", 32: "32px", 64: "64px"}


class HalibenchGroup(click.Group):
    """A click group that turns bad input (HalibenchError, a file the system refuses) into
    a one-line message and exit code 2, and Ctrl-C into exit code 130."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HalibenchError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(2)
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"error: {where}{e.strerror or e}; check that the path exists and that "
                       "you may read (and, for caches and results, write) it", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing half-written was kept", err=True)
            ctx.exit(130)


def command_line(ctx: click.Context, arguments: tuple[str, ...] = (),
                 typed_only: bool = False) -> str:
    """The command with every option spelled out (defaults too, unless ``typed_only``), so
    that it reruns exactly; ``arguments`` names the positional parameters, in order."""
    words = ["halibench", *ctx.command_path.split()[1:], *(str(ctx.params[a]) for a in arguments)]
    flags = {p.name: max(p.opts, key=len) for p in ctx.command.params
             if isinstance(p, click.Option)}
    typed = given_on_command_line(ctx)
    for name, value in sorted(ctx.params.items()):
        if name in arguments or value is None or value is False:
            continue
        if typed_only and name not in typed:
            continue
        words += [flags[name]] if value is True else [flags[name], str(value)]
    return shlex.join(words)


def given_on_command_line(ctx: click.Context) -> dict:
    """The parameters the user typed (not defaults)."""
    return {name: value for name, value in ctx.params.items()
            if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when available, else cpu (torch is imported only here)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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


results_option = click.option(
    "--results", "results_dir", type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"), show_default=True, help="Results folder (records, leaderboard).")
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
@click.option("--lr", type=float, default=1e-4, show_default=True,
              help="Adam learning rate (generators, and D unless --lr-d).")
@click.option("--lr-d", type=float, default=None, help="Discriminator learning rate.")
@click.option("--beta1", type=float, default=0.5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--split", "split_name", default="train", show_default=True,
              help="Dataset split to learn from, e.g. 'present' for a partial CelebA copy.")
@click.option("--train-range", default="0:50000", show_default=True,
              help="START:STOP rows of the train split to learn from.")
@click.option("--health-range", default="50000:52000", show_default=True,
              help="START:STOP held-out rows of the train split for health probes.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=1000,
              show_default=True)
@click.option("--health-every", type=click.IntRange(min=0), default=500, show_default=True)
@click.option("--init-std", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Initialise weights N(0, STD) as ALI did (0.01); default: PyTorch's init.")
@click.option("--family", type=click.Choice(["28px", "28px-dcgan", "32px", "64px"]),
              default=None, help="Architecture family (default: the one of the images' size; "
              "28px-dcgan is the 28 px family that plays MNIST's image game).")
@click.option("--decoder-head", type=click.Choice(["conv1x1", "upsample"]), default=None,
              help="How p(x|z1) writes pixels: a 1x1 conv after the last block (ALI's "
              "layout), or the last transposed conv itself (DCGAN's); default: the family's.")
@click.option("--spectral-norm", is_flag=True,
              help="Stabiliser: spectral normalisation on the discriminator (no batch norm).")
@click.option("--instance-noise", type=click.FloatRange(min=0), default=0.0,
              show_default=True, help="Std of Gaussian noise on D's image inputs.")
@click.option("--instance-noise-steps", type=click.IntRange(min=0), default=0,
              help="Anneal the instance noise to 0 over this many steps (0: constant).")
@click.option("--cycle-reduction", type=click.Choice(["sum", "mean"]), default="sum",
              show_default=True, help="Cycle term per image: sum or mean of squared errors.")
@click.option("--label-smoothing", type=click.FloatRange(min=0, max=0.5), default=0.0,
              show_default=True, help="Stabiliser: one-sided, D's target for encoder tuples "
              "is 1 - this.")
@click.option("--r1-weight", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Stabiliser: zero-centred gradient penalty on encoder tuples (R1).")
@click.option("--autocast", type=click.Choice(["none", "bf16"]), default="none",
              show_default=True, help="Mixed precision: forward passes in bfloat16.")
@click.option("--cycle-weight", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Stabiliser: ALICE-style reconstruction cycle term through each level.")
@click.option("--device", default="auto", show_default=True,
              help="cpu, cuda, cuda:1, ...; auto: cuda when available, else cpu.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last "
              "checkpoint (its stored config wins, except --steps).")
def train(kind: str, dataset: str, data_root: Path | None, out: Path | None, steps: int,
          batch_size: int, levels: int | None, z_dims: str | None, discriminator: str,
          prior: str | None, width: float, lr: float, lr_d: float | None, beta1: float,
          seed: int, split_name: str,
          train_range: str, health_range: str, checkpoint_every: int, health_every: int,
          init_std: float | None, family: str | None, decoder_head: str | None,
          spectral_norm: bool,
          instance_noise: float,
          instance_noise_steps: int, cycle_reduction: str, label_smoothing: float,
          r1_weight: float, autocast: str, cycle_weight: float, device: str,
          threads: int | None,
          resume: bool) -> None:
    """Train KIND (hali, ali or bigan) on DATASET without labels."""
    import torch

    from halibench.models import preset
    from halibench.train import TrainConfig, Trainer
    from halibench.training_data import training_data

    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device)
    ctx = click.get_current_context()
    run_dir = out or Path("runs") / f"{kind}-{dataset}"
    t_range = parse_range(train_range, "--train-range")
    h_range = parse_range(health_range, "--health-range")
    if resume:  # the stored run's data, never the defaults of this invocation
        from halibench.resume import check_resume
        from halibench.train import stored_run

        stored = stored_run(run_dir)
        check_resume(given_on_command_line(ctx) | {"kind": kind}, stored, str(run_dir))
        dataset, split_name = stored["training"]["dataset"], stored["data"].get("split", "train")
        t_range = tuple(stored["training"]["train_range"])
        h_range = tuple(stored["training"]["health_range"])
    data = training_data(dataset, data_root, t_range, h_range, split_name)
    size = data.images.shape[-1]
    if size not in FAMILY_BY_SIZE:
        raise HalibenchError(f"{dataset}: {size}x{size} images fit no architecture family "
                             f"(sizes {sorted(FAMILY_BY_SIZE)})")
    family = family or FAMILY_BY_SIZE[size]
    if not family.startswith(f"{size}px"):
        raise click.BadParameter(f"{family} is for other image sizes; {dataset} has "
                                 f"{size}x{size} images", param_hint="--family")
    overrides: dict = {"discriminator": discriminator, "width": width,
                       "spectral_norm": spectral_norm, "init_std": init_std}
    if decoder_head:
        overrides["decoder_head"] = decoder_head
    if prior:
        overrides["prior"] = prior
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
    config = TrainConfig(dataset=dataset, train_range=t_range, health_range=h_range,
                         steps=steps, batch_size=batch_size, lr=lr, lr_d=lr_d,
                         betas=(beta1, 0.999),
                         seed=seed, checkpoint_every=checkpoint_every,
                         health_every=health_every, instance_noise=instance_noise,
                         instance_noise_steps=instance_noise_steps, cycle_weight=cycle_weight,
                         cycle_reduction=cycle_reduction, label_smoothing=label_smoothing,
                         r1_weight=r1_weight, autocast=autocast,
                         device=device)
    # a resume records what was typed: the stored run's options are the ones in force
    trainer = Trainer(model_config, config, run_dir, data, resume=resume,
                      command=command_line(ctx, ("kind",), typed_only=resume))
    final = trainer.fit()
    if final is not None:
        click.echo(f"checkpoint: {final}")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--name", required=True, help="Checkpoint name, e.g. hali-mnist.")
@click.option("--dataset", required=True, help="Dataset it was trained on.")
@click.option("--note", default="", help="Free text for the card's Notes section.")
@results_option
def export(run_dir: Path, name: str, dataset: str, note: str, results_dir: Path) -> None:
    """Ship RUN_DIR's newest checkpoint (or RUN_DIR itself, a step folder) as
    checkpoints/NAME, with index entry, sha256 and model card."""
    from halibench.export import export_run, write_card

    dest = export_run(run_dir, name, dataset, note)
    click.echo(f"exported {dest}; card {write_card(name, results_dir)}")


@cli.command()
@click.argument("model_name", metavar="MODEL")
@click.option("--split", "split_name", default="test", show_default=True,
              help="Split whose images are reconstructed and interpolated.")
@click.option("--rows", default=None, help="START:STOP rows of that split (default: all), "
              "e.g. 3600:4283 for the CelebA subset's test ids.")
@data_root_option
@results_option
def figures(model_name: str, split_name: str, rows: str | None, data_root: Path | None,
            results_dir: Path) -> None:
    """Reconstructions per level, samples, interpolations and training curves of MODEL."""
    from halibench.checkpoints import load_checkpoint, locate
    from halibench.data import load as load_data
    from halibench.plots import model_figures

    folder, expected, name = locate(model_name)
    model, config = load_checkpoint(folder, expected)
    dataset = config.get("data", {}).get("dataset") or "mnist"
    split = load_data(dataset, split_name, data_root)
    if rows:
        split = split.take(*parse_range(rows, "--rows"))
    log_folder = folder if (folder / "losses.csv").is_file() else folder.parent
    for path in model_figures(model, name, split.images, log_folder, results_dir / "figures"):
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("name")
@results_option
def card(name: str, results_dir: Path) -> None:
    """Regenerate the model card of shipped checkpoint NAME from its records."""
    from halibench.export import write_card

    click.echo(f"wrote {write_card(name, results_dir)}")


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
    """Check every file of NAME against its official checksum (or say why it cannot)."""
    from halibench.data import verify

    for fname, outcome in verify(name, data_root).items():
        click.echo(f"{fname}: {outcome}")


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


DEFAULT_BASELINES = ["raw-pixels", "pca", "hog", "untrained-hali"]


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def warn_unconverged(records: list[dict]) -> None:
    """One line, when any probe solve stopped short of its tolerance (at the iteration cap,
    or where float32 allowed no further descent)."""
    capped = [r for r in records if (r.get("convergence") or {}).get("not_converged")]
    if capped:
        n = sum(r["convergence"]["not_converged"] for r in capped)
        total = sum(r["convergence"]["solves"] for r in capped)
        echo_err(f"warning: {n} of {total} probe solves in {len(capped)} record(s) did not reach "
                 "the solver's tolerance (see each record's 'convergence')")


def summary_table(records: list[dict]) -> str:
    if records and "attributes" in records[0]:
        return attribute_summary(records)
    lines = ["| model | level | probe | labels | value | draws | backend |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        value = f"{r['mean']:.2f} ± {r['std']:.2f}" if len(r["draws"]) > 1 else f"{r['mean']:.2f}"
        lines.append(f"| {r['model']} | {r['level']} | {r['probe']} | {r['labels']} | "
                     f"{r['metric']} {value} | {len(r['draws'])} | {r['backend']} |")
    return "\n".join(lines)


def attribute_summary(records: list[dict]) -> str:
    """Means over evaluated attributes, and which attributes were left out."""
    lines = ["| model | level | probe | mean balanced acc. | mean acc. | attributes | backend |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['model']} | {r['level']} | {r['probe']} | {r['mean']:.2f} | "
                     f"{r['mean_accuracy']:.2f} | {r['attributes_evaluated']} | "
                     f"{r['backend']} |")
    excluded = records[0]["attributes_excluded"]
    if excluded:
        lines.append(f"left out of the means (too few positives or negatives): "
                     f"{', '.join(excluded)}")
    return "\n".join(lines)


def selected_protocol(name: str, labels_per_class: tuple[str, ...]):
    """The protocol, restricted to the given label settings (all when none given)."""
    from halibench.protocols import load_protocol, restrict

    return restrict(load_protocol(name), labels_per_class)


def evaluation_options(f):
    for option in reversed([
        click.option("--level", "levels", multiple=True, help="Feature level(s); default all "
                     "of the model's latent levels and concat."),
        click.option("--probe", "probes", multiple=True, help="Probe(s): l2svm, linear, knn."),
        click.option("--full", is_flag=True, help="The protocol's full number of draws."),
        click.option("--labels-per-class", "labels_per_class", multiple=True,
                     help="Only these label settings of the protocol (e.g. 10)."),
        click.option("--draws", type=click.IntRange(min=1), default=None,
                     help="Override the number of draws (quick looks; recorded)."),
        click.option("--backend", type=click.Choice(["torch", "sklearn"]), default="torch",
                     show_default=True, help="Linear probes' solver: batched Newton-CG "
                     "(torch) or scikit-learn's reference estimators, one fit each."),
        click.option("--device", default="auto", show_default=True,
                     help="Where the probes solve (cpu, cuda, ...; auto: cuda when available)."),
        click.option("--no-cache", is_flag=True, help="Recompute features."),
        data_root_option, results_option,
    ]):
        f = option(f)
    return f


@cli.command()
@click.argument("benchmark_name", metavar="BENCHMARK")
@click.option("--model", "models", multiple=True, help="Shipped checkpoint name, model family "
              "(hali, ali, bigan: the shipped one for the dataset), checkpoint folder, baseline "
              "or package.module:attribute (your encoder); default: shipped checkpoints for "
              "the dataset and baselines.")
@evaluation_options
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def run(benchmark_name: str, models: tuple[str, ...], levels: tuple[str, ...],
        probes: tuple[str, ...], full: bool, labels_per_class: tuple[str, ...],
        draws: int | None, backend: str, device: str, no_cache: bool,
        data_root: Path | None, results_dir: Path, as_json: bool) -> None:
    """Evaluate models on BENCHMARK; print a table, write records, refresh the leaderboard."""
    from halibench import benchmark
    from halibench.results import write_leaderboard

    protocol = selected_protocol(benchmark_name, labels_per_class)
    names = list(models) or benchmark.shipped_for(protocol.dataset) + DEFAULT_BASELINES
    records = benchmark.run(protocol, names, list(levels) or None, list(probes) or None,
                            full=full, root=data_root, use_cache=not no_cache,
                            backend=backend, draws=draws, results_dir=results_dir,
                            progress=lambda m: echo_err(f"[{protocol.name}] {m}"),
                            device=resolve_device(device))
    write_leaderboard(results_dir)
    warn_unconverged(records)
    if as_json:
        click.echo(json.dumps(records, indent=2))
    else:
        click.echo(f"{protocol.name} v{protocol.version} ({protocol.metric}, %)")
        if protocol.subset:
            click.echo(f"SUBSET, not comparable to published numbers: {protocol.subset}")
        click.echo(summary_table(records))
    if protocol.task == "attributes" and records:
        from halibench.results import read_records

        echo_err(f"chart: {attribute_figure(protocol, read_records(results_dir), results_dir)}")


def attribute_figure(protocol, all_records: list[dict], results_dir: Path) -> Path:
    """Per-attribute bars of every learned model recorded on ``protocol`` (this version),
    and of HOG when recorded."""
    from halibench.feature_sources import BASELINES
    from halibench.plots import attribute_chart, save
    from halibench.results import latest_records

    records = [r for r in latest_records(all_records)
               if r["benchmark"] == protocol.name and r["protocol_version"] == protocol.version]
    models = list(dict.fromkeys(r["model"] for r in records if r["model"] not in BASELINES))
    models += ["hog"] if any(r["model"] == "hog" for r in records) else []
    models = models or list(dict.fromkeys(r["model"] for r in records))
    return save(attribute_chart(records, models, f"{protocol.name}: per-attribute test "
                                                 "balanced accuracy"),
                results_dir / "figures" / f"{protocol.name}-attributes.png")


@cli.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--benchmark", "benchmark_name", default="mnist-semisup", show_default=True)
@evaluation_options
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG bar chart (default: RESULTS/figures/compare-BENCHMARK-MODELS.png).")
def compare(models: tuple[str, ...], benchmark_name: str, levels: tuple[str, ...],
            probes: tuple[str, ...], full: bool, labels_per_class: tuple[str, ...],
            draws: int | None, backend: str, device: str, no_cache: bool,
            data_root: Path | None, results_dir: Path, chart: Path | None) -> None:
    """Compare MODELS side by side on the same draws: deltas, paired t-tests, a chart."""
    from halibench import benchmark
    from halibench.compare import bar_chart, comparison_table, format_table
    from halibench.results import write_leaderboard

    protocol = selected_protocol(benchmark_name, labels_per_class)
    records = benchmark.run(protocol, list(models), list(levels) or None,
                            list(probes) or None, full=full, root=data_root,
                            use_cache=not no_cache, backend=backend, draws=draws,
                            results_dir=results_dir,
                            progress=lambda m: echo_err(f"[{protocol.name}] {m}"),
                            device=resolve_device(device))
    write_leaderboard(results_dir)
    warn_unconverged(records)
    table = comparison_table(records)
    click.echo(f"{protocol.name} v{protocol.version}: test {protocol.metric} (%)")
    click.echo(format_table(table))
    path = chart or results_dir / "figures" / f"compare-{protocol.name}-{'-'.join(models)}.png"
    bar_chart(table, path, f"{protocol.name}: {' vs '.join(models)}")
    click.echo(f"chart: {path}")


@cli.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--benchmark", "benchmark_name", default="mnist-semisup", show_default=True,
              help="Protocol whose pool trains the reference classifier (validation picks "
              "its C) and whose test images are reconstructed.")
@data_root_option
@results_option
def semantics(models: tuple[str, ...], benchmark_name: str, data_root: Path | None,
              results_dir: Path) -> None:
    """Per level, the share of test digits whose reconstruction keeps its class under a
    fixed raw-pixel L2-SVM; one JSON record per model in RESULTS/semantics/."""
    from halibench.benchmark import BenchmarkData, model_sources
    from halibench.environment import environment
    from halibench.protocols import load_protocol
    from halibench.results import write_semantics_record
    from halibench.semantics import PixelClassifier, class_consistency

    protocol = load_protocol(benchmark_name)
    data = BenchmarkData(protocol, data_root)
    sources = [model_sources(m, None, data.image_shape(), protocol.dataset, echo_err)[0]
               for m in models]
    not_models = [s.model for s in sources if getattr(s, "network", None) is None]
    if not_models:
        raise HalibenchError(f"{not_models}: no decoder to reconstruct with; semantics needs "
                             "ALI, BiGAN or HALI models")
    pool, val, test = (data.split(r) for r in ("pool", "validation", "test"))
    classifier = PixelClassifier(pool.images, pool.labels, val.images, val.labels)
    click.echo("| model | originals | " + " | ".join(
        f"z{i}" for i in range(1, max(s.network.levels for s in sources) + 1)) + " |")
    for source in sources:
        shares = class_consistency(source.network, classifier, test.images, test.labels)
        levels = " | ".join(f"{shares[f'z{i}']:.2f}" for i in range(1, source.network.levels + 1))
        click.echo(f"| {source.model} | {shares['originals']:.2f} | {levels} |")
        write_semantics_record(results_dir, {
            "benchmark": protocol.name, "protocol_version": protocol.version,
            "model": source.model, "checkpoint_sha256": source.checkpoint_sha256,
            "classifier": "one-vs-rest L2-SVM on raw pixels, all pool labels, C on validation",
            "class_consistency": shares, "environment": environment()})


@cli.command()
@results_option
def leaderboard(results_dir: Path) -> None:
    """Regenerate leaderboard.md, leaderboard.csv and the per-attribute charts of attribute
    protocols from the result records."""
    from halibench.protocols import load_protocol
    from halibench.results import read_records, write_leaderboard

    for path in write_leaderboard(results_dir):
        click.echo(f"wrote {path}")
    records = read_records(results_dir)
    for name in sorted({r["benchmark"] for r in records if "attributes" in r}):
        click.echo(f"wrote {attribute_figure(load_protocol(name), records, results_dir)}")


@cli.command("list")
def list_cmd() -> None:
    """Models, shipped checkpoints, levels, benchmarks and probes."""
    from halibench.checkpoints import read_index
    from halibench.feature_sources import BASELINES
    from halibench.probes.registry import PROBES
    from halibench.protocols import list_protocols

    index = read_index()
    click.echo("models: hali, ali, bigan (train with `halibench train`)")
    click.echo("checkpoints: " + (", ".join(f"{n} ({e.get('dataset', '?')})"
                                            for n, e in sorted(index.items())) or "none yet"))
    click.echo("levels: z1..zL, concat, hidden (per model; see feature_info)")
    click.echo("baselines: " + ", ".join(BASELINES))
    click.echo("benchmarks: " + ", ".join(list_protocols()))
    click.echo("probes: " + ", ".join(PROBES))


@cli.command()
@click.option("--expected", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("results/expected.csv"), show_default=True)
@data_root_option
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the comparison to this CSV file.")
@click.option("--no-cache", is_flag=True, help="Recompute features.")
def regress(expected: Path, data_root: Path | None, csv_out: Path | None,
            no_cache: bool) -> None:
    """Re-evaluate the expected rows; exit 1 if any drifts beyond its tolerance."""
    from halibench.io import write_text_atomic
    from halibench.regress import read_expected
    from halibench.regress import regress as run_regress

    table = run_regress(read_expected(expected), data_root, use_cache=not no_cache)
    color = {True: "green", False: "red"}
    click.echo("| benchmark | model | level | probe | labels | draws | expected | measured | "
               "drift | tol | status |")
    click.echo("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in table.itertuples():
        status = click.style("ok" if r.ok else "DRIFT", fg=color[bool(r.ok)])
        click.echo(f"| {r.benchmark} | {r.model} | {r.level} | {r.probe} | {r.labels} | "
                   f"{r.draws} | {r.expected} | {r.measured} | {r.drift:+.3f} | "
                   f"{r.tolerance} | {status} |")
    if csv_out:
        write_text_atomic(csv_out, table.to_csv(index=False, lineterminator="\n"))
    if not table["ok"].all():
        click.echo(f"{(~table['ok']).sum()} of {len(table)} rows drifted", err=True)
        sys.exit(1)
    click.echo(f"all {len(table)} rows within tolerance")


def main() -> None:
    cli(prog_name="halibench")


if __name__ == "__main__":
    sys.exit(main())
