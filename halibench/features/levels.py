"""The one check of requested feature levels against the levels a source has."""

from __future__ import annotations

from collections.abc import Sequence

from halibench.errors import HalibenchError


class LevelError(HalibenchError, ValueError):
    """A requested feature level that the source does not have (or one asked twice)."""


def checked_levels(requested: Sequence[str] | None, valid: Sequence[str], owner: str,
                   default: Sequence[str] | None = None) -> list[str]:
    """``requested`` (or ``default``, else every valid level) as a list; LevelError naming
    ``owner`` and the valid levels on an unknown, repeated or empty request."""
    chosen = list(requested) if requested else list(default if default is not None else valid)
    valid = list(valid)
    unknown = [lv for lv in chosen if lv not in valid]
    if unknown:
        raise LevelError(f"{owner}: unknown level(s) {unknown}; valid levels: {valid}")
    repeated = sorted({lv for lv in chosen if chosen.count(lv) > 1})
    if repeated:
        raise LevelError(f"{owner}: level(s) {repeated} requested twice; valid levels: {valid}")
    if not chosen:
        raise LevelError(f"{owner}: no feature level requested; valid levels: {valid}")
    return chosen
