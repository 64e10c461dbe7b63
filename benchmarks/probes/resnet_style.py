"""A typical user encoder for probe studies: a small ResNet-style network (residual blocks
with batch norm, global average pooling), seeded and untrained, in eval mode. Its features
are of small scale (about 1e-2), the case where a logistic probe's C grid ran out at the top.

    halibench run mnist-semisup --model benchmarks.probes.resnet_style:encoder --probe linear
"""

from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    """conv-bn-relu-conv-bn plus a (strided 1x1) shortcut, then relu."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = (nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNetStyle(nn.Module):
    """Stem, three stages of one block each (32, 64, 128 channels), global average pool."""

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            Block(32, 32, 1), Block(32, 64, 2), Block(64, 128, 2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_encoder(seed: int = 0, in_channels: int = 1) -> ResNetStyle:
    torch.manual_seed(seed)
    return ResNetStyle(in_channels).eval()


encoder = make_encoder()
