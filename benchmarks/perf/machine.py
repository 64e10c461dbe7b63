"""The machine a timing was taken on: CPU model, its bf16/AMX flags, and measured matmul peaks."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from halibench.environment import cpu_description, cpu_text


def best_tflops(run, flop: float, repeats: int = 10) -> float:
    """Best measured TFLOP/s of ``run()`` (``flop`` operations), after one warm-up."""
    run()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return flop / best / 1e12


def matmul_peak(dtype: torch.dtype, n: int = 2048) -> dict[str, float]:
    """TFLOP/s of an n x n x n product in ``dtype`` by torch's two CPU paths: ``matmul``
    (BLAS) and the same product as a 1x1 convolution (oneDNN, the path the networks'
    convolutions take); the peak is the larger. Ten timed repeats: one measurement of five
    on a 2-core AMD EPYC once read float32 at 0.11 TFLOP/s where later ones read 0.19."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    image = a.T.reshape(1, n, n, 1).contiguous()  # n channels, n x 1 pixels
    kernel = b.T.reshape(n, n, 1, 1).contiguous()
    with torch.no_grad():
        paths = {"matmul": best_tflops(lambda: a @ b, 2 * n**3),
                 "conv1x1": best_tflops(lambda: F.conv2d(image, kernel), 2 * n**3)}
    return {**{k: round(v, 3) for k, v in paths.items()}, "peak": round(max(paths.values()), 3)}


def machine() -> dict[str, object]:
    """CPU, thread count, torch version and matmul peaks in float32 and bfloat16."""
    paths = {"float32": matmul_peak(torch.float32), "bfloat16": matmul_peak(torch.bfloat16)}
    return {**cpu_description(), "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "matmul_tflops": {k: v["peak"] for k, v in paths.items()},
            "matmul_tflops_by_path": paths}


def machine_line(info: dict) -> str:
    peaks = info["matmul_tflops"]
    return (f"# {cpu_text(info)}, "
            f"{info['threads']} threads, torch {info['torch']}; measured matmul peak "
            f"float32 {peaks['float32']} TFLOP/s, bf16 {peaks['bfloat16']} TFLOP/s "
            f"(matmul / 1x1 convolution: {paths_text(info)})")


def paths_text(info: dict) -> str:
    return ", ".join(f"{dtype} {p['matmul']} / {p['conv1x1']}"
                     for dtype, p in info.get("matmul_tflops_by_path", {}).items())
