"""Where a training step's time goes: the top operators of ``Trainer.step`` by self CPU time,
with input shapes, from ``torch.profiler`` over a few steps after warm-up.

    python benchmarks/perf/step_profile.py --kind hali --family 28px-dcgan [--before] \\
        [--updates simultaneous] [--top 20]

``--before`` profiles the step as it was at commit 6ac3c10 (``nn.Dropout``, for-loop Adam).
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile
from train_throughput import BATCH, as_before, trainer_for


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", default="hali", choices=["hali", "ali", "bigan"])
    parser.add_argument("--family", default="28px-dcgan", choices=list(BATCH))
    parser.add_argument("--updates", default="alternating",
                        choices=["alternating", "simultaneous"])
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    if args.before and args.updates != "alternating":
        parser.error("--before is the step of 6ac3c10, which had alternating updates only")
    batch = BATCH[args.family]
    trainer = trainer_for(args.kind, args.family, batch, updates=args.updates)
    if args.before:
        as_before(trainer)
    for i in range(3):
        trainer.step(i)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for i in range(args.steps):
            trainer.step(3 + i)
    by_shape = sorted(prof.key_averages(group_by_input_shape=True),
                      key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in by_shape)
    print(f"# {args.kind} {args.family}, {args.updates}{' (before)' if args.before else ''}: "
          f"{total / args.steps / 1e3:.1f} ms of operator time per step, "
          f"{torch.get_num_threads()} threads")
    by_name = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    for title, events, top in (("operators", by_name, 8), ("by input shape", by_shape,
                                                           args.top)):
        print(f"## {title}")
        for e in events[:top]:
            shapes = str(e.input_shapes)[:100] if events is by_shape else ""
            print(f"{e.self_cpu_time_total / args.steps / 1e3:7.2f} ms/step "
                  f"{100 * e.self_cpu_time_total / total:5.1f} % {e.count // args.steps:3d}x "
                  f"{e.key:30s} {shapes}")


if __name__ == "__main__":
    main()
