"""The variational autoencoder: spectrogram -> Gaussian latent -> spectrogram, optionally conditioned on the drum class.

Architectures (``ModelConfig.architecture``):

- ``conv``: ours. Strided conv stages (GroupNorm, LeakyReLU), flatten, linear layers to the mean and
  log-variance; the decoder is a linear layer, a reshape and transposed conv stages mirroring the
  encoder, ending in one channel and a sigmoid.
- ``seed``: the seed's VAE as closely as it runs (Keras conv -> ReLU -> BatchNorm stages, L2(1e-4)
  on the encoder's kernels); `SEED_DEVIATIONS` at the end lists every difference.
- ``dense``: an MLP on flattened inputs or feature vectors.

When ``config.conditional`` and there is more than one class, a learned class embedding is appended
to the encoder's flat features (before the mean and log-variance layers) and to ``z`` (before the
decoder's first linear layer).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from dkvae.core.config import ModelConfig
from dkvae.models.blocks import ClassConditioning, check_input_shape, encoder_decoder, seed_l2_penalty


class ModelOutput(NamedTuple):
    """What an autoencoder's forward pass returns."""

    #: ``(batch, freq, time)``, in [0, 1] with a sigmoid output.
    reconstruction: Tensor
    #: ``(batch, latent_dim)``: the posterior mean (the code itself for a plain autoencoder).
    mean: Tensor
    #: ``(batch, latent_dim)``: the posterior log-variance; None for a plain autoencoder.
    logvar: Tensor | None
    #: ``(batch, latent_dim)``: the latent vector the reconstruction was decoded from.
    z: Tensor


def reconstruction_error(x: Tensor, reconstruction: Tensor, onset_frames: int, onset_weight: float) -> Tensor:
    """Mean squared error with the first `onset_frames` time frames weighted by ``1 + onset_weight``.

    `x` and `reconstruction` are ``(batch, freq, time)``. The frame weights are divided by their mean,
    so ``onset_weight = 0`` gives plain MSE and the loss keeps its scale as the weight changes.
    """
    frame_weights = torch.ones(x.shape[-1], dtype=x.dtype, device=x.device)
    frame_weights[:onset_frames] += onset_weight
    frame_weights = frame_weights / frame_weights.mean()
    return ((reconstruction - x).square() * frame_weights).mean()


def gaussian_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per item and latent dimension: ``(batch, latent) -> (batch, latent)``."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar)


