"""ALI, BiGAN and HALI: configurations of one hierarchical model."""

from halibench.models.config import FAMILY_SHAPES, ModelConfig, preset
from halibench.models.hierarchical import HierarchicalALI


def build_model(config: ModelConfig) -> HierarchicalALI:
    """A freshly initialised model for ``config``."""
    return HierarchicalALI(config)


__all__ = ["FAMILY_SHAPES", "HierarchicalALI", "ModelConfig", "build_model", "preset"]
