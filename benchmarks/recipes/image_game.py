"""Which network loses MNIST's image game? Generators against image discriminators, crossed.

The joint x-z game of ALI contains a plain image GAN: the decoder's samples against the
discriminator's image branch. This script plays that image game alone (z inputs left out)
for every pairing of
- generators: the package's 28 px decoder; the same with its last block and 1x1 head
  replaced by one upsampling transposed convolution to the pixels; a textbook DCGAN
  generator (64 -> 128x7x7 -> 64x14x14 -> 1x28x28);
- discriminators: the package's image branch plus a linear head, and a textbook DCGAN
  discriminator (64 -> 128 convolutions -> linear);
with plain Adam (2e-4, betas 0.5/0.999), batch 100, the non-saturating loss, and reports the
generator loss and the mean distance from 500 samples to their nearest of 5,000 real
training digits (real to real: about 4.5) at each checkpoint step.

    HALIBENCH_DATA=../shared/data python benchmarks/recipes/image_game.py --steps 400 \\
        --json results/recipes/image-game.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from halibench.data import load
from halibench.models import build_model, preset
from halibench.models.chains import XDecoder


def textbook_generator(z_dim: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(z_dim, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Sigmoid())


def textbook_discriminator() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1))


class PackageGenerator(nn.Module):
    """The 28 px XDecoder (its ``decoder_head`` layout), fed z directly."""

    def __init__(self, z_dim: int, head: str = "conv1x1") -> None:
        super().__init__()
        self.net = XDecoder(preset("ali", "28px", z_dims=(z_dim,), decoder_head=head))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class PackageDiscriminator(nn.Module):
    """The 28 px discriminator's image branch (batch norm, dropout 0.2) and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.branch = build_model(preset("ali", "28px")).discriminator.x_branch
        self.head = nn.Linear(int(np.prod(self.branch.out_shape)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.branch(x)[0].flatten(1))


GENERATORS = {"package": PackageGenerator,
              "package-upsampling-head": lambda z: PackageGenerator(z, "upsample"),
              "textbook": textbook_generator}
DISCRIMINATORS = {"package": PackageDiscriminator, "textbook": textbook_discriminator}


def nearest_real_distance(samples: torch.Tensor, real: torch.Tensor) -> float:
    d = torch.cdist(samples.flatten(1), real.flatten(1))
    return float(d.min(1).values.mean())


def play(gen_name: str, disc_name: str, images: torch.Tensor, steps: int, every: int,
         z_dim: int = 64, batch: int = 100, seed: int = 0) -> list[dict]:
    torch.manual_seed(seed)
    g, d = GENERATORS[gen_name](z_dim), DISCRIMINATORS[disc_name]()
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    real_ref = images[-5000:]
    fixed_z = torch.randn(500, z_dim)
    rows, t0 = [], time.perf_counter()
    for step in range(1, steps + 1):
        x = images[torch.randint(0, len(images) - 5000, (batch,))]
        fake = g(torch.randn(batch, z_dim))
        logits = d(torch.cat([x, fake.detach()]))
        loss_d = F.softplus(-logits[:batch]).mean() + F.softplus(logits[batch:]).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        # the generator sees the discriminator on the same mixed batch as its update (batch
        # norm statistics included), as the package's training step does
        loss_g = F.softplus(-d(torch.cat([x, fake]))[batch:]).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if step % every == 0:
            g.eval()
            with torch.no_grad():
                dist = nearest_real_distance(g(fixed_z), real_ref)
            g.train()
            rows.append({"generator": gen_name, "discriminator": disc_name, "step": step,
                         "loss_d": round(loss_d.item(), 3), "loss_g": round(loss_g.item(), 3),
                         "nearest_real_distance": round(dist, 2),
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    images = torch.from_numpy(np.array(load("mnist", "train").images[:50000])).float() / 255
    real = images[-5000:]
    print(f"real to real nearest distance: "
          f"{nearest_real_distance(images[:500], real):.2f}", flush=True)
    rows = [row for g in GENERATORS for d in DISCRIMINATORS
            for row in play(g, d, images, args.steps, args.every)]
    if args.json:
        from halibench.io import write_json_atomic

        write_json_atomic(args.json, {"steps": args.steps, "rows": rows})


if __name__ == "__main__":
    main()
