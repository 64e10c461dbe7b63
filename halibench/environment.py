"""The environment recorded beside every checkpoint and result."""

from __future__ import annotations

import platform

import numpy as np
import sklearn
import torch

from halibench import __version__


def environment() -> dict[str, str]:
    """Versions, hardware and thread count: what a rerun needs to know to compare."""
    return {"halibench": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "machine": platform.machine(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            "threads": str(torch.get_num_threads())}
