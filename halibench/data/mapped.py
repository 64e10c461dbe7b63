"""Releasing the pages of a memory-mapped array that a pass has finished with.

Reading a split through ``np.memmap`` leaves every touched page resident in the process, so
its resident set grows to the size of the file although the data is only streamed through.
After a batch is copied out (or written and flushed), ``release`` drops its pages from the
process; the data stays in the file and in the kernel's page cache. It is a no-op for
arrays that are not memory-mapped.
"""

from __future__ import annotations

import mmap

import numpy as np


def mapping_of(array: np.ndarray) -> mmap.mmap | None:
    mapped = getattr(array, "_mmap", None)
    return mapped if isinstance(mapped, mmap.mmap) else None


def release(array: np.ndarray) -> None:
    """Drop the whole pages under ``array`` (a memmap or a contiguous slice of one)."""
    mapped = mapping_of(array)
    if mapped is None or array.nbytes == 0 or getattr(array, "mode", None) == "c":
        return  # not mapped, empty, or copy-on-write (dropping pages would lose writes)
    base = np.frombuffer(mapped, dtype=np.uint8).ctypes.data
    start = array.__array_interface__["data"][0] - base
    first = start - start % mmap.PAGESIZE
    mapped.madvise(mmap.MADV_DONTNEED, first, start + array.nbytes - first)
