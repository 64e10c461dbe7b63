"""Official source files: names, checksums, download addresses; verification."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from halibench.errors import DatasetError

CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """One official file of a dataset, as the publisher names it.

    ``name`` may end in ``.gz`` while an uncompressed copy (the name without ``.gz``) is
    accepted too; ``md5`` and ``sha256`` apply to the compressed file, ``raw_md5`` (the md5
    of the official file decompressed) to the copy.
    """

    name: str
    md5: str | None = None
    sha256: str | None = None
    urls: tuple[str, ...] = ()
    size: int | None = None
    raw_md5: str | None = None

    def candidates(self, folder: Path) -> list[Path]:
        paths = [folder / self.name]
        if self.name.endswith(".gz"):
            paths.append(folder / self.name[:-3])
        return paths

    def locate(self, folder: Path) -> Path | None:
        return next((p for p in self.candidates(folder) if p.is_file()), None)

    def official_md5(self, path: Path) -> str | None:
        """The md5 that ``path`` (this file, a download of it, or its uncompressed copy)
        must have, if known."""
        return self.raw_md5 if self.is_uncompressed_copy(path) else self.md5

    def is_uncompressed_copy(self, path: Path) -> bool:
        return self.name.endswith(".gz") and path.name == Path(self.name[:-3]).name

    def require(self, folder: Path, dataset: str) -> Path:
        path = self.locate(folder)
        if path is None:
            raise DatasetError(f"{folder / self.name}: missing; run `halibench data prepare "
                               f"{dataset}` to download it, or place the official file there")
        return path


def file_digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file, read once."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def check_md5(source: SourceFile, path: Path, md5: str) -> None:
    """Raise DatasetError when ``path``'s md5 is not the official one (where one is known)."""
    expected = source.official_md5(path)
    if expected and md5 != expected:
        raise DatasetError(f"{path}: MD5 {md5} does not match the official {expected}; "
                           "delete the file and download it again")


def check_digests(source: SourceFile, path: Path) -> str:
    """Compare ``path``'s bytes with the source's checksums; returns the md5."""
    md5, sha = file_digests(path)
    check_md5(source, path, md5)
    if source.sha256 and not source.is_uncompressed_copy(path) and sha != source.sha256:
        raise DatasetError(f"{path}: SHA-256 {sha} does not match {source.sha256}; "
                           "delete the file and download it again")
    return md5


def verify_file(source: SourceFile, path: Path) -> str:
    """Verify a located source file against its official checksums; returns its md5."""
    return check_digests(source, path)
