"""CIFAR-10 from the official binary version (no unpickling) or an image-folder copy.

Binary layout: ``cifar10/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin``; each
record is one label byte and 3072 pixel bytes (R, G, B planes of 32x32). Folder layout:
``cifar10/{train,test}/<class>/NNNNN.png`` (NNNNN = index in the official order), as in
../shared/data. When both are present, the binary version wins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from halibench.data.base import Allocator, Dataset
from halibench.data.download import download, safe_extract
from halibench.data.imagefolder import ImageFolder
from halibench.data.sources import SourceFile
from halibench.errors import DatasetError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
RECORD = 1 + 3 * 32 * 32
PER_BATCH = 10000
BATCH_DIR = "cifar-10-batches-bin"
# The archive's MD5 is not in the reference notes (unverified); the download is accepted
# on the strength of its record structure, which decode checks byte for byte.
ARCHIVE = SourceFile("cifar-10-binary.tar.gz",
                     urls=("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",))
BATCHES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size != RECORD * PER_BATCH:
        raise DatasetError(f"{path}: {raw.size} bytes, a CIFAR-10 batch has "
                           f"{RECORD * PER_BATCH}; the file is truncated: extract it again")
    records = raw.reshape(PER_BATCH, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DatasetError(f"{path}: label {labels.max()} out of range 0..9; the file is corrupt")
    return records[:, 1:].reshape(PER_BATCH, 3, 32, 32), labels


class CIFAR10(Dataset):
    name = "cifar10"
    title = "CIFAR-10"
    image_shape = (3, 32, 32)
    splits = ("train", "test")
    label_names = CLASSES
    folder_names = ("cifar10", "cifar-10")

    def sources(self, split: str | None = None) -> tuple[SourceFile, ...]:
        splits = self.splits if split is None else (split,)
        return tuple(SourceFile(f"{BATCH_DIR}/{b}") for s in splits for b in BATCHES[s])

    def _folders(self, folder: Path) -> ImageFolder | None:
        if (folder / "train").is_dir() and not (folder / BATCH_DIR).is_dir():
            return ImageFolder(folder, self.name, classes=CLASSES, by_file_name=True)
        return None

    def missing(self, folder: Path) -> list[str]:
        return [] if self._folders(folder) else super().missing(folder)

    def verify(self, folder: Path) -> dict[str, str]:
        alt = self._folders(folder)
        return alt.verify(folder) if alt else super().verify(folder)

    def fetch(self, folder: Path) -> None:
        if not self.missing(folder):
            return
        archive = download(ARCHIVE, folder)
        safe_extract(archive, folder)
        archive.unlink()

    def fingerprint_files(self, folder: Path, split: str) -> list[Path]:
        alt = self._folders(folder)
        return alt.fingerprint_files(folder, split) if alt else \
            super().fingerprint_files(folder, split)

    def decode(self, folder: Path, split: str, allocate: Allocator) -> np.ndarray:
        alt = self._folders(folder)
        if alt:
            return alt.decode(folder, split, allocate)
        paths = [s.require(folder, self.name) for s in self.sources(split)]
        out = allocate(PER_BATCH * len(paths))
        labels = []
        for i, path in enumerate(paths):
            images, y = read_batch(path)
            out[i * PER_BATCH:(i + 1) * PER_BATCH] = images
            labels.append(y)
        return np.concatenate(labels)
