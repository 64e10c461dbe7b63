"""Feature sources: a model's level, or a baseline (raw pixels, PCA, HOG, untrained encoder).

Each source turns uint8 images (N, C, H, W) into float32 features and has an ``identity``
that keys the feature cache. A source may offer column ``variants`` (PCA: the first k
components), chosen on validation like any other hyper-parameter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from halibench.data.mapped import release
from halibench.features.contract import check_size, conformed
from halibench.features.extract import Allocate, empty_features, extract_features
from halibench.features.levels import checked_levels
from halibench.models import HierarchicalALI, build_model, preset
from halibench.models.config import FAMILY_BY_SIZE
from halibench.progress import progress

BASELINES = ("raw-pixels", "pca", "hog", "untrained-hali", "untrained-ali", "untrained-bigan")
PCA_COMPONENTS = (10, 20, 50, 100, 200)


@dataclass
class FeatureSource:
    """Base: a named feature map with a stable identity."""

    model: str
    level: str
    checkpoint_sha256: str | None = None
    representation: str = "mean"
    variants: list[tuple[str, slice]] = field(default_factory=lambda: [("all", slice(None))])

    def identity(self) -> dict[str, Any]:
        return {"model": self.model, "level": self.level, "sha256": self.checkpoint_sha256,
                "representation": self.representation}

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()

    needs_fit = False
    keyed_by_weights = False  # a network's or user's encoder: its identity is its sha256
    chunk_rows: int = 1024

    @property
    def cacheable(self) -> bool:
        """Whether features may be cached: not for an encoder without a stable identity (an
        unversioned callable, a module with hooks), which has no sha256 to key them by."""
        return self.checkpoint_sha256 is not None or not self.keyed_by_weights

    @property
    def trained_labels(self) -> dict[str, Any] | None:
        """The labelled draw a semi-supervised model trained with (None: no labels)."""
        return None

    def for_level(self, level: str) -> FeatureSource:
        """The same source read at another level (a model's sibling level)."""
        return replace(self, level=level)

    def transform_into(self, images: np.ndarray, allocate: Allocate = empty_features,
                       desc: str | None = None) -> dict[str, np.ndarray]:
        """Features of every level this source computes in one pass, written chunk by chunk
        into arrays from ``allocate(level, shape)``: only a chunk of images is in memory."""
        out: np.ndarray | None = None
        with progress(len(images), desc, "img", show=desc is not None, leave=False) as bar:
            for start in range(0, len(images), self.chunk_rows):
                chunk = images[start:start + self.chunk_rows]
                stop = start + len(chunk)
                feats = conformed(self.transform(np.array(chunk)), self.model, self.level,
                                  start, stop)
                release(chunk)
                if out is None:
                    check_size(self.model, self.level, feats.shape[1], len(images))
                    out = allocate(self.level, (len(images), feats.shape[1]))
                out[start:start + len(feats)] = feats
                bar.update(len(feats))
        return {self.level: out if out is not None else allocate(self.level, (0, 0))}

    def fit(self, pool_images: np.ndarray) -> None:
        """Learn from unlabelled pool images (PCA); most sources learn nothing."""

    def transform(self, images: np.ndarray) -> np.ndarray:
        """Features of a chunk of uint8 images: what a source that does not override
        ``transform_into`` must define."""
        raise NotImplementedError(f"{type(self).__name__} defines neither transform nor "
                                  "transform_into")


@dataclass
class ModelSource(FeatureSource):
    """One level of a network; ``sibling_levels`` are extracted together in one pass."""

    network: HierarchicalALI | None = None
    batch_size: int = 500
    sibling_levels: tuple[str, ...] = ()
    keyed_by_weights = True

    @property
    def trained_labels(self) -> dict[str, Any] | None:
        return None if self.network is None else self.network.trained_labels

    def transform_into(self, images: np.ndarray, allocate: Allocate = empty_features,
                       desc: str | None = None) -> dict[str, np.ndarray]:
        levels = list(dict.fromkeys([self.level, *self.sibling_levels]))
        return extract_features(self.network, images, levels,
                                sample=self.representation == "sampled",
                                batch_size=self.batch_size, allocate=allocate, desc=desc,
                                name=self.model)

    def transform(self, images: np.ndarray) -> np.ndarray:
        return self.transform_into(images)[self.level]


@dataclass
class RawPixels(FeatureSource):
    def transform(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(images, dtype=np.float32).reshape(len(images), -1) / 255.0


@dataclass
class PCASource(FeatureSource):
    """PCA fitted on the unlabelled pool; variants keep the first k components."""

    needs_fit = True

    max_components: int = max(PCA_COMPONENTS)
    fit_rows: int = 20000
    seed: int = 0
    pool_key: str = ""  # the pool it is fitted on (set by the runner): part of the identity
    components_: np.ndarray | None = None
    mean_: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.variants = [(f"k={c}", slice(0, c)) for c in PCA_COMPONENTS]

    def identity(self) -> dict[str, Any]:
        """Includes the fitted axes' sha256: features projected on other axes (another
        process's fit) can never be mixed with these in the cache."""
        assert self.components_ is not None and self.mean_ is not None, "fit first"
        fitted = hashlib.sha256(self.components_.tobytes() + self.mean_.tobytes()).hexdigest()
        return {**super().identity(), "max_components": self.max_components,
                "fit_rows": self.fit_rows, "seed": self.seed, "pool": self.pool_key,
                "fitted_sha256": fitted}

    def fit(self, pool_images: np.ndarray) -> None:
        """Principal axes of a seeded sample of the pool (randomized SVD under a seeded
        generator), each signed so that its largest loading is positive: the same axes in
        every process on one machine, and the identity's hash keeps any other fit apart."""
        rng = np.random.default_rng(self.seed)
        rows = np.sort(rng.choice(len(pool_images), min(self.fit_rows, len(pool_images)),
                                  replace=False))
        x = torch.from_numpy(RawPixels("", "").transform(pool_images[rows])).double()
        mean = x.mean(0)
        k = min(self.max_components, len(x) - 1, x.shape[1])  # centred rank: at most n - 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            _, _, v = torch.pca_lowrank(x - mean, q=min(k + 10, *x.shape), center=False,
                                        niter=4)
        axes = v[:, :k].T
        signs = torch.sign(axes.gather(1, axes.abs().argmax(1, keepdim=True)))
        self.mean_ = mean.float().numpy()
        self.components_ = (axes * signs).float().numpy()

    def transform(self, images: np.ndarray) -> np.ndarray:
        x = RawPixels("", "").transform(images) - self.mean_
        return (x @ self.components_.T).astype(np.float32)


@dataclass
class HOGSource(FeatureSource):
    """Histograms of oriented gradients (scikit-image): 9 orientations, 2x2-cell blocks,
    cells of 7 px (28 px images) or 8 px (larger)."""

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "orientations": 9, "block": 2}

    def transform(self, images: np.ndarray) -> np.ndarray:
        from skimage.feature import hog

        cell = 7 if images.shape[-1] == 28 else 8
        channel_axis = None if images.shape[1] == 1 else -1
        out = []
        for img in images:
            arr = img[0] if channel_axis is None else np.transpose(img, (1, 2, 0))
            out.append(hog(arr, orientations=9, pixels_per_cell=(cell, cell),
                           cells_per_block=(2, 2), channel_axis=channel_axis))
        return np.asarray(out, dtype=np.float32)


