"""The one progress bar factory: tqdm bars on a terminal only, never in logs or pipes, and
never under ``TQDM_DISABLE`` (tqdm ignores that variable when a caller passes ``disable``)."""

from __future__ import annotations

import os
from typing import Any

from tqdm.auto import tqdm


def progress(total: int, desc: str | None = None, unit: str = "it", show: bool = True,
             **options: Any) -> tqdm:
    """A tqdm bar; hidden when ``show`` is false, when stderr is not a terminal, or when
    ``TQDM_DISABLE`` is set to a true value."""
    off = not show or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")
    return tqdm(total=total, desc=desc, unit=unit, disable=True if off else None, **options)
