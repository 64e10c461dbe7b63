"""``halibench run``, ``compare``, ``semantics``, ``regress``, ``leaderboard`` and ``list``."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from halibench.cli.common import (
    data_root_option,
    echo_err,
    examples,
    figure_options,
    resolve_device,
    results_option,
)
from halibench.errors import HalibenchError
from halibench.evaluation.protocol_schema import MAX_DRAWS
from halibench.progress import milestone
from halibench.report.tables import markdown_table

DEFAULT_BASELINES = ["raw-pixels", "pca", "hog", "untrained-hali"]


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
    rows = []
    for r in records:
        value = f"{r['mean']:.2f} ± {r['std']:.2f}" if len(r["draws"]) > 1 else f"{r['mean']:.2f}"
        model = f"{r['model']} ({r['deviation']})" if r.get("deviation") else r["model"]
        rows.append((model, r["level"], r["probe"], r["labels"], f"{r['metric']} {value}",
                     len(r["draws"]), r["backend"]))
    return "\n".join(markdown_table(
        ("model", "level", "probe", "labels", "value", "draws", "backend"), rows))


def attribute_summary(records: list[dict]) -> str:
    """Means over evaluated attributes, and which attributes were left out."""
    lines = markdown_table(
        ("model", "level", "probe", "mean balanced acc.", "mean acc.", "attributes", "backend"),
        [(r["model"], r["level"], r["probe"], f"{r['mean']:.2f}", f"{r['mean_accuracy']:.2f}",
          r["attributes_evaluated"], r["backend"]) for r in records])
    excluded = records[0]["attributes_excluded"]
    if excluded:
        lines.append(f"left out of the means (too few positives or negatives): "
                     f"{', '.join(excluded)}")
    return "\n".join(lines)


def selected_protocol(name: str, labels_per_class: tuple[str, ...]):
    """The protocol, restricted to the given label settings (all when none given)."""
    from halibench.evaluation.protocols import load_protocol, restrict

    return restrict(load_protocol(name), labels_per_class)


def evaluation_options(f):
    for option in reversed([
        click.option("--level", "levels", multiple=True, help="Feature level(s); default all "
                     "of the model's latent levels and concat."),
        click.option("--probe", "probes", multiple=True,
                     help="Probe(s): l2svm, linear, knn; own on the *-own protocols."),
        click.option("--full", is_flag=True, help="The protocol's full number of draws."),
        click.option("--labels-per-class", "labels_per_class", multiple=True,
                     help="Only these label settings of the protocol (e.g. 10)."),
        click.option("--draws", type=click.IntRange(min=1, max=MAX_DRAWS), default=None,
                     help="Override the number of draws (quick looks; recorded)."),
        click.option("--backend", type=click.Choice(["torch", "sklearn"]), default="torch",
                     show_default=True, help="Linear probes' solver: batched Newton-CG "
                     "(torch) or scikit-learn's reference estimators, one fit each."),
        click.option("--device", default="auto", show_default=True,
                     help="Where the probes solve (cpu, cuda, ...; auto: cuda when available)."),
        click.option("--no-cache", is_flag=True, help="Recompute features and probe outcomes "
                     "(the feature cache entries are replaced)."),
        data_root_option, results_option,
    ]):
        f = option(f)
    return f


@examples(
    'halibench run mnist-semisup --model hali-mnist --probe l2svm --labels-per-class 10',
    'halibench run mnist-semisup --model mypkg.encoders:encoder --json > records.json',
    'halibench run mnist-semisup --model runs/my-hali --level z1 --draws 3 --results /tmp/r',
    'halibench run celeba-attributes-subset --model hali-celeba64 --probe l2svm',
)
@click.command()
@click.argument("benchmark_name", metavar="BENCHMARK")
@click.option("--model", "models", multiple=True, help="Shipped checkpoint name, model family "
              "(hali, ali, bigan: the shipped one for the dataset), checkpoint folder, baseline "
              "or package.module:attribute (your encoder); default: the dataset's shipped "
              "checkpoints trained without labels and baselines (for an own-classifier "
              "protocol, those trained with its labelled draw).")
@evaluation_options
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def run(benchmark_name: str, models: tuple[str, ...], levels: tuple[str, ...],
        probes: tuple[str, ...], full: bool, labels_per_class: tuple[str, ...],
        draws: int | None, backend: str, device: str, no_cache: bool,
        data_root: Path | None, results_dir: Path, as_json: bool) -> None:
    """Evaluate models on BENCHMARK; print a table, write records, refresh the leaderboard."""
    from halibench.evaluation import benchmark
    from halibench.report.results import leaderboard_refreshed

    device = resolve_device(device)
    protocol = selected_protocol(benchmark_name, labels_per_class)
    own = protocol.task == "own-classifier"  # scores models trained with labels, no baseline
    names = list(models) or benchmark.shipped_for(protocol) + ([] if own else DEFAULT_BASELINES)
    if not names:
        raise click.UsageError(f"{protocol.name}: no shipped checkpoint was trained with its "
                               f"labelled draw at {list(protocol.labels_per_class)} labels per "
                               "class; pass --model RUN_FOLDER of a run trained with "
                               "--labels-per-class")
    # With --json, stdout is the JSON alone: whatever an encoder prints goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext(), \
            leaderboard_refreshed(results_dir):
        records = benchmark.run(protocol, names, list(levels) or None, list(probes) or None,
                                full=full, root=data_root, use_cache=not no_cache,
                                backend=backend, draws=draws, results_dir=results_dir,
                                progress=lambda m: milestone(f"[{protocol.name}] {m}"),
                                device=device)
    warn_unconverged(records)
    if as_json:
        click.echo(json.dumps(records, indent=2))
    else:
        click.echo(f"{protocol.name} v{protocol.version} ({protocol.metric}, %)")
        if protocol.subset:
            click.echo(f"SUBSET, not comparable to published numbers: {protocol.subset}")
        click.echo(summary_table(records))
    if protocol.task == "attributes" and records:
        from halibench.report.results import read_records

        milestone(f"chart: {attribute_figure(protocol, read_records(results_dir), results_dir)}")


def attribute_figure(protocol, all_records: list[dict], results_dir: Path, fmt: str = "png",
                     dpi: int = 110) -> Path:
    """Per-attribute bars of every learned model recorded on ``protocol`` (this version),
    and of HOG when recorded."""
    from halibench.features.sources import BASELINES
    from halibench.report.plots import attribute_chart, save
    from halibench.report.results import latest_records

    records = [r for r in latest_records(all_records)
               if r["benchmark"] == protocol.name and r["protocol_version"] == protocol.version]
    models = list(dict.fromkeys(r["model"] for r in records if r["model"] not in BASELINES))
    models += ["hog"] if any(r["model"] == "hog" for r in records) else []
    models = models or list(dict.fromkeys(r["model"] for r in records))
    return save(attribute_chart(records, models, f"{protocol.name}: per-attribute test "
                                                 "balanced accuracy"),
                results_dir / "figures" / f"{protocol.name}-attributes.{fmt}", dpi)


@examples(
    'halibench compare hali ali bigan --probe l2svm',
    'halibench compare hog hali-mnist --probe l2svm --full --labels-per-class 10',
    'halibench compare raw-pixels mypkg.encoders:encoder --json | python -m json.tool',
)
@click.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--benchmark", "benchmark_name", default="mnist-semisup", show_default=True)
@evaluation_options
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Bar chart file, .png, .pdf or .svg (default: RESULTS/figures/compare-"
              "BENCHMARK-vVERSION-MODELS-LEVELS-PROBES-LABELSlpc-DRAWSdraws.FORMAT).")
@figure_options
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON (one "
              "object per row: means, deltas, paired p-values); nothing else on stdout.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the comparison as CSV.")
def compare(models: tuple[str, ...], benchmark_name: str, levels: tuple[str, ...],
            probes: tuple[str, ...], full: bool, labels_per_class: tuple[str, ...],
            draws: int | None, backend: str, device: str, no_cache: bool,
            data_root: Path | None, results_dir: Path, chart: Path | None, fmt: str,
            dpi: int, as_json: bool, as_csv: bool) -> None:
    """Compare MODELS side by side on the same draws: deltas, paired t-tests, a chart."""
    from halibench.evaluation import benchmark
    from halibench.report.compare import bar_chart, chart_file_name, comparison_table, format_table
    from halibench.report.plots import FORMATS
    from halibench.report.results import leaderboard_refreshed

    if as_json and as_csv:
        raise click.UsageError("--json and --csv: choose one output format")
    if chart is not None and chart.suffix.lstrip(".").lower() not in FORMATS:
        raise click.BadParameter(f"{chart}: give a .png, .pdf or .svg file", param_hint="--chart")
    device = resolve_device(device)
    protocol = selected_protocol(benchmark_name, labels_per_class)
    machine = as_json or as_csv  # stdout is the table alone: an encoder's prints go to stderr
    with contextlib.redirect_stdout(sys.stderr) if machine else contextlib.nullcontext(), \
            leaderboard_refreshed(results_dir):
        records = benchmark.run(protocol, list(models), list(levels) or None,
                                list(probes) or None, full=full, root=data_root,
                                use_cache=not no_cache, backend=backend, draws=draws,
                                results_dir=results_dir,
                                progress=lambda m: milestone(f"[{protocol.name}] {m}"),
                                device=device)
    warn_unconverged(records)
    table = comparison_table(records)
    names = list(dict.fromkeys(r["model"] for r in records))  # a run folder's name, not its path
    path = chart or results_dir / "figures" / chart_file_name(records, fmt)
    bar_chart(table, path, f"{protocol.name}: {' vs '.join(names)}", dpi)
    if machine:
        out = table.assign(benchmark=protocol.name, protocol_version=protocol.version)
        click.echo(out.to_json(orient="records", indent=2) if as_json
                   else out.to_csv(index=False, lineterminator="\n"), nl=as_json)
        milestone(f"chart: {path}")
        return
    click.echo(f"{protocol.name} v{protocol.version}: test {protocol.metric} (%)")
    click.echo(format_table(table))
    click.echo(f"chart: {path}")


@examples(
    'halibench semantics hali-mnist ali-mnist',
)
@click.command()
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
    from halibench.environment import environment
    from halibench.evaluation.benchmark import BenchmarkData, model_sources
    from halibench.evaluation.gate import check_writable
    from halibench.evaluation.protocols import load_protocol
    from halibench.evaluation.semantics import PixelClassifier, class_consistency
    from halibench.report.results import write_semantics_record

    check_writable(results_dir)
    protocol = load_protocol(benchmark_name)
    data = BenchmarkData(protocol, data_root)
    sources = [model_sources(m, None, data.image_shape(), protocol.dataset, milestone)[0]
               for m in models]
    not_models = [s.model for s in sources if getattr(s, "network", None) is None]
    if not_models:
        raise HalibenchError(f"{not_models}: no decoder to reconstruct with; semantics needs "
                             "ALI, BiGAN or HALI models")
    for source in sources:
        if source.network.encoder_only:
            raise HalibenchError(source.network.encoder_only)
    pool, val, test = (data.split(r) for r in ("pool", "validation", "test"))
    classifier = PixelClassifier(pool.images, pool.labels, val.images, val.labels)
    top = max(s.network.levels for s in sources)
    rows = []
    for source in sources:
        shares = class_consistency(source.network, classifier, test.images, test.labels)
        rows.append((source.model, f"{shares['originals']:.2f}",
                     *(f"{shares[f'z{i}']:.2f}" if f"z{i}" in shares else "—"
                       for i in range(1, top + 1))))
        write_semantics_record(results_dir, {
            "benchmark": protocol.name, "protocol_version": protocol.version,
            "model": source.model, "checkpoint_sha256": source.checkpoint_sha256,
            "classifier": "one-vs-rest L2-SVM on raw pixels, all pool labels, C on validation",
            "class_consistency": shares, "environment": environment()})
    click.echo("\n".join(markdown_table(
        ("model", "originals", *(f"z{i}" for i in range(1, top + 1))), rows)))


@examples(
    'halibench leaderboard',
    'halibench leaderboard --results /tmp/r --format svg',
)
@click.command()
@results_option
@figure_options
def leaderboard(results_dir: Path, fmt: str, dpi: int) -> None:
    """Regenerate leaderboard.md, leaderboard.csv and the per-attribute charts of attribute
    protocols from the result records."""
    from halibench.evaluation.protocols import load_protocol
    from halibench.report.results import read_records, write_leaderboard

    for path in write_leaderboard(results_dir):
        click.echo(f"wrote {path}")
    records = read_records(results_dir)
    charted = sorted({r["benchmark"] for r in records if "attributes" in r})
    for name in charted:
        click.echo(f"wrote {attribute_figure(load_protocol(name), records, results_dir, fmt, dpi)}")
    if not charted:
        milestone("no chart drawn: charts are of attribute protocols (celeba-attributes*), and "
                  f"{results_dir} holds none; `halibench compare` draws the others")


@examples(
    'halibench list',
)
@click.command("list")
def list_cmd() -> None:
    """Models, shipped checkpoints, levels, benchmarks and probes."""
    from halibench.evaluation.protocols import list_protocols, load_protocol
    from halibench.features.sources import BASELINES
    from halibench.models.checkpoints import read_index
    from halibench.probes.registry import PROBES

    index = read_index()
    click.echo("models: hali, ali, bigan (train with `halibench train`)")
    click.echo("checkpoints: " + (", ".join(
        f"{n} ({e.get('dataset', '?')}{', trained with labels' if e.get('trained_labels') else ''})"
        for n, e in sorted(index.items())) or "none yet"))
    click.echo("levels: z1..zL, concat, hidden (per model; see feature_info); classifier "
               "(semi-supervised models, *-own protocols)")
    click.echo("baselines: " + ", ".join(BASELINES))
    click.echo("benchmarks: " + ", ".join(f"{name} ({load_protocol(name).version})"
                                          for name in list_protocols()))
    click.echo("probes: " + ", ".join(PROBES))


@examples(
    'halibench regress',
    'halibench regress --csv /tmp/regress.csv',
    'halibench regress --strict      # CI: a row skipped for absent data fails',
)
@click.command()
@click.option("--expected", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of rows to reproduce (default: the expected values shipped with "
              "halibench).")
@data_root_option
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the comparison to this CSV file.")
@click.option("--no-cache", is_flag=True, help="Recompute features.")
@click.option("--strict", is_flag=True,
              help="Exit 1 when a row is skipped (its dataset or full checkpoint is absent), "
              "as CI does.")
def regress(expected: Path | None, data_root: Path | None, csv_out: Path | None,
            no_cache: bool, strict: bool) -> None:
    """Re-evaluate the expected rows, each beside its published number where one exists;
    exit 1 if any drifts beyond its tolerance or stops beating a number it claims to beat.
    A row whose dataset or full checkpoint is not here is skipped, saying why (with
    --strict: a failure)."""
    import pandas as pd

    from halibench.evaluation.regress import read_expected
    from halibench.evaluation.regress import regress as run_regress
    from halibench.io import write_text_atomic

    table = run_regress(read_expected(expected), data_root, use_cache=not no_cache)

    def dash(value) -> str:  # a skipped row measured nothing
        return "—" if pd.isna(value) else str(value)

    colour = {"ok": "green", "DRIFT": "red", "LOST CLAIM": "red"}
    click.echo("\n".join(markdown_table(
        ("benchmark", "model", "level", "probe", "labels", "draws", "expected", "measured",
         "drift", "tol", "published", "gap", "status"),
        [(r.benchmark, r.model, r.level, r.probe, dash(r.labels), dash(r.draws), r.expected,
          dash(r.measured), "—" if pd.isna(r.drift) else f"{r.drift:+.3f}", r.tolerance,
          r.published or "—", "—" if pd.isna(r.gap) else f"{r.gap:+.2f}",
          click.style(r.status, fg=colour.get(r.status, "yellow")))
         for r in table.itertuples()])))
    if csv_out:
        write_text_atomic(csv_out, table.to_csv(index=False, lineterminator="\n"))
    failed = int(table["status"].isin(["DRIFT", "LOST CLAIM"]).sum())
    ran = int(table["within_tolerance"].notna().sum())
    skipped = f"; {len(table) - ran} skipped (said why above)" if ran < len(table) else ""
    if failed:
        click.echo(f"{failed} of {ran} rows run drifted or lost a claim{skipped}", err=True)
        sys.exit(1)
    if strict and ran < len(table):
        click.echo(f"--strict: {len(table) - ran} of {len(table)} rows skipped (said why "
                   "above); every row must run", err=True)
        sys.exit(1)
    click.echo(f"all {ran} rows run within tolerance; every claim holds{skipped}" if ran
               else f"no row ran{skipped}")
