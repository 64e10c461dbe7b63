"""The one Markdown table renderer every table of the package goes through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """Lines of a GitHub Markdown table: the header, its rule, one line per row (a ``|`` or
    a line break inside a cell is escaped, so a cell can never shift the columns)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)} has {len(row)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(cell_text(cell) for cell in row) + " |")
    return lines


def cell_text(cell: Any) -> str:
    return " ".join(str(cell).splitlines()).replace("|", "\\|")
