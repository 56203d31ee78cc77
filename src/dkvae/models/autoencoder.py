"""The seed's deterministic autoencoder: input -> latent code -> input, optionally conditioned on the drum class.

Architectures (``ModelConfig.architecture``): ``conv`` and ``seed`` use the VAE's conv encoder and
decoder on spectrograms ``(batch, freq, time)``; ``dense`` is an MLP on flattened inputs, where
feature vectors (the seed's "tabular data") enter as ``(batch, features, 1)`` with
``input_shape = (features, 1)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dkvae.core.config import ModelConfig
from dkvae.models.vae import LatentCodec, ModelOutput


class Autoencoder(LatentCodec):
    """A (conditional) autoencoder over ``(batch, freq, time)`` inputs in [0, 1]."""

    def __init__(self, config: ModelConfig, input_shape: tuple[int, int], num_classes: int) -> None:
        super().__init__(config, input_shape, num_classes)
        self.to_latent = nn.Linear(self.num_features, config.latent_dim)
        self.from_latent = self.latent_to_decoder()

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The code ``z (batch, latent_dim)`` of ``x (batch, freq, time)``."""
        return self.to_latent(self.features(x, labels))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> ModelOutput:
        """Encode and decode: ``x (batch, freq, time)``, ``labels (batch,)`` -> `ModelOutput` with ``mean = z`` and no logvar."""
        z = self.encode(x, labels)
        return ModelOutput(self.decode(z, labels), z, None, z)

    def loss(self, x: Tensor, output: ModelOutput, beta: float = 0.0) -> dict[str, Tensor]:
        """``loss = reconstruction`` (+ ``l2`` for the seed architecture); scalars.

        ``kl`` is 0 and `beta` is unused; both are there so a trainer can treat this model like the VAE.
        """
        losses = self.reconstruction_losses(x, output.reconstruction)
        losses["kl"] = torch.zeros((), device=x.device)
        losses["loss"] = losses["reconstruction"]
        if "l2" in losses:
            losses["loss"] = losses["loss"] + losses["l2"]
        return losses
