"""MNIST and Fashion-MNIST: the four official IDX files, ``.gz`` or uncompressed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from halibench.data.base import Allocator, Dataset
from halibench.data.idx import read_idx
from halibench.data.sources import SourceFile
from halibench.errors import DatasetError

SPLIT_PREFIX = {"train": "train", "test": "t10k"}


class IdxDataset(Dataset):
    """A 28x28 grey-scale dataset in four IDX files."""

    image_shape = (1, 28, 28)
    splits = ("train", "test")

    def __init__(self, name: str, title: str, folder_names: tuple[str, ...],
                 checksums: dict[str, tuple[str, str | None]], mirrors: tuple[str, ...],
                 label_names: tuple[str, ...]) -> None:
        """``checksums``: file name -> (md5 of the official .gz, md5 decompressed or None)."""
        self.name, self.title, self.folder_names = name, title, folder_names
        self.label_names = label_names
        self._sources = {
            fname: SourceFile(fname, md5=md5, raw_md5=raw_md5,
                              urls=tuple(m + fname for m in mirrors))
            for fname, (md5, raw_md5) in checksums.items()
        }

    def sources(self, split: str | None = None) -> tuple[SourceFile, ...]:
        if split is None:
            return tuple(self._sources.values())
        prefix = SPLIT_PREFIX[split]
        return tuple(s for n, s in self._sources.items() if n.startswith(prefix + "-"))

    def check_structure(self, path: Path) -> None:
        """An uncompressed IDX copy: its header and length must agree."""
        read_idx(path, 3 if "-images-" in path.name else 1)

    def decode(self, folder: Path, split: str, allocate: Allocator) -> np.ndarray:
        prefix = SPLIT_PREFIX[split]
        src = {s.name.split("-")[1]: s for s in self.sources(split)}
        images = read_idx(src["images"].require(folder, self.name), 3)
        labels = read_idx(src["labels"].require(folder, self.name), 1)
        if len(images) != len(labels):
            raise DatasetError(f"{folder}/{prefix}-*: {len(images)} images but {len(labels)} "
                               "labels; one of the two files is from another release")
        if labels.max(initial=0) >= len(self.label_names):
            raise DatasetError(f"{src['labels'].locate(folder)}: label {labels.max()} is out "
                               f"of range 0..{len(self.label_names) - 1}")
        allocate(len(images))[:, 0] = images
        return labels.astype(np.int64)


MNIST = IdxDataset(
    "mnist", "MNIST handwritten digits", ("mnist", "MNIST/raw"),
    {
        "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                       "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432",
                                       "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3",
                                      "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c",
                                      "27ae3e4e09519cfbb04c329615203637"),
    },
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    tuple(str(d) for d in range(10)),
)

FASHION_MNIST = IdxDataset(
    "fashion-mnist", "Fashion-MNIST (Zalando)", ("fashion-mnist", "FashionMNIST/raw"),
    {
        "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", None),
        "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", None),
        "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", None),
        "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", None),
    },
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
     "Bag", "Ankle boot"),
)