class LatentCodec(nn.Module):
    """What the VAE and the plain autoencoder share: class conditioning, the encoder and decoder
    stacks, the step from a latent code to the decoder, `decode`, and the reconstruction loss terms.
    """

    def __init__(self, config: ModelConfig, input_shape: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        self.config = config
        self.input_shape = tuple(input_shape)
        #: True when encode and decode take the class labels.
        self.conditional = config.conditional and num_classes > 1
        self.conditioning = ClassConditioning(num_classes, config.class_embedding_dim, self.conditional)
        self.encoder, self.decoder = encoder_decoder(config, self.input_shape)
        #: Width of `features`: the encoder's flat output plus the class embedding.
        self.num_features = self.encoder.num_features + self.conditioning.output_dim

    def latent_to_decoder(self) -> nn.Linear:
        """The layer from a (conditioned) latent code to the decoder's flat input."""
        return nn.Linear(self.config.latent_dim + self.conditioning.output_dim, self.decoder.num_features)

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Encoder features ``(batch, num_features)`` of ``x (batch, freq, time)``, class embedding appended."""
        check_input_shape(x, self.input_shape)
        return self.conditioning(self.encoder(x), labels)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Spectrograms ``(batch, freq, time)`` from latents ``(batch, latent_dim)``.

        Deterministic: decode the posterior mean (or the code) to reconstruct without sampling noise.
        """
        return self.decoder(self.from_latent(self.conditioning(z, labels)))

    def reconstruction_losses(self, x: Tensor, reconstruction: Tensor) -> dict[str, Tensor]:
        """The onset-weighted ``reconstruction`` error, and ``l2`` on the encoder's kernels for the seed architecture."""
        config = self.config
        losses = {"reconstruction": reconstruction_error(x, reconstruction, config.onset_frames, config.onset_weight)}
        if config.architecture == "seed":
            losses["l2"] = seed_l2_penalty(self.encoder)
        return losses


class VariationalAutoencoder(LatentCodec):
    """A (conditional) VAE over spectrograms ``(batch, freq, time)`` in [0, 1]."""

    def __init__(self, config: ModelConfig, input_shape: tuple[int, int], num_classes: int) -> None:
        super().__init__(config, input_shape, num_classes)
        self.to_mean = nn.Linear(self.num_features, config.latent_dim)
        self.to_logvar = nn.Linear(self.num_features, config.latent_dim)
        self.from_latent = self.latent_to_decoder()

    def encode(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Posterior parameters ``(mean, logvar)``, each ``(batch, latent_dim)``, of ``x (batch, freq, time)``."""
        features = self.features(x, labels)
        return self.to_mean(features), self.to_logvar(features)

    def reparameterize(self, mean: Tensor, logvar: Tensor, noise: Tensor | None = None) -> Tensor:
        """A sample ``z = mean + exp(logvar / 2) * eps`` ``(batch, latent_dim)``; it samples in eval mode too.

        ``eps`` is `noise` when given (``(batch, latent_dim)``, standard normal), else a fresh draw.
        """
        eps = torch.randn_like(mean) if noise is None else noise
        return mean + torch.exp(0.5 * logvar) * eps

    def forward(self, x: Tensor, labels: Tensor | None = None, noise: Tensor | None = None) -> ModelOutput:
        """Encode, sample z (with `noise` as ``eps`` when given), decode: ``x (batch, freq, time)``,
        ``labels (batch,)`` -> `ModelOutput`."""
        mean, logvar = self.encode(x, labels)
        z = self.reparameterize(mean, logvar, noise)
        return ModelOutput(self.decode(z, labels), mean, logvar, z)

    def loss(self, x: Tensor, output: ModelOutput, beta: float) -> dict[str, Tensor]:
        """``loss = reconstruction + beta * kl`` (+ ``l2`` for the seed architecture); scalars.

        ``reconstruction`` is the onset-weighted MSE; ``kl`` is summed over latent dimensions and averaged over the batch.
        """
        assert output.logvar is not None
        losses = self.reconstruction_losses(x, output.reconstruction)
        losses["kl"] = gaussian_kl(output.mean, output.logvar).sum(dim=1).mean()
        losses["loss"] = losses["reconstruction"] + beta * losses["kl"]
        if "l2" in losses:
            losses["loss"] = losses["loss"] + losses["l2"]
        return losses

    def kl_per_dimension(self, mean: Tensor, logvar: Tensor) -> Tensor:
        """KL of each latent dimension averaged over the batch, ``(latent_dim,)``; near 0 means the dimension is unused."""
        return gaussian_kl(mean, logvar).mean(dim=0)


# ----------------------------------------------------------------------------- the seed

#: Every way the ``seed`` architecture differs from the seed's Keras VAE (one line each; docs/results.md quotes them).
SEED_DEVIATIONS: tuple[str, ...] = (
    "Decoder transposed convs have 64, 128, 256 filters (the encoder's, mirrored) instead of the seed's 1 filter each, which was a bug.",
    "Input is 257 x 64 (the Nyquist bin kept), zero-padded to 272 x 64 for the strides and cropped back; the seed dropped the Nyquist bin (256 x 64).",
    "PyTorch layout is channels-first, so the flattened features are ordered (channel, freq, time) instead of (freq, time, channel).",
    "Convs and transposed convs pad symmetrically (PyTorch) where TensorFlow's 'same' puts the odd row and column at the end; sizes match, the sampling grid shifts by one bin.",
    "Encoder convs and dense layers use PyTorch's default initialisation instead of Keras's Glorot-uniform with zero biases; the decoder's RandomNormal(0.01) is kept.",
    "L2(1e-4) is added to the loss as the term 'l2' on the encoder's conv kernels, as Keras adds kernel regularizers, rather than as optimizer weight decay.",
)
