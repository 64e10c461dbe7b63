"""ALI, BiGAN and HALI: configurations of one hierarchical model.

The networks (torch) load on first use, so that ``halibench.models.config`` stays light.
"""

from typing import Any

from halibench.models.config import FAMILY_SHAPES, ModelConfig, preset


def build_model(config: ModelConfig) -> Any:
    """A freshly initialised ``HierarchicalALI`` for ``config``."""
    from halibench.models.hierarchical import HierarchicalALI

    return HierarchicalALI(config)


def __getattr__(name: str) -> Any:
    if name == "HierarchicalALI":
        from halibench.models.hierarchical import HierarchicalALI

        return HierarchicalALI
    raise AttributeError(f"module 'halibench.models' has no attribute {name!r}")


__all__ = ["FAMILY_SHAPES", "HierarchicalALI", "ModelConfig", "build_model", "preset"]
