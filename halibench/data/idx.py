"""The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from halibench.errors import DatasetError

UBYTE = 0x08


def read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: unreadable or truncated ({e}); delete it and download "
                           "it again") from None


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An unsigned-byte IDX array with ``ndim`` dimensions, checked against its header."""
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != UBYTE or data[3] != ndim:
        magic = data[:4].hex() if len(data) >= 4 else data.hex()
        raise DatasetError(f"{path}: wrong IDX magic number 0x{magic}, expected "
                           f"0x000008{ndim:02x}; this is not an IDX file of {ndim} dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated IDX header; download the file again")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise DatasetError(f"{path}: {len(data)} bytes, the header promises {expected} "
                           f"(shape {shape}); the file is truncated or corrupt: download "
                           "it again")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
