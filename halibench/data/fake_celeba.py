"""A format-faithful fake CelebA: the official annotation layout (CRLF, -1/1 attributes,
partition file) and 178x218 JPEGs, with any partition sizes. For tests and for the
full-size streaming benchmark; the pixels and attributes are random."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from halibench.data.celeba import ATTRIBUTES, IMAGE_DIR
from halibench.io import atomic_path

OFFICIAL_COUNTS = (162770, 19867, 19962)


def jpeg_bytes(rng: np.random.Generator, smooth: bool) -> bytes:
    """One 178x218 JPEG: noise, or a smooth random field (a few kB, like a face crop)."""
    if smooth:
        small = rng.integers(0, 256, size=(14, 12, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((178, 218), Image.Resampling.BICUBIC)
    else:
        img = Image.fromarray(rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_fake_celeba(folder: Path, counts: Sequence[int],
                      attr_names: Sequence[str] = ATTRIBUTES, images: int | None = None,
                      distinct_images: int | None = None, seed: int = 4) -> np.ndarray:
    """Annotation files for ``sum(counts)`` ids (partition 0, 1, 2 in id order, as the
    official split) and JPEGs for the first ``images`` ids (all by default). With
    ``distinct_images``, that many smooth JPEGs are encoded once and written round-robin
    (fast at full size); otherwise every image is fresh noise. Returns the 0/1 attributes."""
    rng = np.random.default_rng(seed)
    n = int(sum(counts))
    attrs = rng.choice([-1, 1], size=(n, len(attr_names)))
    ids = [f"{i + 1:06d}.jpg" for i in range(n)]
    lines = [str(n), " ".join(attr_names) + " "]
    lines += [f"{i} " + " ".join(f"{v:2d}" for v in row)
              for i, row in zip(ids, attrs, strict=True)]
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "list_attr_celeba.txt") as tmp:
        tmp.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    parts = np.repeat(np.arange(3), counts)
    with atomic_path(folder / "list_eval_partition.txt") as tmp:
        tmp.write_bytes("".join(f"{i} {p}\r\n" for i, p in zip(ids, parts, strict=True))
                        .encode())
    img_dir = folder / IMAGE_DIR
    img_dir.mkdir(exist_ok=True)
    pool = [jpeg_bytes(rng, smooth=True) for _ in range(distinct_images or 0)]
    for k, name in enumerate(ids[: n if images is None else images]):
        (img_dir / name).write_bytes(pool[k % len(pool)] if pool else jpeg_bytes(rng, False))
    return (attrs > 0).astype(np.uint8)
