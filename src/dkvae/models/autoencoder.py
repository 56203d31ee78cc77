"""The seed's deterministic autoencoder: input -> latent code -> input, optionally conditioned on the drum class.

Architectures (``ModelConfig.architecture``): ``conv`` and ``seed`` use the VAE's conv encoder and
decoder on spectrograms ``(batch, freq, time)``; ``dense`` is an MLP on flattened inputs, where
feature vectors (the seed's "tabular data") enter as ``(batch, features, 1)`` with
``input_shape = (features, 1)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from .blocks import ClassConditioning, check_input_shape, encoder_decoder, seed_l2_penalty
from .vae import ModelOutput, reconstruction_error


class Autoencoder(nn.Module):
    """A (conditional) autoencoder over ``(batch, freq, time)`` inputs in [0, 1]."""

    def __init__(self, config: ModelConfig, input_shape: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        self.config = config
        self.input_shape = tuple(input_shape)
        #: True when encode and decode take the class labels.
        self.conditional = config.conditional and num_classes > 1
        self.conditioning = ClassConditioning(num_classes, config.class_embedding_dim, self.conditional)
        self.encoder, self.decoder = encoder_decoder(config, self.input_shape)
        self.to_latent = nn.Linear(self.encoder.num_features + self.conditioning.output_dim, config.latent_dim)
        self.from_latent = nn.Linear(config.latent_dim + self.conditioning.output_dim, self.decoder.num_features)

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The code ``z (batch, latent_dim)`` of ``x (batch, freq, time)``."""
        check_input_shape(x, self.input_shape)
        return self.to_latent(self.conditioning(self.encoder(x), labels))

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Outputs ``(batch, freq, time)`` from codes ``(batch, latent_dim)``."""
        return self.decoder(self.from_latent(self.conditioning(z, labels)))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> ModelOutput:
        """Encode and decode: ``x (batch, freq, time)``, ``labels (batch,)`` -> `ModelOutput` with ``mean = z`` and no logvar."""
        z = self.encode(x, labels)
        return ModelOutput(self.decode(z, labels), z, None, z)

    def loss(self, x: Tensor, output: ModelOutput, beta: float = 0.0) -> dict[str, Tensor]:
        """``loss = reconstruction`` (+ ``l2`` for the seed architecture); scalars.

        ``kl`` is 0 and `beta` is unused; both are there so a trainer can treat this model like the VAE.
        """
        reconstruction = reconstruction_error(x, output.reconstruction, self.config.onset_frames, self.config.onset_weight)
        losses = {"loss": reconstruction, "reconstruction": reconstruction, "kl": torch.zeros((), device=x.device)}
        if self.config.architecture == "seed":
            losses["l2"] = seed_l2_penalty(self.encoder)
            losses["loss"] = reconstruction + losses["l2"]
        return losses
