"""Atomic file writing and hashing: nothing half-written is ever left at a final path."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
TEMP_MARK = "pid"
TEMP_PID = re.compile(rf"\.{TEMP_MARK}(\d+)\.")


def umask_mode(mode: int) -> int:
    """``mode`` under the process umask (tempfile creates 0600 files and 0700 folders)."""
    current = os.umask(0)
    os.umask(current)
    return mode & ~current


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def temp_prefix(final: Path) -> str:
    """Temporary names carry the writer's pid, so that a later run can tell a killed
    writer's leftovers (``sweep_stale_temps``) from a live writer's file."""
    return f".{final.name}.{TEMP_MARK}{os.getpid()}."


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` whose writer is no longer
    running (a killed run's leftovers); returns what was removed."""
    removed = []
    for path in folder.glob(f".*.{TEMP_MARK}*.tmp") if folder.is_dir() else ():
        match = TEMP_PID.search(path.name)
        if match and not pid_alive(int(match.group(1))):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def make_readable(folder: Path) -> None:
    """Give every file in ``folder`` the umask's mode (tempfile creates them 0600)."""
    for path in folder.iterdir():
        if path.is_file():
            os.chmod(path, umask_mode(0o666))


@contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(final), suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, umask_mode(0o666))
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; it becomes ``final`` only if the block succeeds.

    An existing ``final`` is replaced (moved aside first, then deleted).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(final), suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        os.chmod(tmp, umask_mode(0o777))
        make_readable(tmp)
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def content_record(entry: Path) -> Path:
    """The file beside a cache entry that records what it held when written."""
    return entry.with_suffix(".content.json")


def record_contents(record: Path, files: dict[str, Path]) -> None:
    """Write ``record``: each file's (size, mtime) and sha256, as it is now."""
    write_json_atomic(record, {key: file_content(path) for key, path in files.items()})


def file_content(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"stamp": [st.st_size, st.st_mtime_ns], "sha256": sha256_file(path)}


def contents_state(record: Path, files: dict[str, Path]) -> str:
    """"same" when ``files`` hold what ``record_contents`` recorded (checked by size and
    mtime, and when those moved by sha256, then the record is renewed); "unrecorded" when
    there is no record (an entry of an older version); "changed" otherwise."""
    if not record.is_file():
        return "unrecorded"
    try:
        written = json.loads(record.read_text())
        moved = False
        for key, path in files.items():
            st = path.stat()
            if written[key]["stamp"] != [st.st_size, st.st_mtime_ns]:
                if sha256_file(path) != written[key]["sha256"]:
                    return "changed"
                moved = True
    except (OSError, ValueError, KeyError, TypeError):
        return "changed"
    if moved:
        record_contents(record, files)
    return "same"
