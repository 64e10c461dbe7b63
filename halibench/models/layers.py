"""Layer specifications and the builders that turn them into modules."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize


@dataclass(frozen=True)
class ConvSpec:
    """One convolution: kernel/stride-channels as in the ALI appendix; ``transposed`` for T."""

    kernel: int
    stride: int
    channels: int
    padding: int = 0
    transposed: bool = False

    def build(self, in_channels: int, out_channels: int | None = None) -> nn.Module:
        cls = nn.ConvTranspose2d if self.transposed else nn.Conv2d
        out = self.channels if out_channels is None else out_channels
        return cls(in_channels, out, self.kernel, self.stride, self.padding)

    def out_size(self, size: int) -> int:
        if self.transposed:
            return (size - 1) * self.stride - 2 * self.padding + self.kernel
        return (size + 2 * self.padding - self.kernel) // self.stride + 1


def scaled(channels: int, width: float) -> int:
    """Channel count under a width multiplier (at least 8)."""
    return max(8, int(round(channels * width)))


class Dropout(nn.Module):
    """``nn.Dropout`` with a cheaper mask on CPU. ``bernoulli_`` draws one random number per
    element; here each 64-bit draw gives three 16-bit uniforms, about 3x faster on CPU (a
    quarter of D's step time went to ``bernoulli_``). The drop probability is ``p`` rounded
    to a multiple of 2**-16, and kept elements are scaled by the inverse of the exact keep
    probability, so the expected output is the input. On other devices and in eval mode:
    ``F.dropout``."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.scale = WORD / (WORD - round(p * WORD))  # 1 / the mask's exact keep probability

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return F.dropout(x, self.p, self.training)
        return x * keep_mask(x, self.p) * self.scale

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise to its input in training mode, identity in eval mode
    (improved-GAN's noise layers in its semi-supervised discriminator)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        if std < 0:
            raise ValueError(f"noise std must be >= 0, got {std}")
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x + torch.randn_like(x) * self.std

    def extra_repr(self) -> str:
        return f"std={self.std}"


def regularisers(dropout: float, noise: float) -> list[nn.Module]:
    """What follows a hidden layer's activation: dropout, then Gaussian noise (each if > 0)."""
    return ([Dropout(dropout)] if dropout > 0 else []) + (
        [GaussianNoise(noise)] if noise > 0 else [])


WORD = 2**16
# the three int16 words of an int64 that hold its low 48 bits (its top bit is always 0)
LOW_48_BITS = slice(0, 3) if sys.byteorder == "little" else slice(1, 4)


def keep_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """Boolean mask shaped like ``x``, each element False with probability round(p * 2**16)
    / 2**16, from the 16-bit words of int64 draws (three per draw: their low 48 bits)."""
    n = x.numel()
    bits = torch.empty((n + 2) // 3, dtype=torch.int64, device=x.device).random_()
    # each word, read as int16, is uniform on [-2**15, 2**15): keep the top 1 - p of it
    keep = bits.view(torch.int16) >= round(p * WORD) - WORD // 2
    return keep.view(-1, 4)[:, LOW_48_BITS].flatten()[:n].view(x.shape)


class ConvStack(nn.Module):
    """Conv layers, each followed by optional batch norm, leaky ReLU, dropout and Gaussian
    noise.

    ``forward`` returns the output and the post-activation output of every layer, which the
    ``hidden`` feature level reads.
    """

    def __init__(self, specs: tuple[ConvSpec, ...], in_channels: int, in_size: int, *,
                 slope: float, width: float = 1.0, batch_norm: bool = True,
                 batch_norm_first: bool = True, dropout: float = 0.0, noise: float = 0.0
                 ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        self.shapes: list[tuple[int, int, int]] = []
        channels, size = in_channels, in_size
        for i, spec in enumerate(specs):
            out = scaled(spec.channels, width)
            layers: list[nn.Module] = [spec.build(channels, out)]
            if batch_norm and (i > 0 or batch_norm_first):
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(slope))
            layers += regularisers(dropout, noise)
            self.blocks.append(nn.Sequential(*layers))
            channels, size = out, spec.out_size(size)
            if size <= 0:
                raise ValueError(f"layer {i} ({spec}) shrinks the input to nothing")
            self.shapes.append((channels, size, size))

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return self.shapes[-1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        hidden = []
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        return x, hidden


def mlp(in_dim: int, widths: tuple[int, ...], out_dim: int | None, *, slope: float,
        batch_norm: bool, dropout: float = 0.0, noise: float = 0.0) -> nn.Sequential:
    """Fully connected layers (the ALI appendix's 1x1 convolutions on 1x1 maps)."""
    layers: list[nn.Module] = []
    dim = in_dim
    for w in widths:
        layers.append(nn.Linear(dim, w))
        if batch_norm:
            layers.append(nn.BatchNorm1d(w))
        layers.append(nn.LeakyReLU(slope))
        layers += regularisers(dropout, noise)
        dim = w
    if out_dim is not None:
        layers.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*layers)


def init_weights(module: nn.Module, std: float) -> None:
    """ALI's initialisation: weights N(0, std), biases zero, batch-norm scale one."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = (m.parametrizations.weight.original
                      if parametrize.is_parametrized(m, "weight") else m.weight)
            nn.init.normal_(weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
