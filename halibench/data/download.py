"""Downloads for users with internet: streamed to a temporary file, verified, then renamed.

Archive extraction refuses members that would land outside the target folder.
"""

from __future__ import annotations

import os
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from halibench.data.sources import SourceFile, check_digests
from halibench.errors import DatasetError
from halibench.io import atomic_path
from halibench.progress import progress

TIMEOUT_S = 60
CHUNK = 1 << 20


def _stream(url: str, dest: Path, label: str) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "halibench"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, open(dest, "wb") as f:
        total = int(response.headers.get("Content-Length") or 0) or None
        with progress(total, label, "B", unit_scale=True, leave=False) as bar:
            while chunk := response.read(CHUNK):
                f.write(chunk)
                bar.update(len(chunk))


def download(source: SourceFile, folder: Path) -> Path:
    """Fetch ``source`` into ``folder`` from the first address that yields a verified file."""
    final = folder / source.name
    if not source.urls:
        raise DatasetError(f"{final}: missing and has no download address; "
                           "place the official file there by hand")
    errors = []
    for url in source.urls:
        try:
            with atomic_path(final) as tmp:
                _stream(url, tmp, source.name)
                check_digests(source, tmp)
            return final
        except (urllib.error.URLError, OSError, DatasetError) as e:
            errors.append(f"{url}: {e}")
    raise DatasetError(f"{final}: download failed from every address ({'; '.join(errors)}); "
                       "download it by hand and place it there")


def _inside(target: Path, member: str) -> bool:
    dest = (target / member).resolve()
    return os.path.commonpath([dest, target.resolve()]) == str(target.resolve())


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a tar or zip archive, refusing links and members that escape ``target``;
    nothing is created before every member has been checked."""
    if zipfile.is_zipfile(archive):
        try:
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    if not _inside(target, name):
                        raise DatasetError(f"{archive}: member {name!r} would be written "
                                           f"outside {target}; refusing to extract this archive")
                damaged = zf.testzip()  # every member's CRC, before anything is written
                if damaged is not None:
                    raise DatasetError(f"{archive}: member {damaged!r} is damaged (CRC "
                                       "mismatch); delete the archive and download it again")
                target.mkdir(parents=True, exist_ok=True)
                zf.extractall(target)
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            raise DatasetError(f"{archive}: not a readable zip archive ({e}); delete it and "
                               "download it again") from None
        return
    try:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                if not _inside(target, m.name) or m.issym() or m.islnk() or m.isdev():
                    raise DatasetError(f"{archive}: member {m.name!r} is a link, a device or "
                                       f"would land outside {target}; refusing to extract")
            target.mkdir(parents=True, exist_ok=True)
            tf.extractall(target, members=members, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as e:
        reason = " ".join(str(e).split()) or type(e).__name__  # may span lines, or be empty
        raise DatasetError(f"{archive}: not a readable archive ({reason}); delete it and "
                           "download it again") from None
