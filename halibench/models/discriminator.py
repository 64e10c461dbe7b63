"""Discriminators over the tuple (x, z1, ..., zL).

``joint``: one branch per variable (D(x), D(z_l)), concatenated into joint layers, as ALI's
D(x), D(z), D(x, z). ``pairs``: the same branches, but one joint head per adjacent pair
(x, z1), (z1, z2), ...; the losses of all heads are summed. Output: logits (batch, heads).

Semi-supervised (``classes`` K > 0, joint only): the head gives K class logits l_1..l_K and,
with ``fake_logit = "learned"``, the fake class's l_{K+1} (else 0). The adversarial logit is
log sum_k exp(l_k) - l_{K+1}: the log-odds of "one of the K classes" against "fake", so the
unsupervised losses stay as they are (improved-GAN's parameterisation).
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
        drop, noise = config.dropout, config.hidden_noise
        self.x_branch = ConvStack(fam.disc_x, c, h, slope=fam.slope, width=config.width,
                                  batch_norm=not config.spectral_norm,
                                  batch_norm_first=False, dropout=drop, noise=noise)
        x_dim = int(torch.tensor(self.x_branch.out_shape).prod())
        z_widths = tuple(scaled(w, config.width) for w in fam.disc_z)
        self.z_branches = nn.ModuleList(
            mlp(d, z_widths, None, slope=fam.slope, batch_norm=False, dropout=drop,
                noise=noise)
            for d in config.z_dims)
        branch_dims = [x_dim] + [z_widths[-1]] * config.levels
        joint_widths = tuple(scaled(w, config.width) for w in fam.disc_joint)
        if config.discriminator == "joint":
            self.groups = [tuple(range(config.levels + 1))]
        else:
            self.groups = [(i, i + 1) for i in range(config.levels)]
        self.classes = config.classes
        outputs = config.classes + (config.fake_logit == "learned") if config.classes else 1
        self.heads = nn.ModuleList(
            mlp(sum(branch_dims[i] for i in g), joint_widths, outputs, slope=fam.slope,
                batch_norm=False, dropout=drop, noise=noise)
            for g in self.groups)
        if config.spectral_norm:
            apply_spectral_norm(self)

    def head_inputs(self, x: torch.Tensor, latents: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each head's input: its variables' branch features side by side."""
        feats = [self.x_branch(x)[0].flatten(1)]
        feats += [branch(z) for branch, z in zip(self.z_branches, latents, strict=True)]
        return [torch.cat([feats[i] for i in g], dim=1) for g in self.groups]

    def head_outputs(self, x: torch.Tensor, latents: list[torch.Tensor]) -> torch.Tensor:
        """The heads' raw outputs side by side (batch, outputs per head x heads)."""
        inputs = self.head_inputs(x, latents)
        return torch.cat([head(h) for head, h in zip(self.heads, inputs, strict=True)], dim=1)

    def penultimate(self, x: torch.Tensor, latents: list[torch.Tensor]) -> torch.Tensor:
        """Every head's last hidden layer, side by side (feature matching's features)."""
        inputs = self.head_inputs(x, latents)
        return torch.cat([head[:-1](h) for head, h in zip(self.heads, inputs, strict=True)],
                         dim=1)

    def forward(self, x: torch.Tensor, latents: list[torch.Tensor], raw: bool = False
                ) -> torch.Tensor:
        """Adversarial logits (batch, heads): > 0 means "an encoder tuple"; with ``raw``,
        the heads' outputs (one pass can then serve ``adversarial`` and class logits)."""
        out = self.head_outputs(x, latents)
        return out if raw else self.adversarial(out)

    def adversarial(self, out: torch.Tensor) -> torch.Tensor:
        """Adversarial logits from the heads' outputs."""
        if not self.classes:
            return out
        real = torch.logsumexp(out[:, :self.classes], dim=1, keepdim=True)
        return real - out[:, self.classes:] if out.shape[1] > self.classes else real

    def class_logits(self, x: torch.Tensor, latents: list[torch.Tensor]) -> torch.Tensor:
        """The K class logits of a semi-supervised discriminator (batch, K)."""
        if not self.classes:
            raise ValueError("this discriminator has no classes (an unsupervised model)")
        return self.head_outputs(x, latents)[:, :self.classes]