def untrained_sources(kind: str, levels: tuple[str, ...], image_size: int, seed: int = 0
                      ) -> list[ModelSource]:
    """One encoder of the standard architecture of the image size with its initial weights
    (seeded, without touching the caller's random state), read at each of ``levels`` (all
    extracted in one pass); its identity names the family and the seed."""
    family = FAMILY_BY_SIZE[image_size]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = build_model(preset(kind, family)).eval()
    levels = tuple(checked_levels(levels, network.feature_levels, f"untrained-{kind}"))
    first = ModelSource(f"untrained-{kind}", levels[0],
                        checkpoint_sha256=f"init-{family}-seed{seed}", network=network,
                        sibling_levels=levels)
    return [first.for_level(lv) for lv in levels]


BASELINE_LEVEL = {"raw-pixels": "pixels", "pca": "pixels", "hog": "hog"}


def baseline_sources(name: str, levels: tuple[str, ...] | None, image_size: int
                     ) -> list[FeatureSource]:
    """A baseline's feature sources at ``levels`` (default: its only level, or z1 of an
    untrained encoder); a level the baseline does not have raises."""
    fixed = BASELINE_LEVEL.get(name)
    if fixed:
        checked_levels(levels, [fixed], name)
    levels = levels or ("z1",)
    if name == "raw-pixels":
        return [RawPixels(name, BASELINE_LEVEL[name])]
    if name == "pca":
        return [PCASource(name, BASELINE_LEVEL[name])]
    if name == "hog":
        return [HOGSource(name, BASELINE_LEVEL[name])]
    if name.startswith("untrained-"):
        return untrained_sources(name.removeprefix("untrained-"), levels, image_size)
    raise ValueError(f"unknown baseline {name!r}; valid: {list(BASELINES)}")
