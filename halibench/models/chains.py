"""The two Markov chains of a hierarchical model: encoders x -> z1 -> ... -> zL, decoders back.

Design choices (recorded here because the HALI paper leaves them open):

- Every latent z_l is a vector (z1 is not spatial): the x encoder ends on a 1x1 map, as in ALI.
- Encoders q(z_l | z_{l-1}) are diagonal Gaussians, z = mu + sigma * eps with
  sigma = softplus(raw) + 1e-4; a deterministic encoder (BiGAN) outputs mu only.
- Intermediate decoders p(z_{l-1} | z_l), l >= 2, are diagonal Gaussians of the same form;
  the last decoder p(x | z1) is deterministic with a sigmoid, as in ALI.
- Levels above the first are MLPs with two hidden layers (batch norm, leaky ReLU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from halibench.models.config import ModelConfig
from halibench.models.families import FAMILIES
from halibench.models.layers import ConvStack, mlp, scaled

SIGMA_FLOOR = 1e-4


def gaussian(raw: torch.Tensor, stochastic: bool, sample: bool
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a head's output into (z, mu); z is sampled by reparameterisation when asked."""
    if not stochastic:
        return raw, raw
    mu, sigma_raw = raw.chunk(2, dim=1)
    if not sample:
        return mu, mu
    sigma = F.softplus(sigma_raw) + SIGMA_FLOOR
    return mu + sigma * torch.randn_like(mu), mu


class XEncoder(nn.Module):
    """q(z1 | x): the family's conv trunk and a 1x1 linear layer to 2|z1| (or |z1|)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        fam = FAMILIES[config.family]
        c, h, _ = config.image_shape
        self.stochastic = config.stochastic_encoder
        self.trunk = ConvStack(fam.encoder, c, h, slope=fam.slope, width=config.width)
        out_c, out_h, _ = self.trunk.out_shape
        if out_h != 1:
            raise ValueError(f"{config.family} encoder ends on {out_h}x{out_h}, expected 1x1")
        z1 = config.z_dims[0]
        self.head = nn.Conv2d(out_c, 2 * z1 if self.stochastic else z1, 1)

    def forward(self, x: torch.Tensor, sample: bool
                ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        h, hidden = self.trunk(x)
        z, mu = gaussian(self.head(h).flatten(1), self.stochastic, sample)
        return z, mu, hidden


class LevelEncoder(nn.Module):
    """q(z_l | z_{l-1}) for l >= 2."""

    def __init__(self, in_dim: int, out_dim: int, config: ModelConfig) -> None:
        super().__init__()
        self.stochastic = config.stochastic_encoder
        width = scaled(config.hidden_dim, config.width)
        self.net = mlp(in_dim, (width, width), 2 * out_dim if self.stochastic else out_dim,
                       slope=FAMILIES[config.family].slope, batch_norm=True)

    def forward(self, z: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        return gaussian(self.net(z), self.stochastic, sample)


class LevelDecoder(nn.Module):
    """p(z_{l-1} | z_l) for l >= 2: a diagonal Gaussian."""

    def __init__(self, in_dim: int, out_dim: int, config: ModelConfig) -> None:
        super().__init__()
        width = scaled(config.hidden_dim, config.width)
        self.net = mlp(in_dim, (width, width), 2 * out_dim,
                       slope=FAMILIES[config.family].slope, batch_norm=True)

    def forward(self, z: torch.Tensor, sample: bool) -> torch.Tensor:
        return gaussian(self.net(z), True, sample)[0]


class XDecoder(nn.Module):
    """p(x | z1): transposed convolutions from a 1x1 map, then (``conv1x1``) a 1x1 conv or
    (``upsample``) the last transposed convolution itself to the pixels; a sigmoid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        fam = FAMILIES[config.family]
        c, h, _ = config.image_shape
        specs = fam.decoder if config.decoder_head == "conv1x1" else fam.decoder[:-1]
        self.trunk = ConvStack(specs, config.z_dims[0], 1, slope=fam.slope,
                               width=config.width)
        out_c, out_h, _ = self.trunk.out_shape
        if config.decoder_head == "upsample":
            self.head = fam.decoder[-1].build(out_c, c)
            out_h = fam.decoder[-1].out_size(out_h)
        else:
            self.head = nn.Conv2d(out_c, c, 1)
        if out_h != h:
            raise ValueError(f"{config.family} decoder makes {out_h}x{out_h}, expected {h}x{h}")

    def forward(self, z1: torch.Tensor) -> torch.Tensor:
        h, _ = self.trunk(z1[:, :, None, None])
        return torch.sigmoid(self.head(h))


class EncoderChain(nn.Module):
    """x -> z1 -> ... -> zL."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        dims = config.z_dims
        self.x_encoder = XEncoder(config)
        self.levels = nn.ModuleList(
            LevelEncoder(dims[i - 1], dims[i], config) for i in range(1, len(dims)))

    def forward(self, x: torch.Tensor, sample: bool = True, depth: int | None = None
                ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Latents z1..z_depth; sampled ones when ``sample``, else the chain of means."""
        z, _, hidden = self.x_encoder(x, sample)
        latents = [z]
        n_levels = len(self.levels) + 1 if depth is None else depth
        for level in self.levels[: n_levels - 1]:
            z, _ = level(z, sample)
            latents.append(z)
        return latents, hidden


class DecoderChain(nn.Module):
    """zL -> ... -> z1 -> x."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        dims = config.z_dims
        self.x_decoder = XDecoder(config)
        # levels[i] maps z_{i+2} to z_{i+1}
        self.levels = nn.ModuleList(
            LevelDecoder(dims[i], dims[i - 1], config) for i in range(1, len(dims)))

    def forward(self, z: torch.Tensor, level: int, sample: bool = True
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Decode z at ``level`` (1-based) down to x; returns x and latents z1..z_level."""
        latents = [z]
        for lv in range(level, 1, -1):
            z = self.levels[lv - 2](z, sample)
            latents.insert(0, z)
        return self.x_decoder(z), latents
