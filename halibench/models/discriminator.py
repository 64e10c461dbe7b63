"""Discriminators over the tuple (x, z1, ..., zL).

``joint``: one branch per variable (D(x), D(z_l)), concatenated into joint layers, as ALI's
D(x), D(z), D(x, z). ``pairs``: the same branches, but one joint head per adjacent pair
(x, z1), (z1, z2), ...; the losses of all heads are summed. Output: logits (batch, heads).
"""

from __future__ import annotations

import torch
from torch import nn

from halibench.models.config import ModelConfig
from halibench.models.families import FAMILIES
from halibench.models.layers import ConvStack, mlp, scaled


def apply_spectral_norm(module: nn.Module) -> None:
    """Spectral normalisation (one power iteration per step) on every conv and linear layer."""
    for child in list(module.modules()):
        if isinstance(child, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(child)


class TupleDiscriminator(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        fam = FAMILIES[config.family]
        c, h, _ = config.image_shape
        drop = config.dropout
        self.x_branch = ConvStack(fam.disc_x, c, h, slope=fam.slope, width=config.width,
                                  batch_norm=not config.spectral_norm,
                                  batch_norm_first=False, dropout=drop)
        x_dim = int(torch.tensor(self.x_branch.out_shape).prod())
        z_widths = tuple(scaled(w, config.width) for w in fam.disc_z)
        self.z_branches = nn.ModuleList(
            mlp(d, z_widths, None, slope=fam.slope, batch_norm=False, dropout=drop)
            for d in config.z_dims)
        branch_dims = [x_dim] + [z_widths[-1]] * config.levels
        joint_widths = tuple(scaled(w, config.width) for w in fam.disc_joint)
        if config.discriminator == "joint":
            self.groups = [tuple(range(config.levels + 1))]
        else:
            self.groups = [(i, i + 1) for i in range(config.levels)]
        self.heads = nn.ModuleList(
            mlp(sum(branch_dims[i] for i in g), joint_widths, 1, slope=fam.slope,
                batch_norm=False, dropout=drop)
            for g in self.groups)
        if config.spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, latents: list[torch.Tensor]) -> torch.Tensor:
        feats = [self.x_branch(x)[0].flatten(1)]
        feats += [branch(z) for branch, z in zip(self.z_branches, latents, strict=True)]
        logits = [head(torch.cat([feats[i] for i in g], dim=1))
                  for head, g in zip(self.heads, self.groups, strict=True)]
        return torch.cat(logits, dim=1)
