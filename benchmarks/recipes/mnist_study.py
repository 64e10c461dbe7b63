"""The MNIST recipe study: train each configuration at one fixed budget, score it on
validation rows only, and write the table (``mnist.md`` beside ``--jsonl``: by default
``benchmarks/recipes/mnist.md``).

Each configuration is a list of ``halibench train`` options. Every run trains HALI (or the
kind given) on train[0:50000] for ``--steps`` steps of batch 100 with both cores; its
score is the L2-SVM error at 100 labels of the protocol in
the shipped ``mnist-recipe-validation`` protocol (C chosen on train[50000:55000], error on
train[55000:60000]) for each level (each draw's error kept, for paired comparisons with
``--pair``), plus the last health row (1-NN per level on
train[50000:52000], discriminator accuracy on each side in eval mode). MNIST's test split
is never read. Runs go to ``--runs``; results append to ``--jsonl`` (one line per run) and
the Markdown table is rebuilt from all lines there.

    HALIBENCH_DATA=../shared/data python benchmarks/recipes/mnist_study.py --steps 500 \\
        --runs /tmp/study --jsonl benchmarks/recipes/mnist-study.jsonl [--only NAME ...]
    python benchmarks/recipes/mnist_study.py --steps 4000 \\
        --pair dcgan-family dcgan-family+simultaneous   # B - A per level, paired by draw

(``--pair`` trains nothing: it compares two lines already in ``--jsonl``. Its draws are the
validation protocol's label draws of one training run per configuration, so its p-value
leaves out the spread between training seeds.)
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from halibench.environment import environment
from halibench.io import write_text_atomic
from halibench.report.compare import paired_p_value
from halibench.report.tables import markdown_table

HERE = Path(__file__).resolve().parent
BASE = ["--lr", "2e-4", "--lr-d", "2e-4", "--batch-size", "100", "--threads", "2"]
SHIPPED = ["--lr", "5e-4", "--lr-d", "1e-4", "--cycle-weight", "0.1"]
# The first rows ran when 28px was the default family for 28 px images; they name it now.
OLD = ["--family", "28px"]
UP = OLD + ["--decoder-head", "upsample"]
DCGAN = ["--family", "28px-dcgan"]
CONFIGS: dict[str, list[str]] = {
    "shipped": OLD + SHIPPED,
    "plain-ali": OLD,
    "upsampling-head": UP,
    "dcgan-family": DCGAN,
    "dcgan-family+shipped": DCGAN + SHIPPED,
    "dcgan-family+cycle-mean": DCGAN + ["--cycle-weight", "1", "--cycle-reduction", "mean"],
    "dcgan-family+ttur": DCGAN + ["--lr-d", "1e-4", "--lr", "4e-4"],
    "dcgan-family+shipped+bf16": DCGAN + SHIPPED + ["--autocast", "bf16"],
    # bf16 parity at the plain recipe: the same run as dcgan-family under bf16 autocast.
    "dcgan-family+bf16": DCGAN + ["--autocast", "bf16"],
    # Stabilisers on top of the best row so far (dcgan-family+shipped), one at a time.
    "dcgan-family+shipped+smoothing": DCGAN + SHIPPED + ["--label-smoothing", "0.1"],
    "dcgan-family+shipped+r1": DCGAN + SHIPPED + ["--r1-weight", "1"],
    "dcgan-family+shipped+noise": DCGAN + SHIPPED + ["--instance-noise", "0.1",
                                                     "--instance-noise-steps", "500"],
    "dcgan-family+shipped+spectral-norm": DCGAN + SHIPPED + ["--spectral-norm"],
    # Parity of the faster step: the plain recipe (hali-mnist's) with one D pass per step.
    "dcgan-family+simultaneous": DCGAN + ["--updates", "simultaneous"],
    # Latent sizes around hali-mnist's 64,32 (the plain recipe, one change each).
    "dcgan-family+z32-16": DCGAN + ["--z-dims", "32,16"],
    "dcgan-family+z128-64": DCGAN + ["--z-dims", "128,64"],
    "dcgan-family+width1.5": DCGAN + ["--width", "1.5"],
}


def train_command(name: str, kind: str, steps: int, runs: Path) -> list[str]:
    options = BASE + CONFIGS[name]
    merged: dict[str, list[str]] = {}
    i = 0
    while i < len(options):  # later options override earlier ones (e.g. --lr-d)
        flag = options[i]
        takes_value = i + 1 < len(options) and not options[i + 1].startswith("--")
        merged[flag] = options[i + 1:i + 2] if takes_value else []
        i += 2 if takes_value else 1
    words = ["halibench", "train", kind, "--steps", str(steps), "--checkpoint-every",
             str(steps), "--health-every", str(steps), "--health-range", "50000:52000",
             "--out", str(runs / name), "--seed", "0"]
    for flag, value in merged.items():
        words += [flag, *value]
    return words


def score(run: Path) -> dict:
    from halibench.evaluation import benchmark
    from halibench.evaluation.protocols import load_protocol

    protocol = load_protocol("mnist-recipe-validation")
    records = benchmark.run(protocol, [str(run)], None, ["l2svm"])
    health = pd.read_csv(run / "health.csv").iloc[-1].to_dict()
    return {"validation_error": {r["level"]: round(r["mean"], 2) for r in records},
            "validation_draws": {r["level"]: [round(d["test"], 2) for d in r["draws"]]
                                 for r in records},
            "health": {k: round(float(v), 4) for k, v in health.items()}}


def table(lines: list[dict]) -> str:
    rows = [(r["name"], r["kind"], r["steps"], f"{r['seconds']:.0f}", r.get("cpu", "—"),
             r["validation_error"].get("z1", "—"), r["validation_error"].get("z2", "—"),
             r["validation_error"].get("concat", "—"),
             f"{r['health'].get('knn_z1', float('nan')):.3f}",
             f"{r['health'].get('d_acc_encoder', 0):.2f}",
             f"{r['health'].get('d_acc_decoder', 0):.2f}", f"`{r['command']}`") for r in lines]
    return "\n".join(markdown_table(
        ("configuration", "kind", "steps", "wall s", "CPU", "val. error z1", "z2", "concat",
         "1-NN z1", "D acc. encoder", "D acc. decoder", "command"), rows))


def read_lines(path: Path) -> list[dict]:
    """The study's lines; one-line SystemExit naming the file and line when one is broken."""
    if not path.is_file():
        raise SystemExit(f"--jsonl {path}: no such file; train a configuration first")
    lines = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as e:
            raise SystemExit(f"--jsonl {path}, line {number}: not JSON ({e.msg}); "
                             "restore the file from git") from None
        if not isinstance(line, dict) or not {"name", "kind", "steps"} <= line.keys():
            raise SystemExit(f"--jsonl {path}, line {number}: not a study line (needs "
                             "name, kind and steps); restore the file from git")
        lines.append(line)
    return lines


