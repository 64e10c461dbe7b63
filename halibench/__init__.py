"""halibench: train, load and fairly compare ALI, BiGAN and HALI representations."""

__version__ = "0.1.0"


def load(name_or_path: str):
    """A trained model from a checkpoint folder or a shipped checkpoint name."""
    from halibench.checkpoints import load as _load

    return _load(name_or_path)


__all__ = ["__version__", "load"]
