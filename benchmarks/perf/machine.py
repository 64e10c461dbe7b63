"""The machine a timing was taken on: CPU model, its bf16/AMX flags, and measured matmul peaks."""

from __future__ import annotations

import time

import torch

from halibench.environment import cpu_description


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best measured TFLOP/s of an n x n x n matmul in ``dtype`` (torch's current threads)."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e12


def machine() -> dict[str, object]:
    """CPU, thread count, torch version and matmul peaks in float32 and bfloat16."""
    return {**cpu_description(), "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "matmul_tflops": {"float32": round(matmul_peak(torch.float32), 3),
                              "bfloat16": round(matmul_peak(torch.bfloat16), 3)}}


def machine_line(info: dict) -> str:
    peaks = info["matmul_tflops"]
    return (f"# {info['cpu']} (avx512_bf16: {info['avx512_bf16']}, AMX: {info['amx_bf16']}), "
            f"{info['threads']} threads, torch {info['torch']}; measured matmul peak "
            f"float32 {peaks['float32']} TFLOP/s, bf16 {peaks['bfloat16']} TFLOP/s")
