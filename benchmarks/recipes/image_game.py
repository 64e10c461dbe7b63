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
generator loss, the mean distance from 500 samples to their nearest of 5,000 real
training digits (real to real: about 4.8) and the samples' sharpness against the real
images' at each checkpoint step.

``--size 64`` plays the same game on CelebA's training ids (rows 0:2400 of the subset;
rows 2400:3000 are the real references, ids 3001+ never read), crossing
- generators: the ``64px`` family's decoder at width 0.25 (the appendix layout: a thin last
  block and a 1x1 convolution, as the earlier ``ali-celeba64``), and the ``64px-dcgan`` decoder at
  width 0.5;
- discriminators: those two families' image branches (batch norm, dropout 0.2) and a
  linear head.

    HALIBENCH_DATA=../shared/data python benchmarks/recipes/image_game.py --steps 400 \\
        --json results/recipes/image-game.json
    HALIBENCH_DATA=../shared/data python benchmarks/recipes/image_game.py --size 64 \\
        --steps 200 --json results/recipes/image-game-64.json \\
        --samples results/figures/image-game-64.png
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
from halibench.models.config import DEFAULT_Z1


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
    """A family's XDecoder (its ``decoder_head`` layout), fed z directly."""

    def __init__(self, z_dim: int, family: str = "28px", head: str | None = None,
                 width: float = 1.0) -> None:
        super().__init__()
        heads = {"decoder_head": head} if head else {}
        self.net = XDecoder(preset("ali", family, z_dims=(z_dim,), width=width, **heads))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class PackageDiscriminator(nn.Module):
    """A family's discriminator image branch (batch norm, dropout 0.2) and a linear head."""

    def __init__(self, family: str = "28px", width: float = 1.0) -> None:
        super().__init__()
        self.branch = build_model(preset("ali", family, width=width)).discriminator.x_branch
        self.head = nn.Linear(int(np.prod(self.branch.out_shape)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.branch(x)[0].flatten(1))


GENERATORS = {28: {"package": PackageGenerator,
                   "package-upsampling-head": lambda z: PackageGenerator(z, head="upsample"),
                   "textbook": textbook_generator},
              64: {"64px@0.25": lambda z: PackageGenerator(z, "64px", width=0.25),
                   "64px-dcgan@0.5": lambda z: PackageGenerator(z, "64px-dcgan", width=0.5)}}
DISCRIMINATORS = {28: {"package": PackageDiscriminator, "textbook": textbook_discriminator},
                  64: {"64px@0.25": lambda: PackageDiscriminator("64px", 0.25),
                       "64px-dcgan@0.5": lambda: PackageDiscriminator("64px-dcgan", 0.5)}}
Z_DIM = {28: DEFAULT_Z1["28px"], 64: DEFAULT_Z1["64px"]}  # one z for every generator


def training_images(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(images to play with, real references), both from training rows only, in [0, 1]."""
    if size == 28:
        pixels, stop, refs = load("mnist", "train").images, 50000, 5000
    else:
        pixels, stop, refs = load("celeba", "present").images, 3000, 600
    images = torch.from_numpy(np.array(pixels[:stop])).float() / 255
    return images[:-refs], images[-refs:]


def nearest_real_distance(samples: torch.Tensor, real: torch.Tensor) -> float:
    d = torch.cdist(samples.flatten(1), real.flatten(1))
    return float(d.min(1).values.mean())


def sharpness(images: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels: blur lowers it. At 64 px a blurry
    average face lies as near to real faces as real faces do to each other, so the nearest
    distance alone cannot tell a blurry generator from a good one."""
    return float((images.diff(dim=-1).abs().mean() + images.diff(dim=-2).abs().mean()) / 2)


def play(size: int, gen_name: str, disc_name: str, images: torch.Tensor,
         real_ref: torch.Tensor, steps: int, every: int, batch: int = 100, seed: int = 0
         ) -> tuple[list[dict], torch.Tensor]:
    """The game's rows at every ``every`` steps, and the last eight fixed-z samples."""
    torch.manual_seed(seed)
    z_dim = Z_DIM[size]
    g, d = GENERATORS[size][gen_name](z_dim), DISCRIMINATORS[size][disc_name]()
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    fixed_z = torch.randn(500, z_dim)
    rows, t0 = [], time.perf_counter()
    for step in range(1, steps + 1):
        x = images[torch.randint(0, len(images), (batch,))]
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
                samples = g(fixed_z)
            g.train()
            rows.append({"generator": gen_name, "discriminator": disc_name, "step": step,
                         "loss_d": round(loss_d.item(), 3), "loss_g": round(loss_g.item(), 3),
                         "nearest_real_distance": round(
                             nearest_real_distance(samples, real_ref), 2),
                         "sharpness_vs_real": round(sharpness(samples) / sharpness(real_ref),
                                                    3),
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(rows[-1], flush=True)
    return rows, samples[:8]


def save_samples(path: Path, grids: dict[str, torch.Tensor]) -> None:
    """One row of samples per pairing (generator vs discriminator)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(grids), 1, figsize=(8, 1.2 * len(grids)), squeeze=False)
    for ax, (name, samples) in zip(axes[:, 0], grids.items(), strict=True):
        row = torch.cat(list(samples), dim=-1).permute(1, 2, 0).squeeze(-1).numpy()
        ax.imshow(row, cmap="gray" if row.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--size", type=int, default=28, choices=sorted(GENERATORS),
                        help="28: MNIST and the 28 px networks; 64: CelebA's training ids "
                             "and the 64 px families.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--samples", type=Path, default=None,
                        help="PNG of each pairing's last eight samples.")
    args = parser.parse_args()
    if not 0 < args.every <= args.steps:
        parser.error("--every: between 1 and --steps (each pairing is scored every EVERY steps)")
    images, real = training_images(args.size)
    reference = nearest_real_distance(images[:500], real)
    mean_face = nearest_real_distance(images.mean(0, keepdim=True), real)
    print(f"nearest distance, real to real: {reference:.2f}; the mean image to real: "
          f"{mean_face:.2f}", flush=True)
    rows, grids = [], {}
    for g in GENERATORS[args.size]:
        for d in DISCRIMINATORS[args.size]:
            played, grids[f"generator {g} vs discriminator {d}"] = play(
                args.size, g, d, images, real, args.steps, args.every)
            rows += played
    if args.samples:
        save_samples(args.samples, grids)
    if args.json:
        from halibench.io import write_json_atomic

        write_json_atomic(args.json, {"size": args.size, "steps": args.steps,
                                      "real_to_real": round(reference, 2),
                                      "mean_image_to_real": round(mean_face, 2),
                                      "rows": rows})


if __name__ == "__main__":
    main()