def paired(lines: list[dict], a: str, b: str, kind: str, steps: int) -> list[str]:
    """Per level both lines scored: mean of B - A over the validation draws both scored,
    and the paired t-test's p (the newest line of each name at this kind and budget)."""
    if a == b:
        raise SystemExit(f"--pair: {a!r} against itself; name two configurations")

    def newest(name: str) -> dict:
        found = [r for r in lines if (r["name"], r["kind"], r["steps"]) == (name, kind, steps)
                 and "validation_draws" in r]
        if not found:
            raise SystemExit(f"--pair: no {kind} line named {name!r} at {steps} steps with "
                             "per-draw errors in --jsonl")
        return found[-1]

    ra, rb = newest(a), newest(b)
    out = []
    for level, errors_a in ra["validation_draws"].items():
        if level not in rb["validation_draws"]:
            out.append(f"{level}: scored for {a} only")
            continue
        by_draw_a = dict(enumerate(errors_a))
        by_draw_b = dict(enumerate(rb["validation_draws"][level]))
        p_value, n = paired_p_value(by_draw_b, by_draw_a)
        diff = sum(by_draw_b[k] - by_draw_a[k] for k in range(n)) / n
        out.append(f"{level}: {b} - {a} = {diff:+.2f} points over {n} draws "
                   f"({len(errors_a)} and {len(by_draw_b)} scored), paired p = {p_value:.3g}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--kind", default="hali")
    parser.add_argument("--runs", type=Path, default=None, help="Run folders (to train).")
    parser.add_argument("--jsonl", type=Path, default=HERE / "mnist-study.jsonl")
    parser.add_argument("--only", nargs="*", default=None, choices=list(CONFIGS),
                        help="Configurations to train (default: all).")
    parser.add_argument("--table-only", action="store_true",
                        help="Only rebuild mnist.md from the lines in --jsonl.")
    parser.add_argument("--pair", nargs=2, metavar=("A", "B"), default=None,
                        help="Only compare two configurations' lines, paired by draw.")
    args = parser.parse_args()
    if args.pair:
        lines = read_lines(args.jsonl)
        print("\n".join(paired(lines, *args.pair, args.kind, args.steps)))
        return
    if args.runs is None and not args.table_only:
        parser.error("--runs is needed to train (or give --pair or --table-only)")
    for name in [] if args.table_only else args.only or CONFIGS:
        command = train_command(name, args.kind, args.steps, args.runs)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "halibench", *command[1:]], check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        line = {"name": name, "kind": args.kind, "steps": args.steps, "seconds": seconds,
                "command": shlex.join(command), "cpu": environment()["cpu"],
                **score(args.runs / name)}
        with args.jsonl.open("a") as f:
            f.write(json.dumps(line) + "\n")
        print(json.dumps(line), flush=True)
    lines = read_lines(args.jsonl)
    header = ("# MNIST recipe study\n\nMade by `benchmarks/recipes/mnist_study.py` (see its "
              "docstring); validation rows only. The first three rows ran when `28px` was the "
              "default 28 px family (their commands have no `--family`); `CONFIGS` names it "
              "now.\n\n")
    write_text_atomic(args.jsonl.parent / "mnist.md", header + table(lines) + "\n")


if __name__ == "__main__":
    main()
