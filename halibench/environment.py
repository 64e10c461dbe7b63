"""The environment recorded beside every checkpoint and result."""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

import numpy as np
import sklearn
import torch

from halibench import __version__


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, str | bool]:
    """CPU model name (from ``cpuinfo`` where there is one) and whether it has the
    instructions that make bf16 fast (avx512_bf16, AMX)."""
    name, flags = platform.processor() or platform.machine(), set()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {"cpu": name, "avx512_bf16": "avx512_bf16" in flags,
            "amx_bf16": "amx_bf16" in flags}


def cpu_text(cpu: dict) -> str:
    """``cpu_description`` in one line: the model and its bf16 flags."""
    return f"{cpu['cpu']} (avx512_bf16: {cpu['avx512_bf16']}, AMX: {cpu['amx_bf16']})"


@cache
def this_cpu() -> str:
    """This machine's ``cpu_text``, read once per process (every record carries it)."""
    return cpu_text(cpu_description())


def environment() -> dict[str, str]:
    """Versions, hardware and thread count: what a rerun needs to know to compare."""
    return {"halibench": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "machine": platform.machine(),
            "cpu": this_cpu(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            "threads": str(torch.get_num_threads())}
