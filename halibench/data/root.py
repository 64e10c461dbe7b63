"""Where datasets live: ``--data-root``, else ``$HALIBENCH_DATA``, else a user cache folder."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "HALIBENCH_DATA"
CACHE_ENV = "HALIBENCH_CACHE"


def user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "halibench"


def default_root() -> Path:
    return user_cache() / "data"


def cache_root() -> Path:
    """Where prepared arrays and features go (``$HALIBENCH_CACHE``, else the user cache);
    kept apart from the data root so that a read-only data folder works."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else user_cache() / "cache"


def data_root(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else default_root()
