"""What every command shares: the error-handling group class, the command line a record
keeps, device and range parsing, and the common options."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from halibench.errors import HalibenchError


class HalibenchGroup(click.Group):
    """A click group that turns bad input (HalibenchError, a file the system refuses) into
    a one-line message and exit code 2, and Ctrl-C into exit code 130; ``--debug`` lets the
    traceback through instead."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (HalibenchError, OSError) as e:
            if ctx.params.get("debug"):
                raise
            click.echo(f"error: {one_line(e)}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing half-written was kept", err=True)
            ctx.exit(130)


def one_line(e: Exception) -> str:
    """The message of bad input, whitespace (a user exception's newlines too) folded."""
    if isinstance(e, HalibenchError):
        text = str(e)
    else:
        where = f"{getattr(e, 'filename', None)}: " if getattr(e, "filename", None) else ""
        text = (f"{where}{getattr(e, 'strerror', None) or e}; check that the path exists and "
                "that you may read (and, for caches and results, write) it")
    return " ".join(text.split())


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
    """``auto`` -> cuda when available, else cpu; a device this machine lacks is one line
    (``evaluation.gate.checked_device``)."""
    from halibench.evaluation.gate import checked_device

    return checked_device(device)


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
    "--results", "results_dir", type=click.Path(path_type=Path),
    default=Path("results"), show_default=True, help="Results folder (records, leaderboard).")


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def figure_options(f):
    """``--format`` and ``--dpi`` of the figures a command draws."""
    f = click.option("--dpi", type=click.IntRange(30, 1200), default=110, show_default=True,
                     help="Resolution of raster figures (and of rasters inside PDF/SVG).")(f)
    return click.option("--format", "fmt", type=click.Choice(["png", "pdf", "svg"]),
                        default="png", show_default=True, help="Figure file format.")(f)


def examples(*lines: str):
    """Decorator (outermost, above ``@click.command``): an Examples section in --help."""
    def decorate(command: click.Command) -> click.Command:
        command.epilog = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
        return command
    return decorate

