"""Known datasets by name, and the operations the CLI exposes on them."""

from __future__ import annotations

from pathlib import Path

from halibench.data.base import Dataset, Split
from halibench.data.cache import load_split
from halibench.data.download import download
from halibench.data.mnist import FASHION_MNIST, MNIST
from halibench.data.root import data_root
from halibench.data.sources import verify_file
from halibench.errors import DatasetError

DATASETS: dict[str, Dataset] = {d.name: d for d in (MNIST, FASHION_MNIST)}


def get_dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {sorted(DATASETS)}")
    return DATASETS[name]


def verify(name: str, root: str | Path | None = None) -> dict[str, str]:
    """md5 of every source file present, each checked against its official checksum."""
    ds = get_dataset(name)
    folder = ds.folder(data_root(root))
    return {s.name: verify_file(s, s.require(folder, ds.name)) for s in ds.sources()}


def fetch_missing(ds: Dataset, folder: Path) -> None:
    """Download missing source files, or explain how to place them by hand."""
    missing = [s for s in ds.sources() if s.locate(folder) is None]
    if missing and ds.manual_download:
        raise DatasetError(f"{folder}: missing {', '.join(s.name for s in missing[:3])}"
                           f"{' …' if len(missing) > 3 else ''}; {ds.manual_download}")
    for source in missing:
        download(source, folder)


def prepare(name: str, root: str | Path | None = None, download_missing: bool = True
            ) -> dict[str, int]:
    """Fetch (if allowed), verify and decode every split into the prepared cache."""
    ds = get_dataset(name)
    folder = ds.folder(data_root(root))
    if download_missing:
        fetch_missing(ds, folder)
    verify(name, root)
    return {split: len(load_split(ds, data_root(root), split)) for split in ds.splits}


def load(name: str, split: str, root: str | Path | None = None) -> Split:
    """A prepared split (decoded on first use)."""
    return load_split(get_dataset(name), data_root(root), split)
