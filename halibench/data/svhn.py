"""SVHN format 2: ``train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat`` (MATLAB v5).

X has shape 32x32x3xN, y holds 1..10 where 10 means the digit 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from halibench.data.base import Allocator, Dataset
from halibench.data.sources import SourceFile
from halibench.errors import DatasetError

URL = "http://ufldl.stanford.edu/housenumbers/"


class SVHN(Dataset):
    name = "svhn"
    title = "Street View House Numbers, format 2 (cropped digits)"
    image_shape = (3, 32, 32)
    splits = ("train", "test", "extra")
    label_names = tuple(str(d) for d in range(10))
    folder_names = ("svhn", "SVHN")
    # MD5s from the reference notes; extra_32x32.mat's checksum is not recorded there
    # (unverified), so that file is accepted without a checksum.
    _md5 = {"train": "e26dedcc434d2e4c54c9b2d4a06d8373",
            "test": "eb5a983be6a315427106f1b23e3b6baa",
            "extra": None}

    def sources(self, split: str | None = None) -> tuple[SourceFile, ...]:
        splits = self.splits if split is None else (split,)
        return tuple(SourceFile(f"{s}_32x32.mat", md5=self._md5[s], urls=(URL + f"{s}_32x32.mat",))
                     for s in splits)

    def decode(self, folder: Path, split: str, allocate: Allocator) -> np.ndarray:
        path = self.sources(split)[0].require(folder, self.name)
        try:
            mat = scipy.io.loadmat(path, variable_names=["X", "y"])
        except (ValueError, OSError, TypeError, NotImplementedError, IndexError, KeyError,
                EOFError) as e:  # scipy's reader raises any of these on corrupt bytes
            raise DatasetError(f"{path}: not a readable MATLAB v5 file ({e}); download it "
                               "again") from None
        x, y = mat.get("X"), mat.get("y")
        if x is None or y is None or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
            raise DatasetError(f"{path}: expected X of shape 32x32x3xN and y; got "
                               f"{None if x is None else x.shape}; is this format 2?")
        y = y.reshape(-1).astype(np.int64)
        if len(y) != x.shape[3] or y.min(initial=1) < 1 or y.max(initial=1) > 10:
            raise DatasetError(f"{path}: {len(y)} labels for {x.shape[3]} images, or labels "
                               "outside 1..10; the file is corrupt")
        allocate(len(y))[:] = x.transpose(3, 2, 0, 1)
        return np.where(y == 10, 0, y)
