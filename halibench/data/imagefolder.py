"""Labelled image folders: ``<root>/<split>/<class>/*.png|jpg`` (bring your own data).

Classes are sorted by name unless a class order is given; files are served class by class,
sorted by name within a class, or ordered by file name across classes (``by_file_name``).
Every image must have the same size; grey-scale files give one channel, anything else three.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from halibench.data.base import Allocator, Dataset
from halibench.data.images import decode_images
from halibench.data.sources import SourceFile
from halibench.errors import DatasetError

EXTENSIONS = (".png", ".jpg", ".jpeg")


def list_split(split_dir: Path, classes: tuple[str, ...] | None = None,
               by_file_name: bool = False) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """(files, class ids, class names) of one split folder; class by class, or ordered by
    file name across classes with ``by_file_name`` (for names that encode the index)."""
    if not split_dir.is_dir():
        raise DatasetError(f"{split_dir}: missing split folder; expected "
                           "<root>/<split>/<class>/<image>.png|jpg")
    found = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    names = classes or tuple(found)
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise DatasetError(f"{split_dir}: unknown class folder(s) {unknown}; "
                           f"known classes: {list(names)}")
    files, labels = [], []
    for i, cls in enumerate(names):
        cls_dir = split_dir / cls
        if not cls_dir.is_dir():
            continue
        imgs = sorted(p for p in cls_dir.iterdir() if p.suffix.lower() in EXTENSIONS)
        if not imgs:
            raise DatasetError(f"{cls_dir}: empty class folder; add images or remove it")
        files += imgs
        labels += [i] * len(imgs)
    if not files:
        raise DatasetError(f"{split_dir}: no class folders with images")
    if by_file_name:
        pairs = sorted(zip(files, labels, strict=True), key=lambda fl: fl[0].name)
        files, labels = [f for f, _ in pairs], [y for _, y in pairs]
    return files, labels, names


def image_mode(path: Path) -> tuple[str, int]:
    with Image.open(path) as img:
        return ("L", 1) if img.mode in ("L", "1", "I;16") else ("RGB", 3)


class ImageFolder(Dataset):
    """A labelled image-folder dataset rooted at ``root`` (absolute, or under the data root)."""

    folder_names: tuple[str, ...] = ()

    def __init__(self, root: Path, name: str | None = None,
                 classes: tuple[str, ...] | None = None, by_file_name: bool = False) -> None:
        self.root = Path(root)
        self.by_file_name = by_file_name
        self.name = name or f"folder:{self.root}"
        self.title = f"image folder {self.root}"
        self.classes = classes
        self.splits = tuple(sorted(p.name for p in self.root.iterdir() if p.is_dir())) \
            if self.root.is_dir() else ("train", "test")
        self.label_names = classes or ()

    def folder(self, root: Path) -> Path:
        return self.root

    def list(self, folder: Path, split: str) -> tuple[list[Path], list[int], tuple[str, ...]]:
        return list_split(folder / split, self.classes, self.by_file_name)

    def sources(self, split: str | None = None) -> tuple[SourceFile, ...]:
        return ()

    def missing(self, folder: Path) -> list[str]:
        return [] if folder.is_dir() else [str(folder)]

    def verify(self, folder: Path) -> dict[str, str]:
        return {s: f"NOT VERIFIED: {len(self.list(folder, s)[0])} images, no official "
                   "checksums for an image folder" for s in self.splits}

    def fetch(self, folder: Path) -> None:
        if not folder.is_dir():
            raise DatasetError(f"{folder}: no such folder; an image-folder dataset is "
                               "<root>/<split>/<class>/<image>.png|jpg")

    def fingerprint_files(self, folder: Path, split: str) -> list[Path]:
        return self.list(folder, split)[0]

    def decode(self, folder: Path, split: str, allocate: Allocator) -> np.ndarray:
        files, labels, names = self.list(folder, split)
        self.label_names = names
        mode, channels = image_mode(files[0])
        out = allocate(len(files))
        if out.shape[1] != channels:
            raise DatasetError(f"{files[0]}: {channels}-channel images, the dataset expects "
                               f"{out.shape[1]}")
        decode_images(files, out, mode, desc=f"{self.name} {split}")
        return np.asarray(labels, dtype=np.int64)

    @property
    def image_shape(self) -> tuple[int, int, int]:  # type: ignore[override]
        split = self.splits[0]
        files = self.list(self.root, split)[0]
        _, channels = image_mode(files[0])
        with Image.open(files[0]) as img:
            return channels, img.height, img.width
