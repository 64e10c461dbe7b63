"""Architecture families: 28x28x1, 32x32x3 (ALI SVHN appendix), 64x64x3 (ALI CelebA appendix).

Notation follows the ALI appendix: ``C(k, s, c)`` is a k x k convolution of stride s with c
maps, ``T`` the transposed version. The 28 px families are ours (the ALI paper has none):
``28px`` is the first, sized to train on a CPU, whose decoder loses MNIST's image game to its
own discriminator (``benchmarks/recipes/image_game.py``); ``28px-dcgan`` follows the DCGAN
MNIST pair (generator 128x7x7 -> 64x14x14 -> pixels; discriminator image branch 64 -> 128
strided convolutions, read by the joint layers at 7x7), the pair that plays that game.
``64px-dcgan`` is the same idea at 64 px: DCGAN's 64 px pair (generator 512x4x4 -> 256x8x8 ->
128x16x16 -> 64x32x32 -> pixels by the last transposed convolution; discriminator image
branch 64 -> 128 -> 256 -> 512 strided 4x4 convolutions, read by the joint layers at 4x4) and
an encoder of the branch's four convolutions and a 4x4 one down to 1x1, instead of the
appendix's 64 px networks, whose decoder ends in a thin block and a 1x1 convolution. With
``--decoder-head conv1x1`` either DCGAN family's last block is that thin layout again (its
nominal 1 or 3 maps scaled up to 8).
"""

from __future__ import annotations

from dataclasses import dataclass

from halibench.models.layers import ConvSpec


def C(k: int, s: int, c: int, p: int = 0) -> ConvSpec:  # noqa: N802 - appendix notation
    return ConvSpec(k, s, c, p)


def T(k: int, s: int, c: int, p: int = 0) -> ConvSpec:  # noqa: N802 - appendix notation
    return ConvSpec(k, s, c, p, transposed=True)


@dataclass(frozen=True)
class FamilySpec:
    """Layer lists of one family. The encoder ends in a 1x1 linear layer to 2|z| (or |z|)."""

    encoder: tuple[ConvSpec, ...]
    decoder: tuple[ConvSpec, ...]
    disc_x: tuple[ConvSpec, ...]
    disc_z: tuple[int, ...]
    disc_joint: tuple[int, ...]
    slope: float


FAMILIES: dict[str, FamilySpec] = {
    "28px": FamilySpec(
        encoder=(C(4, 2, 32, 1), C(4, 2, 64, 1), C(7, 1, 256), C(1, 1, 256)),
        decoder=(T(1, 1, 256), T(7, 1, 64), T(4, 2, 32, 1), T(4, 2, 16, 1)),
        disc_x=(C(4, 2, 32, 1), C(4, 2, 64, 1), C(7, 1, 256)),
        disc_z=(256, 256),
        disc_joint=(512, 512),
        slope=0.2,
    ),
    "28px-dcgan": FamilySpec(
        encoder=(C(4, 2, 64, 1), C(4, 2, 128, 1), C(7, 1, 512)),
        decoder=(T(7, 1, 128), T(4, 2, 64, 1), T(4, 2, 1, 1)),
        disc_x=(C(4, 2, 64, 1), C(4, 2, 128, 1)),
        disc_z=(256, 256),
        disc_joint=(512, 512),
        slope=0.2,
    ),
    "32px": FamilySpec(
        encoder=(C(5, 1, 32), C(4, 2, 64), C(4, 1, 128), C(4, 2, 256), C(4, 1, 512),
                 C(1, 1, 512)),
        decoder=(T(4, 1, 256), T(4, 2, 128), T(4, 1, 64), T(4, 2, 32), T(5, 1, 32),
                 C(1, 1, 32)),
        disc_x=(C(5, 1, 32), C(4, 2, 64), C(4, 1, 128), C(4, 2, 256), C(4, 1, 512)),
        disc_z=(512, 512),
        disc_joint=(1024, 1024),
        slope=0.01,
    ),
    "64px": FamilySpec(
        encoder=(C(2, 1, 64), C(7, 2, 128), C(5, 2, 256), C(7, 2, 256), C(4, 1, 512),
                 C(1, 1, 512)),
        decoder=(T(4, 1, 512), T(7, 2, 256), T(5, 2, 256), T(7, 2, 128), T(2, 1, 64)),
        disc_x=(C(2, 1, 64), C(7, 2, 128), C(5, 2, 256), C(7, 2, 256), C(4, 1, 512)),
        disc_z=(1024, 1024),
        disc_joint=(2048, 2048),
        slope=0.02,
    ),
    "64px-dcgan": FamilySpec(
        encoder=(C(4, 2, 64, 1), C(4, 2, 128, 1), C(4, 2, 256, 1), C(4, 2, 512, 1),
                 C(4, 1, 512)),
        decoder=(T(4, 1, 512), T(4, 2, 256, 1), T(4, 2, 128, 1), T(4, 2, 64, 1),
                 T(4, 2, 3, 1)),
        disc_x=(C(4, 2, 64, 1), C(4, 2, 128, 1), C(4, 2, 256, 1), C(4, 2, 512, 1)),
        disc_z=(512, 512),
        disc_joint=(1024, 1024),
        slope=0.2,
    ),
}
