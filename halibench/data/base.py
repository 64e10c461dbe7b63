"""The dataset contract: official source files in, uint8 image arrays and labels out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from halibench.data.download import download
from halibench.data.sources import SourceFile, check_md5, file_digests, verify_file
from halibench.errors import DatasetError

Allocator = Callable[[int], np.ndarray]


@dataclass
class Split:
    """Images (N, C, H, W) uint8 and labels: (N,) class ids or (N, K) 0/1 attributes.
    ``identity`` names the content: dataset, split, the sources' checksums and the rows."""

    images: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    identity: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def take(self, start: int, stop: int) -> Split:
        """Rows ``start:stop``; the caller (a benchmark file) owns the ranges."""
        if not 0 <= start < stop <= len(self):
            raise DatasetError(f"index range {start}:{stop} is outside this split of "
                               f"{len(self)} examples ({self.identity}); the protocol needs "
                               f"{stop} (are images or rows missing from the data root?)")
        return Split(self.images[start:stop], self.labels[start:stop], self.label_names,
                     f"{self.identity}[{start}:{stop}]")


class Dataset(ABC):
    """A dataset read from its official files. Subclasses declare the files and decode them."""

    name: str
    title: str
    image_shape: tuple[int, int, int]
    splits: tuple[str, ...]
    label_names: tuple[str, ...]
    folder_names: tuple[str, ...]
    manual_download: str | None = None
    cache_version: str = "1"  # bump when decoding changes, to invalidate prepared caches

    @abstractmethod
    def sources(self, split: str | None = None) -> tuple[SourceFile, ...]:
        """The official files (of one split, or all)."""

    @abstractmethod
    def decode(self, folder: Path, split: str, allocate: Allocator) -> np.ndarray:
        """Decode ``split`` from the source files into ``allocate(n)`` (an (n, C, H, W) uint8
        array, usually a memory map, so memory stays bounded); returns the labels."""

    def folder(self, root: Path) -> Path:
        """The first existing folder of this dataset under ``root`` (else the canonical one)."""
        for name in self.folder_names:
            if (root / name).is_dir():
                return root / name
        return root / self.folder_names[0]

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise DatasetError(f"{self.name} has no split {split!r}; valid: {list(self.splits)}")

    def fingerprint_files(self, folder: Path, split: str) -> list[Path]:
        """The files whose checksums key the prepared cache of ``split``."""
        return [s.require(folder, self.name) for s in self.sources(split)]

    def matches_official(self, folder: Path, md5s: dict[Path, str]) -> bool:
        """Check the source files among ``md5s`` (path -> md5, as read for the prepared
        cache's key) against the official checksums: an officially named file that differs
        is damaged (DatasetError); an uncompressed copy that differs from the decompressed
        official file is the user's own data (False: records made on it say so)."""
        official = True
        for source in self.sources():
            for path in source.candidates(folder):
                if path not in md5s:
                    continue
                if not source.is_uncompressed_copy(path):
                    check_md5(source, path, md5s[path])
                elif source.raw_md5 and md5s[path] != source.raw_md5:
                    official = False
        return official

    def missing(self, folder: Path) -> list[str]:
        """Names of the source files not present (empty when the dataset is complete)."""
        return [s.name for s in self.sources() if s.locate(folder) is None]

    def verify(self, folder: Path) -> dict[str, str]:
        """What was verified of every source file: its md5 checked against the official
        checksum, or, for a copy without a published checksum, its structure."""
        out = {}
        for source in self.sources():
            path = source.require(folder, self.name)
            if source.is_uncompressed_copy(path) and not source.raw_md5:
                self.check_structure(path)
                out[path.name] = ("ok: no official checksum exists for this uncompressed "
                                  "copy; its structure was checked instead")
            elif source.official_md5(path) or source.sha256:
                out[path.name] = f"ok: md5 {verify_file(source, path)} matches the official one"
            else:
                out[path.name] = (f"NOT VERIFIED: md5 {file_digests(path)[0]}, but no official "
                                  "checksum is published for this file")
        return out

    def check_structure(self, path: Path) -> None:
        """Raise DatasetError unless ``path`` (a copy with no published checksum) is whole."""
        raise DatasetError(f"{path}: no official checksum exists for this copy and its format "
                           "cannot be checked; use the official compressed file")

    def describe(self, folder: Path) -> dict:
        """Count, image shape and label histogram of every split (decodes if needed)."""
        from halibench.data.cache import load_split

        out = {}
        for split in self.splits:
            s = load_split(self, folder.parent, split, folder=folder)
            if s.labels.ndim == 1:
                counts = np.bincount(s.labels, minlength=len(s.label_names))
                hist = {str(s.label_names[i]) if i < len(s.label_names) else str(i): int(c)
                        for i, c in enumerate(counts)}
            else:
                hist = {n: int(c) for n, c in zip(s.label_names, s.labels.sum(0), strict=True)}
            out[split] = {"count": len(s), "shape": list(s.images.shape[1:]), "labels": hist}
        return out

    def fetch(self, folder: Path) -> None:
        """Download the missing source files, or explain how to place them by hand."""
        missing = [s for s in self.sources() if s.locate(folder) is None]
        if missing and self.manual_download:
            names = ", ".join(s.name for s in missing[:3]) + (" …" if len(missing) > 3 else "")
            raise DatasetError(f"{folder}: missing {names}; {self.manual_download}")
        for source in missing:
            download(source, folder)
