"""The dataset contract: official source files in, uint8 image arrays and labels out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from halibench.data.sources import SourceFile
from halibench.errors import DatasetError


@dataclass
class Split:
    """Images (N, C, H, W) uint8 and labels: (N,) class ids or (N, K) 0/1 attributes."""

    images: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def take(self, start: int, stop: int) -> Split:
        """Rows ``start:stop``; the caller (a benchmark file) owns the ranges."""
        if not 0 <= start < stop <= len(self):
            raise DatasetError(f"index range {start}:{stop} is outside this split of "
                               f"{len(self)} examples")
        return Split(self.images[start:stop], self.labels[start:stop], self.label_names)


class Dataset(ABC):
    """A dataset read from its official files. Subclasses declare the files and decode them."""

    name: str
    title: str
    image_shape: tuple[int, int, int]
    splits: tuple[str, ...]
    label_names: tuple[str, ...]
    folder_names: tuple[str, ...]
    manual_download: str | None = None

    @abstractmethod
    def sources(self, split: str | None = None) -> tuple[SourceFile, ...]:
        """The official files (of one split, or all)."""

    @abstractmethod
    def decode(self, folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Images (N, C, H, W) uint8 and labels of ``split``, decoded from the source files."""

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
