"""halibench: train, load and fairly compare ALI, BiGAN and HALI representations.

    import halibench
    records = halibench.evaluate(my_encoder, "mnist-semisup", labels_per_class=[10])
    records.frame()
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # what IDEs and type checkers see; at run time imported on first use
    from halibench.api import Records, evaluate, extract_features, list_benchmarks, list_models


def load(name_or_path: str):
    """A trained model from a checkpoint folder or a shipped checkpoint name; ``evaluate``
    records it under the checkpoint's name and sha256 while its weights are unchanged."""
    from halibench.features.provenance import load_remembered

    return load_remembered(name_or_path)


def __getattr__(name: str):
    """The rest of the API, imported on first use (``import halibench`` stays light)."""
    if name in ("evaluate", "extract_features", "list_models", "list_benchmarks", "Records"):
        from halibench import api

        return getattr(api, name)
    raise AttributeError(f"module 'halibench' has no attribute {name!r}")


__all__ = ["Records", "__version__", "evaluate", "extract_features", "list_benchmarks",
           "list_models", "load"]
