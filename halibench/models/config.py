"""Model configuration: one dataclass describes ALI, BiGAN and HALI alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from halibench.jsonable import JsonConfig, option

Kind = Literal["hali", "ali", "bigan"]
KINDS: tuple[str, ...] = get_args(Kind)
Family = Literal["28px", "28px-dcgan", "32px", "64px", "64px-dcgan"]
Prior = Literal["gaussian", "uniform"]
DiscriminatorMode = Literal["joint", "pairs"]

FAMILY_SHAPES: dict[str, tuple[int, int, int]] = {
    "28px": (1, 28, 28),
    "28px-dcgan": (1, 28, 28),
    "32px": (3, 32, 32),
    "64px": (3, 64, 64),
    "64px-dcgan": (3, 64, 64),
}
# The standard family of each image size (``halibench train --family`` picks another). For
# 28 px it is the DCGAN-shaped family, chosen by the MNIST recipe study; ``28px`` remains
# for the checkpoints trained with it.
FAMILY_BY_SIZE = {28: "28px-dcgan", 32: "32px", 64: "64px"}
# |z| of the first level per family: the ALI appendix for 32 px and 64 px, our choice for 28 px.
DEFAULT_Z1 = {"28px": 64, "28px-dcgan": 64, "32px": 256, "64px": 256, "64px-dcgan": 256}
# How p(x|z1) writes pixels unless asked otherwise: the DCGAN families' last block writes them.
DEFAULT_DECODER_HEAD = {"28px-dcgan": "upsample", "64px-dcgan": "upsample"}


@dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Architecture of a hierarchical adversarially learned inference model.

    ``kind`` is a label; what matters is the structure it implies:
    ALI = one Gaussian level, BiGAN = one deterministic level, HALI = ``len(z_dims)`` levels.
    ``init_std``: None keeps PyTorch's default initialisation; ALI's appendix used N(0, 0.01),
    which on our CPU budget leaves the generators stuck while the discriminator wins (see
    the README). ``spectral_norm`` is a stabiliser: spectral normalisation on every
    discriminator layer (which then has no batch norm). ``decoder_head``: ``conv1x1`` ends
    p(x|z1) with the family's last block and a 1x1 convolution (the ALI appendix's layout);
    ``upsample`` replaces both by one transposed convolution of the last block's shape
    that writes the pixels (DCGAN's layout). ``classes`` K > 0 makes the discriminator a
    (K+1)-class classifier of the tuple for semi-supervised training (``fake_logit``).
    """

    kind: Kind = "hali"
    family: Family = "28px"
    z_dims: tuple[int, ...] = (64, 32)
    stochastic_encoder: bool = True
    prior: Prior = option("gaussian", "p(zL); BiGAN's paper used uniform on [-1, 1].",
                          choices=("gaussian", "uniform"))
    discriminator: DiscriminatorMode = option(
        "joint", "One D over (x, z1..zL), or one per adjacent pair.", choices=("joint", "pairs"))
    dropout: float = option(0.2, "Dropout in the discriminator.", minimum=0, maximum=0.95)
    hidden_noise: float = option(
        0.0, "Std of Gaussian noise added to every hidden layer of the discriminator in "
        "training (improved-GAN's noise layers; 0: none; the noise layers take places in "
        "D's layer numbering, so such weights load with their own config).", minimum=0)
    width: float = option(1.0, "Channel-width multiplier of every network.", minimum=0.05)
    hidden_dim: int = option(512, "Width of the MLPs between levels.", minimum=8)
    init_std: float | None = option(
        None, "Initialise weights N(0, STD) as ALI did (0.01); default: PyTorch's init.",
        minimum=0, open_minimum=True)
    spectral_norm: bool = option(
        False, "Stabiliser: spectral normalisation on the discriminator (no batch norm).")
    decoder_head: str = "conv1x1"
    classes: int = 0
    fake_logit: str = option(
        "zero", "Semi-supervised D: the fake class's logit is fixed at 0 (K outputs, "
        "improved-GAN's form) or learned (K+1 outputs).", choices=("zero", "learned"))
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_options()
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; valid: {list(KINDS)}")
        if self.family not in FAMILY_SHAPES:
            raise ValueError(f"unknown family {self.family!r}; valid: {sorted(FAMILY_SHAPES)}")
        if not self.z_dims or any(d <= 0 for d in self.z_dims):
            raise ValueError(f"z_dims must be positive sizes, got {self.z_dims}")
        if self.decoder_head not in ("conv1x1", "upsample"):
            raise ValueError(f"decoder_head must be 'conv1x1' or 'upsample', got "
                             f"{self.decoder_head!r}")
        if self.classes < 0 or (self.classes == 1):
            raise ValueError(f"classes must be 0 (unsupervised) or at least 2, got "
                             f"{self.classes}")
        if self.classes and self.discriminator != "joint":
            raise ValueError("a semi-supervised model needs the joint discriminator (one head "
                             "over x, z1..zL that classifies the tuple)")
        object.__setattr__(self, "z_dims", tuple(int(d) for d in self.z_dims))

    @property
    def levels(self) -> int:
        return len(self.z_dims)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return FAMILY_SHAPES[self.family]


def preset(kind: Kind, family: Family = "28px", levels: int | None = None, **overrides: Any
           ) -> ModelConfig:
    """The standard configuration of ``kind`` for an architecture family.

    HALI halves |z| at each level above the first (default two levels); ALI and BiGAN
    are single-level. BiGAN has a deterministic encoder (uniform prior via ``prior=``).
    """
    z1 = DEFAULT_Z1[family]
    overrides.setdefault("decoder_head", DEFAULT_DECODER_HEAD.get(family, "conv1x1"))
    if kind == "hali":
        n = 2 if levels is None else levels
        z_dims = tuple(max(8, z1 // (2**i)) for i in range(n))
        base = dict(kind=kind, family=family, z_dims=z_dims, stochastic_encoder=True)
    elif kind in ("ali", "bigan"):
        if levels not in (None, 1):
            raise ValueError(f"{kind} has exactly one level; use 'hali' for {levels} levels")
        base = dict(kind=kind, family=family, z_dims=(z1,), stochastic_encoder=kind == "ali")
    else:
        raise ValueError(f"unknown model kind {kind!r}; valid: {list(KINDS)}")
    base.update(overrides)
    return ModelConfig(**base)
