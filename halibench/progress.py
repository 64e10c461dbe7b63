"""Progress on long work: tqdm bars on a terminal only (never in logs or pipes, never under
``TQDM_DISABLE``, which tqdm ignores when a caller passes ``disable``), and milestone lines
(a training checkpoint, a finished evaluation) on the ``halibench`` logger, which the
command line prints to stderr unless ``--quiet``."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from tqdm.auto import tqdm

log = logging.getLogger("halibench")
QUIET = {"on": False}


class StderrHandler(logging.Handler):
    """Each message as one line on the stderr of the moment (a test runner may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(record.getMessage() + "\n")
            sys.stderr.flush()
        except Exception:  # logging's own contract: report, never raise
            self.handleError(record)


def quiet(on: bool) -> None:
    """``--quiet``: no bars and no milestone lines, only warnings and errors."""
    QUIET["on"] = on
    if not any(isinstance(h, StderrHandler) for h in log.handlers):
        log.addHandler(StderrHandler())
        log.propagate = False
    log.setLevel(logging.WARNING if on else logging.INFO)


def milestone(message: str) -> None:
    """One line of progress (a finished step, where an output went), hidden by --quiet."""
    log.info(message)


def progress(total: int, desc: str | None = None, unit: str = "it", show: bool = True,
             **options: Any) -> tqdm:
    """A tqdm bar; hidden when ``show`` is false, under ``--quiet``, when stderr is not a
    terminal, or when ``TQDM_DISABLE`` is set to a true value."""
    off = (not show or QUIET["on"]
           or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes"))
    return tqdm(total=total, desc=desc, unit=unit, disable=True if off else None, **options)
