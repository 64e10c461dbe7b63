"""halibench: train, load and fairly compare ALI, BiGAN and HALI representations.

    import halibench
    records = halibench.evaluate(my_encoder, "mnist-semisup", labels_per_class=[10])
    records.frame()
"""

__version__ = "0.1.0"


def load(name_or_path: str):
    """A trained model from a checkpoint folder or a shipped checkpoint name."""
    from halibench.models.checkpoints import load as _load

    return _load(name_or_path)


def evaluate(source, benchmark: str, **options):
    """Evaluate any encoder on a benchmark protocol (see ``halibench.api.evaluate``)."""
    from halibench.api import evaluate as _evaluate

    return _evaluate(source, benchmark, **options)


def __getattr__(name: str):
    """The rest of the API, imported on first use (``import halibench`` stays light)."""
    if name in ("extract_features", "list_models", "list_benchmarks", "Records"):
        from halibench import api

        return getattr(api, name)
    raise AttributeError(f"module 'halibench' has no attribute {name!r}")


__all__ = ["Records", "__version__", "evaluate", "extract_features", "list_benchmarks",
           "list_models", "load"]
