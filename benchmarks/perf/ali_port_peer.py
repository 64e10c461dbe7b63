"""The peer of ``train_throughput.py``: a public PyTorch ALI port's SVHN training step, rebuilt.

The port is github.com/9310gaurav/ali-pytorch (``model.py`` and ``main.py`` at commit
04b78430), the PyTorch ALI whose SVHN step is a plain loop. Its networks follow the ALI
paper's SVHN appendix (``../shared/reference/papers.md``) in the port's layout, rebuilt here
layer by layer: convolutions without bias before batch norm, in-place leaky ReLU 0.01, a
Gaussian encoder (mu, log sigma), a decoder of transposed convolutions ending in a learned
output bias and a sigmoid, and D(x), D(z), D(x, z) with ``nn.Dropout2d(0.2)`` (one draw per
channel) after every activation and a sigmoid output. The step is the port's: both tuples
through D once (two calls), binary cross-entropy, ``loss_d`` back-propagated through
everything, then ``loss_g``; Adam 1e-4 (0.5, 0.999) on each side; annealed instance noise on
D's images (its first-epoch std, 0.1). One change makes it run on current PyTorch: the port
steps D between the two backward passes, which modifies weights that ``loss_g``'s backward
still needs (an error since PyTorch 0.4), so here D's gradient is kept aside and both
optimisers step after both passes. The work per step is the port's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Z_DIM = 256
SLOPE = 0.01
DROP = 0.2


def conv_bn(cin: int, cout: int, k: int, s: int, transposed: bool = False) -> list[nn.Module]:
    conv = (nn.ConvTranspose2d if transposed else nn.Conv2d)(cin, cout, k, s, bias=False)
    return [conv, nn.BatchNorm2d(cout), nn.LeakyReLU(SLOPE, inplace=True)]


def d_layer(cin: int, cout: int, k: int, s: int, *, bn: bool, bias: bool) -> list[nn.Module]:
    """One discriminator layer: convolution, [batch norm], leaky ReLU, channel dropout."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, bias=bias)]
    return layers + ([nn.BatchNorm2d(cout)] if bn else []) + [
        nn.LeakyReLU(SLOPE, inplace=True), nn.Dropout2d(DROP)]


class PortALI(nn.Module):
    """Encoder, decoder and joint discriminator in the port's layout."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            *conv_bn(3, 32, 5, 1), *conv_bn(32, 64, 4, 2), *conv_bn(64, 128, 4, 1),
            *conv_bn(128, 256, 4, 2), *conv_bn(256, 512, 4, 1), *conv_bn(512, 512, 1, 1),
            nn.Conv2d(512, 2 * Z_DIM, 1, 1))
        self.decoder = nn.Sequential(
            *conv_bn(Z_DIM, 256, 4, 1, True), *conv_bn(256, 128, 4, 2, True),
            *conv_bn(128, 64, 4, 1, True), *conv_bn(64, 32, 4, 2, True),
            *conv_bn(32, 32, 5, 1, True), *conv_bn(32, 32, 1, 1, True),
            nn.ConvTranspose2d(32, 3, 1, 1, bias=False))
        self.output_bias = nn.Parameter(torch.zeros(3, 32, 32))
        self.d_x = nn.Sequential(
            *d_layer(3, 32, 5, 1, bn=False, bias=True), *d_layer(32, 64, 4, 2, bn=True, bias=False),
            *d_layer(64, 128, 4, 1, bn=True, bias=False),
            *d_layer(128, 256, 4, 2, bn=True, bias=False),
            *d_layer(256, 512, 4, 1, bn=True, bias=False))
        self.d_z = nn.Sequential(*d_layer(Z_DIM, 512, 1, 1, bn=False, bias=False),
                                 *d_layer(512, 512, 1, 1, bn=False, bias=False))
        self.d_xz = nn.Sequential(*d_layer(1024, 1024, 1, 1, bn=False, bias=True),
                                  *d_layer(1024, 1024, 1, 1, bn=False, bias=True),
                                  nn.Conv2d(1024, 1, 1, 1), nn.Sigmoid())
        self.generator_parameters = [*self.encoder.parameters(), *self.decoder.parameters(),
                                     self.output_bias]
        self.discriminator_parameters = [*self.d_x.parameters(), *self.d_z.parameters(),
                                         *self.d_xz.parameters()]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z) + self.output_bias)

    def discriminate(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.d_xz(torch.cat([self.d_x(x), self.d_z(z)], dim=1)).flatten()


class PortStep:
    """The port's training step on batches of float images in [0, 1]."""

    def __init__(self, noise_std: float = 0.1) -> None:
        self.model = PortALI()
        self.noise_std = noise_std
        self.opt_g = torch.optim.Adam(self.model.generator_parameters, 1e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.model.discriminator_parameters, 1e-4,
                                      betas=(0.5, 0.999))

    def __call__(self, x: torch.Tensor) -> None:
        m, b = self.model, x.shape[0]
        z_prior = torch.randn(b, Z_DIM, 1, 1)
        x_fake = m.decode(z_prior)
        stats = m.encoder(x)
        mu, log_sigma = stats[:, :Z_DIM], stats[:, Z_DIM:]
        z_hat = mu + torch.exp(log_sigma) * torch.randn_like(mu)
        p_real = m.discriminate(x + self.noise_std * torch.randn_like(x), z_hat)
        p_fake = m.discriminate(x_fake + self.noise_std * torch.randn_like(x), z_prior)
        ones, zeros = torch.ones(b), torch.zeros(b)
        loss_d = F.binary_cross_entropy(p_real, ones) + F.binary_cross_entropy(p_fake, zeros)
        loss_g = F.binary_cross_entropy(p_fake, ones) + F.binary_cross_entropy(p_real, zeros)
        self.opt_d.zero_grad()
        loss_d.backward(retain_graph=True)
        d_grads = [p.grad for p in m.discriminator_parameters]
        for p in m.discriminator_parameters:  # loss_g's D gradient is computed and dropped
            p.grad = None
        self.opt_g.zero_grad()
        loss_g.backward()
        for p, g in zip(m.discriminator_parameters, d_grads, strict=True):
            p.grad = g
        self.opt_d.step()
        self.opt_g.step()
