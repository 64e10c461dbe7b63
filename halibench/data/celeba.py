"""CelebA, aligned and cropped: ``img_align_celeba/*.jpg`` with the official annotation files.

Preprocessing to 64x64 (ours; the ALI paper's exact crop is not recorded in our references):
the central 108x108 box of the 178x218 aligned image, (left, top, right, bottom) =
(35, 55, 143, 163), resized to 64x64 with PIL's bicubic filter (antialiased). Attributes are
mapped from -1/1 to 0/1 and keep their official names and order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from halibench.data.base import Allocator, Dataset
from halibench.data.download import safe_extract
from halibench.data.images import decode_images
from halibench.data.sources import SourceFile
from halibench.errors import DatasetError

ATTR_FILE = SourceFile("list_attr_celeba.txt", md5="75e246fa4810816ffd6ee81facbd244c")
PARTITION_FILE = SourceFile("list_eval_partition.txt", md5="d32c9cbf5e040fd4025c592c306e6668")
IMAGE_DIR = "img_align_celeba"
IMAGE_ZIP = "img_align_celeba.zip"
CROP_BOX = (35, 55, 143, 163)
SIZE = 64
ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young")
N_ATTRIBUTES = len(ATTRIBUTES)
PARTITIONS = {"train": 0, "valid": 1, "test": 2}
HOMEPAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def crop_and_resize(img: Image.Image) -> Image.Image:
    """The 64x64 preprocessing described in the module docstring."""
    return img.crop(CROP_BOX).resize((SIZE, SIZE), Image.Resampling.BICUBIC)


@dataclass
class Annotations:
    ids: list[str]
    attributes: np.ndarray  # (N, 40) uint8 0/1
    names: tuple[str, ...]
    partition: np.ndarray  # (N,) int 0/1/2


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: unreadable ({e}); download it again") from None


def first_duplicate(ids) -> str | None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)
    return None


def parse_attributes(path: Path) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    lines = read_lines(path)
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DatasetError(f"{path}: expected a count line and a header line; not a CelebA "
                           "attribute file")
    count, names = int(lines[0]), tuple(lines[1].split())
    if len(names) != N_ATTRIBUTES:
        raise DatasetError(f"{path}: header names {len(names)} attributes, expected "
                           f"{N_ATTRIBUTES}")
    if names != ATTRIBUTES:
        i = next(i for i, (a, b) in enumerate(zip(names, ATTRIBUTES, strict=True)) if a != b)
        raise DatasetError(f"{path}: header column {i + 1} is {names[i]!r}, the official file "
                           f"has {ATTRIBUTES[i]!r} there; use the official attribute file")
    rows = [line.split() for line in lines[2:] if line.strip()]
    duplicate = first_duplicate(row[0] for row in rows if row)
    if duplicate:
        raise DatasetError(f"{path}: image {duplicate} appears twice; the file is corrupt")
    if len(rows) != count:
        raise DatasetError(f"{path}: {len(rows)} rows but the first line says {count}; the "
                           "file is truncated: download it again")
    for i, row in enumerate(rows):
        if len(row) != N_ATTRIBUTES + 1:
            raise DatasetError(f"{path}: line {i + 3} has {len(row) - 1} attribute columns, "
                               f"expected {N_ATTRIBUTES}; the file is corrupt")
    try:
        values = np.array([row[1:] for row in rows], dtype=np.int8)
    except ValueError:
        raise DatasetError(f"{path}: non-numeric attribute value; the file is corrupt") from None
    if not np.isin(values, (-1, 1)).all():
        raise DatasetError(f"{path}: attribute values other than -1/1; the file is corrupt")
    return [row[0] for row in rows], (values > 0).astype(np.uint8), names


def parse_partition(path: Path, ids: list[str]) -> np.ndarray:
    rows = [line.split() for line in read_lines(path) if line.strip()]
    if any(len(r) != 2 or r[1] not in ("0", "1", "2") for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != 2 or r[1] not in ("0", "1", "2"))
        raise DatasetError(f"{path}: line {bad + 1} is not '<image> <0|1|2>'")
    duplicate = first_duplicate(r[0] for r in rows)
    if duplicate:
        raise DatasetError(f"{path}: image {duplicate} appears twice; use the official "
                           "partition file")
    part = {r[0]: int(r[1]) for r in rows}
    unknown = sorted(set(part) ^ set(ids))
    if unknown:
        raise DatasetError(f"{path}: {len(unknown)} image ids appear in only one of the "
                           f"partition and attribute files (first: {unknown[0]}); use the "
                           "official files of the same release")
    return np.array([part[i] for i in ids], dtype=np.int8)


class CelebA(Dataset):
    name = "celeba"
    title = "CelebA aligned & cropped, 40 attributes, 64x64"
    image_shape = (3, SIZE, SIZE)
    splits = ("train", "valid", "test", "all", "present")
    folder_names = ("celeba", "CelebA")
    cache_version = "crop108-bicubic64"
    manual_download = (f"CelebA's host refuses scripted downloads: from {HOMEPAGE} download "
                       f"'{IMAGE_ZIP}' (Align&Cropped Images), '{ATTR_FILE.name}' (Anno) and "
                       f"'{PARTITION_FILE.name}' (Eval) by hand and put them in this folder; "
                       f"the zip is unpacked into {IMAGE_DIR}/ on `halibench data prepare "
                       "celeba`")

    def __init__(self) -> None:
        self._annotations: dict[Path, Annotations] = {}

    @property
    def label_names(self) -> tuple[str, ...]:  # type: ignore[override]
        cached = next(iter(self._annotations.values()), None)
        return cached.names if cached else ()

    def sources(self, split: str | None = None) -> tuple[SourceFile, ...]:
        return (ATTR_FILE, PARTITION_FILE)

    def annotations(self, folder: Path) -> Annotations:
        if folder not in self._annotations:
            attr_path = ATTR_FILE.require(folder, self.name)
            ids, attrs, names = parse_attributes(attr_path)
            part = parse_partition(PARTITION_FILE.require(folder, self.name), ids)
            self._annotations[folder] = Annotations(ids, attrs, names, part)
        return self._annotations[folder]

    def rows(self, folder: Path, split: str) -> np.ndarray:
        """Row indices (into the annotation files) of ``split``."""
        ann = self.annotations(folder)
        if split == "all":
            return np.arange(len(ann.ids))
        if split == "present":
            return self.present_rows(folder)
        return np.flatnonzero(ann.partition == PARTITIONS[split])

    def present_rows(self, folder: Path) -> np.ndarray:
        """The rows of the images on disk, which must be the first ones in id order with no
        gap: subset protocols split by id, and a gap would shift every later image into
        another split."""
        ann = self.annotations(folder)
        image_dir = folder / IMAGE_DIR
        present = {p.name for p in image_dir.glob("*.jpg")} if image_dir.is_dir() else set()
        rows = np.array([i for i, n in enumerate(ann.ids) if n in present], dtype=np.int64)
        if len(rows) and rows[-1] != len(rows) - 1:
            gap = next(i for i, row in enumerate(rows) if row != i)
            raise DatasetError(f"{image_dir / ann.ids[gap]}: missing while later images "
                               f"(up to {ann.ids[rows[-1]]}) are present; the 'present' split "
                               "is the first images in id order with no gap: restore it")
        return rows

    def image_paths(self, folder: Path, split: str) -> list[Path]:
        ann = self.annotations(folder)
        paths = [folder / IMAGE_DIR / ann.ids[i] for i in self.rows(folder, split)]
        if not paths:
            raise DatasetError(f"{folder / IMAGE_DIR}: no CelebA images found; "
                               f"{self.manual_download}")
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise DatasetError(f"{folder / IMAGE_DIR}: {len(missing)} of the {len(paths)} "
                               f"images of split '{split}' are missing (first: "
                               f"{missing[0].name}); {self.manual_download}")
        return paths

    def fingerprint_files(self, folder: Path, split: str) -> list[Path]:
        return [ATTR_FILE.require(folder, self.name),
                PARTITION_FILE.require(folder, self.name), *self.image_paths(folder, split)]

    def fetch(self, folder: Path) -> None:
        if (folder / IMAGE_ZIP).is_file() and not (folder / IMAGE_DIR).is_dir():
            safe_extract(folder / IMAGE_ZIP, folder)
        super().fetch(folder)

    def decode(self, folder: Path, split: str, allocate: Allocator) -> np.ndarray:
        paths = self.image_paths(folder, split)
        decode_images(paths, allocate(len(paths)), "RGB", crop_and_resize,
                      desc=f"celeba {split}")
        return self.annotations(folder).attributes[self.rows(folder, split)]

    def describe(self, folder: Path) -> dict:
        """Counts and attribute histograms from the annotations; no image is decoded."""
        ann = self.annotations(folder)
        splits = {}
        for split in self.splits:
            rows = self.rows(folder, split)
            counts = ann.attributes[rows].sum(0)
            splits[split] = {"count": len(rows), "shape": list(self.image_shape),
                             "labels": {n: int(c) for n, c in zip(ann.names, counts,
                                                                  strict=True)}}
        return splits
