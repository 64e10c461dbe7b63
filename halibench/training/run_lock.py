"""One writer per run folder: an exclusive lock on the folder's ``.train.lock``.

Two ``halibench train`` processes on one ``--out`` (a run and its own ``--resume``, or two
new runs) would truncate each other's logs and interleave checkpoints. The first to start
holds an ``flock`` on ``.train.lock`` until it finishes; the second is refused with one line
naming the holder (the pid and host written in the file). The kernel drops the lock when its
process dies, however it dies, so no lock outlives its run. The file itself stays (it is
never the lock, only its name tag). Where ``fcntl`` does not exist (Windows), runs are not
locked.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import IO

from halibench.errors import HalibenchError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".train.lock"
_held: dict[Path, IO[str]] = {}  # run folder -> the open lock file this process holds


def acquire(run_dir: Path) -> None:
    """Hold ``run_dir``'s lock for this process (a no-op if it holds it already)."""
    key = run_dir.resolve()
    if fcntl is None or key in _held:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held open while the run lasts
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise HalibenchError(f"{run_dir}: a training process ({holder}) writes this run; wait "
                             "for it to end, or give another --out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    handle.flush()
    _held[key] = handle


def release(run_dir: Path) -> None:
    """Give ``run_dir``'s lock back, if this process holds it."""
    handle = _held.pop(run_dir.resolve(), None)
    if handle is not None:
        handle.close()  # closing drops the flock
