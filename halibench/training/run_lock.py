"""One writer per run folder: a lock file naming the training process that writes it.

Two ``halibench train`` processes on one ``--out`` (a run and its own ``--resume``, or two
new runs) would truncate each other's logs and interleave checkpoints. The first to start
holds ``.train.lock`` until it finishes; the second is refused with one line. A lock left by
a process that died (same machine, its pid gone) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from halibench.errors import HalibenchError

LOCK_FILE = ".train.lock"


def _me() -> dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _holder(path: Path) -> dict[str, object] | None:
    """The process named in a lock file, or None when it is unreadable (half-written)."""
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def acquire(run_dir: Path) -> None:
    """Take ``run_dir``'s lock for this process (again, if it holds it already)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _holder(path)
            if holder == _me():
                return
            if holder is not None and holder.get("host") != socket.gethostname():
                raise HalibenchError(f"{run_dir}: a training process on {holder.get('host')} "
                                     f"(pid {holder.get('pid')}) writes this run; wait for it, "
                                     f"or delete {path} if none does") from None
            pid = holder.get("pid") if holder is not None else None
            if isinstance(pid, int) and pid > 0 and _alive(pid):
                raise HalibenchError(f"{run_dir}: another training process (pid {pid}) "
                                     "writes this run; wait for it to end or give another "
                                     "--out") from None
            path.unlink(missing_ok=True)  # its process is gone, or the file is not a lock
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(_me(), f)
        return
    raise HalibenchError(f"{run_dir}: could not take its lock {path}; delete it if no "
                         "training process writes this run")


def release(run_dir: Path) -> None:
    """Give ``run_dir``'s lock back, if this process holds it."""
    path = run_dir / LOCK_FILE
    if _holder(path) == _me():
        path.unlink(missing_ok=True)
