"""HierarchicalALI: one model class for ALI, BiGAN and HALI."""

from __future__ import annotations

import math

import torch
from torch import nn

from halibench.errors import CheckpointError
from halibench.models.chains import DecoderChain, EncoderChain
from halibench.models.config import ModelConfig
from halibench.models.discriminator import TupleDiscriminator
from halibench.models.layers import init_weights

HIDDEN_LAYERS = 3  # x-encoder layers read by the ``hidden`` feature level


class Generators(nn.Module):
    """Encoder and decoder chains as one module: the side the discriminator plays against.

    ``forward`` draws the encoder tuple (x, z1..zL) ~ q and the decoder tuple ~ p in one call,
    so that DistributedDataParallel can wrap it.
    """

    def __init__(self, encoder: EncoderChain, decoder: DecoderChain, prior: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.prior = prior

    def sample_prior(self, n: int, dim: int, device: torch.device) -> torch.Tensor:
        if self.prior == "uniform":
            return torch.rand(n, dim, device=device) * 2 - 1
        return torch.randn(n, dim, device=device)

    def forward(self, x: torch.Tensor, cycle: bool = False
                ) -> tuple[tuple[torch.Tensor, list[torch.Tensor]],
                           tuple[torch.Tensor, list[torch.Tensor]], list[torch.Tensor]]:
        """Encoder tuple, decoder tuple, and (with ``cycle``) the reconstruction of x through
        each level from the sampled encoder latents (for the ALICE-style cycle term)."""
        enc_latents, _ = self.encoder(x, sample=True)
        top = self.sample_prior(x.shape[0], enc_latents[-1].shape[1], x.device)
        x_fake, dec_latents = self.decoder(top, len(enc_latents), sample=True)
        recons = [self.decoder(z, level, sample=True)[0]
                  for level, z in enumerate(enc_latents, start=1)] if cycle else []
        return (x, enc_latents), (x_fake, dec_latents), recons


class HierarchicalALI(nn.Module):
    """A Markov chain of stochastic encoders x -> z1 -> ... -> zL, the mirror chain of
    decoders, and a discriminator over the whole tuple. ALI and BiGAN are one-level cases."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.generators = Generators(EncoderChain(config), DecoderChain(config), config.prior)
        self.discriminator = TupleDiscriminator(config)
        if config.init_std is not None:
            init_weights(self, config.init_std)
        # set by loading encoder-only weights: features work, decoding does not
        self.encoder_only: str | None = None
        # set by loading a semi-supervised checkpoint: the labelled draw it trained with
        self.trained_labels: dict | None = None

    @property
    def encoder(self) -> EncoderChain:
        return self.generators.encoder

    @property
    def decoder(self) -> DecoderChain:
        return self.generators.decoder

    @property
    def levels(self) -> int:
        return self.config.levels

    @property
    def level_names(self) -> list[str]:
        return [f"z{i + 1}" for i in range(self.levels)]

    def _check_level(self, level: int) -> None:
        if not 1 <= level <= self.levels:
            raise ValueError(f"level {level} out of range; this model has levels 1..{self.levels}")

    def encode(self, x: torch.Tensor, sample: bool = False) -> list[torch.Tensor]:
        """Latents z1..zL of images ``x`` in [0, 1]; the chain of means unless ``sample``."""
        return self.encoder(x, sample=sample)[0]

    def encode_hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The mean of z1 and the post-activation outputs of every hidden x-encoder layer."""
        _, mu, hidden = self.encoder.x_encoder(x, sample=False)
        return mu, hidden

    def decode(self, z: torch.Tensor, level: int = 1, sample: bool = False) -> torch.Tensor:
        """Images decoded from ``z`` at ``level`` (1-based) down the decoder chain."""
        self._check_level(level)
        self._check_decoder()
        return self.decoder(z, level, sample=sample)[0]

    def _check_decoder(self) -> None:
        if self.encoder_only:
            raise CheckpointError(self.encoder_only)

    def reconstruct(self, x: torch.Tensor, level: int = 1, sample: bool = False) -> torch.Tensor:
        """x -> z1 -> ... -> z_level -> ... -> z1 -> x."""
        self._check_level(level)
        z = self.encoder(x, sample=sample, depth=level)[0][-1]
        return self.decode(z, level, sample=sample)

    def sample(self, n: int, sample_intermediate: bool = True) -> torch.Tensor:
        """``n`` images from the prior p(zL) through the decoder chain."""
        self._check_decoder()
        device = next(self.parameters()).device
        top = self.generators.sample_prior(n, self.config.z_dims[-1], device)
        return self.decoder(top, self.levels, sample=sample_intermediate)[0]

    def classify(self, x: torch.Tensor, latents: list[torch.Tensor] | None = None
                 ) -> torch.Tensor:
        """Class logits (batch, K) of a semi-supervised model's own classifier: its
        discriminator on (x, z1..zL), the chain of encoder means unless ``latents``."""
        self._check_decoder()
        latents = self.encode(x) if latents is None else latents
        return self.discriminator.class_logits(x, latents)

    @property
    def feature_levels(self) -> list[str]:
        """Every feature level, in canonical order: z1..zL, concat, hidden, and for a
        semi-supervised model ``classifier`` (its own class logits)."""
        own = ["classifier"] if self.config.classes else []
        return [*self.level_names, "concat", "hidden", *own]

    @property
    def feature_info(self) -> list[dict]:
        """Per feature level: ``name``, ``dim`` and ``shape`` (the shape of each part).

        ``zl`` is the latent at level l (the chain of means unless sampled), ``concat`` all
        levels side by side, ``hidden`` ALI's SVM features: the mean of z1 and the
        post-activation outputs of the last ``HIDDEN_LAYERS`` x-encoder layers.
        """
        dims = self.config.z_dims
        info = [{"name": f"z{i + 1}", "dim": d, "shape": [(d,)]} for i, d in enumerate(dims)]
        info.append({"name": "concat", "dim": sum(dims), "shape": [(d,) for d in dims]})
        hidden_shapes = [(dims[0],), *self.encoder.x_encoder.trunk.shapes[-HIDDEN_LAYERS:]]
        info.append({"name": "hidden", "dim": sum(math.prod(s) for s in hidden_shapes),
                     "shape": hidden_shapes})
        if self.config.classes:
            k = self.config.classes
            info.append({"name": "classifier", "dim": k, "shape": [(k,)]})
        return info
