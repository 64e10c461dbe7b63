"""Training throughput: the harness step per family against plain references, and against a
public ALI port's step on the same network.

Per family (``--families``), timed in one process, alternating, after warm-up:
- ``before``: the harness step as it was at commit 6ac3c10 (``nn.Dropout``, for-loop Adam),
  the reference for this round's speed-ups;
- ``harness``: ``Trainer.step`` as shipped (alternating updates: D steps, then both chains
  play the updated D in a second D pass);
- ``simultaneous``: ``--updates simultaneous`` (one D pass gives both gradients);
- ``bare``: the same networks in a plain PyTorch loop on a float batch already in memory;
- ``bf16``: the harness step (alternating) under ``--autocast bf16``;
- ``bf16_simultaneous``: the simultaneous step under ``--autocast bf16``.
FLOPs per image are counted with ``torch.utils.flop_counter`` on one step of each update
scheme; ``% peak`` is the measured rate against the matmul peak of this machine in the
step's precision (``machine.py``: the larger of BLAS matmul and oneDNN 1x1 convolution).

``--tried`` adds two variants of the simultaneous step that were tried and not adopted:
the model in channels-last memory format, and both networks under ``torch.compile`` (its
compilation is in the warm-up, not in the timing).

``--peer`` adds the comparison the issue asks for: a public port's SVHN step rebuilt in its
layout (``ali_port_peer.py``) against the harness on ``preset("ali", "32px")``, the same
layer list (the port: 10,366,145 parameters, no convolution bias before batch norm,
channel dropout; ours: 10,367,108, element dropout as in the ALI paper), batch 100.

    python benchmarks/perf/train_throughput.py --families 28px-dcgan --peer \\
        --json results/perf/train-throughput-DATE.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from ali_port_peer import PortStep
from machine import machine, machine_line
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from halibench.io import write_json_atomic
from halibench.models import preset
from halibench.models.layers import Dropout
from halibench.report.tables import markdown_table
from halibench.training.trainer import TrainConfig, Trainer, TrainingData

BATCH = {"28px": 100, "28px-dcgan": 100, "32px": 64, "64px": 32, "64px-dcgan": 32}


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


def as_before(trainer: Trainer) -> Trainer:
    """The trainer with the step of commit 6ac3c10: ``nn.Dropout``, for-loop Adam."""
    for module in list(trainer.model.modules()):
        for name, child in module.named_children():
            if isinstance(child, Dropout):
                setattr(module, name, nn.Dropout(child.p))
    cfg = trainer.config
    trainer.opt_g = torch.optim.Adam(trainer.model.generators.parameters(), cfg.lr,
                                     betas=cfg.betas, fused=False)
    trainer.opt_d = torch.optim.Adam(trainer.model.discriminator.parameters(),
                                     cfg.lr_d or cfg.lr, betas=cfg.betas, fused=False)
    return trainer


def trainer_for(kind: str, family: str, batch: int, **changes) -> Trainer:
    model_config = preset(kind, family)
    images = (torch.rand(batch * 4, *model_config.image_shape) * 255).to(torch.uint8)
    data = TrainingData(images, images[:batch], None)
    cfg = TrainConfig(steps=10**6, batch_size=batch, health_every=0,
                      train_range=(0, len(images)), **changes)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(model_config, cfg, tmp, data)
    trainer.model.train()
    return trainer


def interleaved(steps: dict[str, Callable[[int], None]], n: int, batch: int
                ) -> dict[str, float]:
    """Images/s of each step function, timed in turn, step by step, after two warm-ups."""
    for i in range(2):
        for fn in steps.values():
            fn(i)
    seconds = dict.fromkeys(steps, 0.0)
    for i in range(n):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            fn(2 + i)
            seconds[name] += time.perf_counter() - t0
    return {name: batch * n / s for name, s in seconds.items()}


def flops_per_image(step: Callable[[int], None], batch: int) -> float:
    with FlopCounterMode(display=False) as counter:
        step(10**5)
    return counter.get_total_flops() / batch


def tried_variants(kind: str, family: str, batch: int) -> dict[str, Callable[[int], None]]:
    """The simultaneous step in channels-last memory format, and compiled."""
    channels_last = trainer_for(kind, family, batch, updates="simultaneous")
    channels_last.model.to(memory_format=torch.channels_last)
    compiled = trainer_for(kind, family, batch, updates="simultaneous")
    compiled.gen, compiled.disc = torch.compile(compiled.gen), torch.compile(compiled.disc)
    return {"channels_last": channels_last.step, "compiled": compiled.step}


def measure(family: str, kind: str, steps: int, peaks: dict[str, float],
            tried: bool = False) -> dict:
    batch = BATCH[family]
    before = as_before(trainer_for(kind, family, batch))
    harness = trainer_for(kind, family, batch)
    simultaneous = trainer_for(kind, family, batch, updates="simultaneous")
    bf16 = trainer_for(kind, family, batch, autocast="bf16")
    bf16_simultaneous = trainer_for(kind, family, batch, updates="simultaneous",
                                    autocast="bf16")
    bare = trainer_for(kind, family, batch).model
    opt_g = torch.optim.Adam(bare.generators.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(bare.discriminator.parameters(), 1e-4, betas=(0.5, 0.999))
    x = torch.rand(batch, *bare.config.image_shape)
    rates = interleaved({"before": before.step, "harness": harness.step,
                         "simultaneous": simultaneous.step,
                         "bare": lambda _: bare_step(bare, opt_g, opt_d, x),
                         "bf16": bf16.step, "bf16_simultaneous": bf16_simultaneous.step,
                         **(tried_variants(kind, family, batch) if tried else {})},
                        steps, batch)
    flops = {"alternating": flops_per_image(harness.step, batch),
             "simultaneous": flops_per_image(simultaneous.step, batch)}
    return {"family": family, "kind": kind, "batch": batch, "steps": steps,
            **{f"{k}_img_s": round(v, 1) for k, v in rates.items()},
            "speedup": round(rates["simultaneous"] / rates["before"], 3),
            "gflop_per_image": {k: round(v / 1e9, 3) for k, v in flops.items()},
            "fraction_of_peak": {
                name: round(rates[name] * flops[scheme] / 1e12 / peaks[dtype], 3)
                for name, scheme, dtype in (
                    ("harness", "alternating", "float32"),
                    ("simultaneous", "simultaneous", "float32"),
                    ("bf16", "alternating", "bfloat16"),
                    ("bf16_simultaneous", "simultaneous", "bfloat16"))}}


def measure_peer(steps: int) -> dict:
    """The port's step against the harness on the same ALI-SVHN network, batch 100."""
    batch = 100
    port = PortStep()
    x = torch.rand(batch, 3, 32, 32)
    harness = trainer_for("ali", "32px", batch, instance_noise=0.1)
    simultaneous = trainer_for("ali", "32px", batch, instance_noise=0.1, updates="simultaneous")
    bf16 = trainer_for("ali", "32px", batch, instance_noise=0.1, autocast="bf16")
    bf16_simultaneous = trainer_for("ali", "32px", batch, instance_noise=0.1,
                                    updates="simultaneous", autocast="bf16")
    params = sum(p.numel() for p in port.model.parameters())
    ours = sum(p.numel() for p in harness.model.parameters())
    rates = interleaved({"port": lambda _: port(x), "harness": harness.step,
                         "simultaneous": simultaneous.step, "bf16": bf16.step,
                         "bf16_simultaneous": bf16_simultaneous.step}, steps, batch)
    return {"network": "ALI SVHN", "port_parameters": params, "harness_parameters": ours,
            "batch": batch,
            "steps": steps, **{f"{k}_img_s": round(v, 1) for k, v in rates.items()},
            **{f"{k}_vs_port": round(rates[k] / rates["port"], 3)
               for k in ("harness", "simultaneous", "bf16", "bf16_simultaneous")}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--kind", default="hali", choices=["hali", "ali", "bigan"])
    parser.add_argument("--families", default="28px,28px-dcgan,32px")
    parser.add_argument("--peer", action="store_true", help="Add the public port's step.")
    parser.add_argument("--tried", action="store_true",
                        help="Add channels-last and torch.compile variants.")
    parser.add_argument("--json", default=None, help="Write the rows to this file.")
    args = parser.parse_args()
    families = [f for f in args.families.split(",") if f]
    if unknown := sorted(set(families) - set(BATCH)):
        parser.error(f"--families: unknown {unknown}; choose from {sorted(BATCH)}")
    info = machine()
    rows = [measure(f, args.kind, args.steps, info["matmul_tflops"], args.tried)
            for f in families]
    peer = measure_peer(args.steps) if args.peer else None
    print(machine_line(info))
    print("\n".join(markdown_table(
        ("family", "kind", "batch", "before img/s", "harness", "simultaneous", "bare", "bf16",
         "bf16 simultaneous", "simultaneous / before", "bf16 / before",
         "GFLOP/img (alt, sim)", "share of peak (harness, sim., bf16, bf16 sim.)"),
        [(r["family"], r["kind"], r["batch"], r["before_img_s"], r["harness_img_s"],
          r["simultaneous_img_s"], r["bare_img_s"], r["bf16_img_s"],
          r["bf16_simultaneous_img_s"], r["speedup"],
          round(r["bf16_img_s"] / r["before_img_s"], 3),
          f"{r['gflop_per_image']['alternating']}, {r['gflop_per_image']['simultaneous']}",
          ", ".join(f"{v:.0%}" for v in r["fraction_of_peak"].values())) for r in rows])))
    if args.tried:
        print()
        print("\n".join(markdown_table(
            ("family", "simultaneous img/s", "channels-last", "compiled"),
            [(r["family"], r["simultaneous_img_s"], r["channels_last_img_s"],
              r["compiled_img_s"]) for r in rows])))
    if peer:
        print()
        print("\n".join(markdown_table(
            ("network", "batch", "port img/s", "harness", "simultaneous", "bf16",
             "bf16 simultaneous", "harness / port", "simultaneous / port", "bf16 / port",
             "bf16 simultaneous / port"),
            [(peer["network"], peer["batch"], peer["port_img_s"], peer["harness_img_s"],
              peer["simultaneous_img_s"], peer["bf16_img_s"], peer["bf16_simultaneous_img_s"],
              peer["harness_vs_port"], peer["simultaneous_vs_port"], peer["bf16_vs_port"],
              peer["bf16_simultaneous_vs_port"])])))
    if args.json:
        write_json_atomic(args.json, {"machine": info, "rows": rows, "peer": peer})


if __name__ == "__main__":
    main()
