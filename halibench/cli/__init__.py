"""The ``halibench`` command line (click): one thin module per group of commands.

Bad input: one line on stderr, exit code 2 (``--debug``: the traceback); Ctrl-C: exit code
130.
"""

from __future__ import annotations

import sys

import click

from halibench.cli.checkpoints import card, export, figures
from halibench.cli.common import HalibenchGroup
from halibench.cli.data import data
from halibench.cli.evaluate import compare, leaderboard, list_cmd, regress, run, semantics
from halibench.cli.train import train


@click.group(cls=HalibenchGroup)
@click.version_option(package_name="halibench")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error (bad input "
              "and your encoder's exceptions are otherwise one line).")
@click.option("--quiet", is_flag=True, help="No progress bars or milestone lines (wall "
              "time per checkpoint, per evaluation); warnings and errors still print.")
def cli(debug: bool, quiet: bool) -> None:
    """Train, load and fairly compare ALI, BiGAN and HALI representations."""
    from halibench.progress import quiet as set_quiet

    set_quiet(quiet)


for command in (train, export, figures, card, data, run, compare, semantics, leaderboard,
                list_cmd, regress):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="halibench")


if __name__ == "__main__":
    sys.exit(main())
