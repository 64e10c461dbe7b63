"""Datasets read from their official files, verified, and served as prepared uint8 arrays."""

from halibench.data.base import Dataset, Split
from halibench.data.registry import DATASETS, get_dataset, load, prepare, verify
from halibench.data.root import data_root

__all__ = ["DATASETS", "Dataset", "Split", "data_root", "get_dataset", "load", "prepare",
           "verify"]
