"""Training throughput per architecture family: harness step vs a bare loop, and bf16.

The harness step is ``Trainer.step`` (seeded per step, sharded sampler, uint8 -> float,
discriminator update, generator update). The bare loop runs the same networks on a float
batch that is already in memory, with plain PyTorch and no harness. A third trainer runs the
harness step under ``--autocast bf16``. All three are timed in the same process, alternating,
after warm-up; ``ratio`` is harness images/s / bare images/s, ``bf16_ratio`` the bf16 harness
step's images/s / the float32 harness step's.

    python benchmarks/perf/train_throughput.py [--steps 6] [--kind hali] [--json out.json]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

from halibench.io import write_json_atomic
from halibench.models import preset
from halibench.report.tables import markdown_table
from halibench.training.trainer import TrainConfig, Trainer, TrainingData

BATCH = {"28px": 100, "28px-dcgan": 100, "32px": 64, "64px": 32}


def bare_step(model, opt_g, opt_d, x):
    """One adversarial step written plainly against the same modules."""
    enc = model.generators.encoder
    dec = model.generators.decoder
    ze, _ = enc(x, sample=True)
    top = torch.randn(x.shape[0], ze[-1].shape[1])
    xd, zd = dec(top, len(ze), sample=True)
    xs = torch.cat([x, xd])
    zs = [torch.cat([a, b]) for a, b in zip(ze, zd, strict=True)]
    b = x.shape[0]
    opt_d.zero_grad()
    logits = model.discriminator(xs.detach(), [z.detach() for z in zs])
    (F.softplus(-logits[:b]).mean() + F.softplus(logits[b:]).mean()).backward()
    opt_d.step()
    model.discriminator.requires_grad_(False)
    opt_g.zero_grad()
    logits = model.discriminator(xs, zs)
    (F.softplus(logits[:b]).mean() + F.softplus(-logits[b:]).mean()).backward()
    opt_g.step()
    model.discriminator.requires_grad_(True)


def measure(family: str, kind: str, steps: int) -> dict:
    batch = BATCH[family]
    model_config = preset(kind, family)
    shape = model_config.image_shape
    images = (torch.rand(batch * 4, *shape) * 255).to(torch.uint8)
    data = TrainingData(images, images[:batch], None)
    cfg = TrainConfig(steps=10**6, batch_size=batch, health_every=0, train_range=(0, len(images)))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(model_config, cfg, tmp, data)
    with tempfile.TemporaryDirectory() as tmp:
        bf16 = Trainer(model_config, replace(cfg, autocast="bf16"), tmp, data)
    trainer.model.train()
    bare_model = trainer.model
    opt_g = torch.optim.Adam(bare_model.generators.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(bare_model.discriminator.parameters(), 1e-4, betas=(0.5, 0.999))
    x = images[:batch].float() / 255
    for i in range(2):
        trainer.step(i)
        bare_step(bare_model, opt_g, opt_d, x)
        bf16.step(i)
    t_harness = t_bare = t_bf16 = 0.0
    for i in range(steps):
        t0 = time.perf_counter()
        trainer.step(2 + i)
        t1 = time.perf_counter()
        bare_step(bare_model, opt_g, opt_d, x)
        t2 = time.perf_counter()
        bf16.step(2 + i)
        t3 = time.perf_counter()
        t_harness += t1 - t0
        t_bare += t2 - t1
        t_bf16 += t3 - t2
    harness, bare, fast = (batch * steps / t for t in (t_harness, t_bare, t_bf16))
    return {"family": family, "kind": kind, "batch": batch, "steps": steps,
            "harness_img_s": round(harness, 1), "bare_img_s": round(bare, 1),
            "ratio": round(harness / bare, 3), "bf16_img_s": round(fast, 1),
            "bf16_ratio": round(fast / harness, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--kind", default="hali", choices=["hali", "ali", "bigan"])
    parser.add_argument("--families", default="28px,32px,64px")
    parser.add_argument("--json", default=None, help="Write the rows to this file.")
    args = parser.parse_args()
    rows = [measure(f, args.kind, args.steps) for f in args.families.split(",")]
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    print("\n".join(markdown_table(
        ("family", "kind", "batch", "harness img/s", "bare img/s", "ratio", "bf16 img/s",
         "bf16 / float32"),
        [(r["family"], r["kind"], r["batch"], r["harness_img_s"], r["bare_img_s"], r["ratio"],
          r["bf16_img_s"], r["bf16_ratio"]) for r in rows])))
    if args.json:
        write_json_atomic(args.json, {"torch": torch.__version__,
                                      "threads": torch.get_num_threads(),
                                      "cpu": platform.processor() or platform.machine(),
                                      "rows": rows})


if __name__ == "__main__":
    main()
