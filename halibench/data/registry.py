"""Known datasets by name, and the operations the CLI exposes on them."""

from __future__ import annotations

from pathlib import Path

from halibench.data.base import Dataset, Split
from halibench.data.cache import load_split
from halibench.data.celeba import CelebA
from halibench.data.cifar10 import CIFAR10
from halibench.data.imagefolder import ImageFolder
from halibench.data.mnist import FASHION_MNIST, MNIST
from halibench.data.root import data_root
from halibench.data.svhn import SVHN
from halibench.errors import DatasetError

DATASETS: dict[str, Dataset] = {
    d.name: d for d in (MNIST, FASHION_MNIST, SVHN(), CIFAR10(), CelebA())}
FOLDER_PREFIX = "folder:"


def get_dataset(name: str) -> Dataset:
    """A known dataset, or ``folder:PATH`` for a labelled image folder of your own."""
    if name.startswith(FOLDER_PREFIX):
        path = Path(name[len(FOLDER_PREFIX):]).expanduser()
        if not path.is_dir():
            raise DatasetError(f"{path}: no such folder; an image-folder dataset is "
                               "<root>/<split>/<class>/<image>.png|jpg")
        return ImageFolder(path, name)
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {sorted(DATASETS)} "
                           f"or {FOLDER_PREFIX}PATH")
    return DATASETS[name]


def verify(name: str, root: str | Path | None = None) -> dict[str, str]:
    """md5 of every source file present, each checked against its official checksum."""
    ds = get_dataset(name)
    return ds.verify(ds.folder(data_root(root)))


def prepare(name: str, root: str | Path | None = None, download_missing: bool = True
            ) -> dict[str, int]:
    """Fetch (if allowed), verify and decode every split into the prepared cache."""
    ds = get_dataset(name)
    folder = ds.folder(data_root(root))
    if download_missing:
        ds.fetch(folder)
    ds.verify(folder)
    return {split: len(load_split(ds, data_root(root), split)) for split in ds.splits}


def load(name: str, split: str, root: str | Path | None = None) -> Split:
    """A prepared split (decoded on first use)."""
    return load_split(get_dataset(name), data_root(root), split)
