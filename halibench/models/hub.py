"""Where shipped checkpoints come from: the index (package data) and the folders.

A shipped name resolves, in order, to ``$HALIBENCH_CHECKPOINTS/<name>``, to the source
checkout's ``checkpoints/<name>``, or to ``~/.cache/halibench/checkpoints/<name>``, which is
downloaded on first use from ``$HALIBENCH_CHECKPOINT_URL/<name>/`` (each file written
atomically, the weights verified against the index's sha256), the way torchvision and timm
fetch weights. ``$HALIBENCH_CHECKPOINTS`` may hold its own ``index.json``, which then
replaces the shipped index (a private set of checkpoints).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

from halibench.errors import CheckpointError
from halibench.io import atomic_path, sha256_file

FOLDER_ENV = "HALIBENCH_CHECKPOINTS"
URL_ENV = "HALIBENCH_CHECKPOINT_URL"
CACHE_ENV = "HALIBENCH_HOME"
FILES = ("config.json", "model.safetensors")
TIMEOUT_S = 60


def shipped_index_path() -> Path:
    return Path(str(resources.files("halibench") / "shipped" / "checkpoints.json"))


def index_path() -> Path:
    """The index in use: ``$HALIBENCH_CHECKPOINTS/index.json`` if present, else shipped."""
    env = os.environ.get(FOLDER_ENV)
    if env and (Path(env) / "index.json").is_file():
        return Path(env) / "index.json"
    return shipped_index_path()


def read_index(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Name -> entry of the index in use (or of the index at ``path``)."""
    path = path or index_path()
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())["checkpoints"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: invalid checkpoint index ({e})") from None


def checkout_folder() -> Path:
    """``checkpoints/`` of the source checkout this package runs from (may not exist)."""
    return Path(__file__).resolve().parents[2] / "checkpoints"


def writable_folder() -> Path:
    """Where ``halibench export`` writes checkpoint folders: ``$HALIBENCH_CHECKPOINTS``, else
    the checkout's ``checkpoints/``."""
    env = os.environ.get(FOLDER_ENV)
    return Path(env) if env else checkout_folder()


def writable_index_path() -> Path:
    """The index ``halibench export`` updates (beside ``$HALIBENCH_CHECKPOINTS``, else the
    shipped one in the checkout)."""
    env = os.environ.get(FOLDER_ENV)
    return Path(env) / "index.json" if env else shipped_index_path()


def download_folder() -> Path:
    home = os.environ.get(CACHE_ENV)
    return (Path(home) if home else Path.home() / ".cache" / "halibench") / "checkpoints"


def local_folders() -> list[Path]:
    env = os.environ.get(FOLDER_ENV)
    checkout = [checkout_folder()] if checkout_folder().is_dir() else []
    return [*([Path(env)] if env else []), *checkout, download_folder()]


def local_copy(entry: dict[str, Any]) -> Path | None:
    """The first local folder holding a complete copy of the checkpoint, if any."""
    for root in local_folders():
        folder = root / entry["path"]
        if all((folder / f).is_file() for f in FILES):
            return folder
    return None


def full_copy_reachable(name: str) -> bool:
    """Whether the full checkpoint behind ``name`` (weights of every network) can be had: a
    local copy, or an address to download it from; True for a name that is not shipped."""
    entry = read_index().get(name)
    return entry is None or local_copy(entry) is not None or bool(os.environ.get(URL_ENV))


def shipped_folder(name: str, entry: dict[str, Any]) -> Path:
    """The folder of shipped checkpoint ``name``, downloaded if no local copy has it."""
    return local_copy(entry) or fetch(name, entry)


def fetch(name: str, entry: dict[str, Any]) -> Path:
    base = os.environ.get(URL_ENV)
    folder = download_folder() / entry["path"]
    if not base:
        raise CheckpointError(f"{name}: the full checkpoint is not in "
                              f"{[str(p) for p in local_folders()]} (an installed package "
                              f"carries only the shipped encoders, enough for features); "
                              f"set {FOLDER_ENV} to a folder holding {name}/ or {URL_ENV} to "
                              "an address to download it from")
    for fname in FILES:
        url = f"{base.rstrip('/')}/{entry['path']}/{fname}"
        try:
            with atomic_path(folder / fname) as tmp:
                request = urllib.request.Request(url, headers={"User-Agent": "halibench"})
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, \
                        open(tmp, "wb") as out:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                if fname == "model.safetensors" and sha256_file(tmp) != entry["sha256"]:
                    raise CheckpointError(f"{url}: sha256 does not match the index "
                                          f"({entry['sha256'][:12]}…); not kept")
        except (urllib.error.URLError, OSError) as e:
            raise CheckpointError(f"{url}: download failed ({e}); retry, or place {name}/ in "
                                  f"{FOLDER_ENV}") from None
    return folder
