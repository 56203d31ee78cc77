"""The conditional GAN: a generator (noise + class -> spectrogram) and a class-conditional discriminator.

The generator is the VAE's decoder body (a linear layer, a reshape, transposed conv stages) fed
with noise and a class embedding, so both models make the same spectrograms. The discriminator is
a strided conv stack with spectral normalization and a projection head (Miyato & Koyama 2018):
``score = w · h + embed(class) · h`` for features ``h``, which makes the class matter in every
decision; without projection the embedding is appended to ``h`` as a plain conditional GAN does.
`ConditionalGAN` holds both and the generator's weight average (EMA), which is what generates.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from dkvae.core.config import AdversarialConfig, ModelConfig
from dkvae.models.blocks import LEAKY_RELU_SLOPE, ClassConditioning, check_input_shape, encoder_decoder, pad_to_stride


class Generator(nn.Module):
    """Noise ``(batch, latent_dim)`` and classes -> spectrograms ``(batch, freq, time)``, like a VAE's decoder."""

    def __init__(self, config: ModelConfig, input_shape: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        self.conditional = config.conditional and num_classes > 1
        self.conditioning = ClassConditioning(num_classes, config.class_embedding_dim, self.conditional)
        _, self.decoder = encoder_decoder(config, input_shape)
        self.from_latent = nn.Linear(config.latent_dim + self.conditioning.output_dim, self.decoder.num_features)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Labels are class indices ``(batch,)`` or class weights ``(batch, classes)``."""
        return self.decoder(self.from_latent(self.conditioning(z, labels)))


class Discriminator(nn.Module):
    """Spectrograms ``(batch, freq, time)`` and class indices ``(batch,)`` -> realness scores ``(batch,)`` (logits)."""

    def __init__(self, config: AdversarialConfig, input_shape: tuple[int, int], num_classes: int, conditional: bool) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.strides = ((2, 2),) * len(config.discriminator_channels)
        norm = spectral_norm if config.spectral_norm else (lambda module: module)
        stages: list[nn.Module] = []
        width = 1
        for channels in config.discriminator_channels:
            stages += [norm(nn.Conv2d(width, channels, 3, stride=2, padding=1)), nn.LeakyReLU(LEAKY_RELU_SLOPE)]
            width = channels
        self.stages = nn.Sequential(*stages)
        with torch.no_grad():
            flat = self.stages(pad_to_stride(torch.zeros(1, *self.input_shape), self.strides).unsqueeze(1)).numel()
        hidden = config.discriminator_hidden
        self.conditional = conditional and num_classes > 1
        self.projection = config.projection and self.conditional
        self.to_hidden = nn.Sequential(norm(nn.Linear(flat, hidden)), nn.LeakyReLU(LEAKY_RELU_SLOPE))
        self.embedding = norm(nn.Embedding(num_classes, hidden)) if self.conditional else None
        appended = hidden if self.conditional and not self.projection else 0
        self.head = norm(nn.Linear(hidden + appended, 1))

    def features(self, x: Tensor) -> list[Tensor]:
        """The activations of every conv stage and of the hidden layer, for feature matching."""
        check_input_shape(x, self.input_shape)
        activations = []
        h = pad_to_stride(x, self.strides).unsqueeze(1)
        for layer in self.stages:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                activations.append(h)
        activations.append(self.to_hidden(h.flatten(1)))
        return activations

    def score(self, hidden: Tensor, labels: Tensor | None) -> Tensor:
        """Realness logits ``(batch,)`` from the hidden features ``(batch, hidden)``."""
        if self.embedding is None:
            return self.head(hidden).squeeze(1)
        if labels is None:
            raise ValueError("this discriminator is conditional on the drum class: pass labels")
        embedded = self.embedding(labels)
        if self.projection:
            return self.head(hidden).squeeze(1) + (embedded * hidden).sum(dim=1)
        return self.head(torch.cat([hidden, embedded], dim=1)).squeeze(1)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.score(self.features(x)[-1], labels)


class ConditionalGAN(nn.Module):
    """Generator, discriminator and the generator's exponential moving average (the one that generates)."""

    def __init__(
        self,
        config: ModelConfig,
        input_shape: tuple[int, int],
        num_classes: int,
        adversarial: AdversarialConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.input_shape = tuple(input_shape)
        self.generator = Generator(config, self.input_shape, num_classes)
        self.conditional = self.generator.conditional
        adversarial = adversarial or AdversarialConfig()
        self.discriminator = Discriminator(adversarial, self.input_shape, num_classes, self.conditional)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        """Move the average toward the generator's weights (``decay = 0`` copies them)."""
        for average, current in zip(self.generator_ema.parameters(), self.generator.parameters()):
            average.lerp_(current, 1.0 - decay)
        for average, current in zip(self.generator_ema.buffers(), self.generator.buffers()):
            average.copy_(current)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Spectrograms ``(batch, freq, time)`` from noise ``(batch, latent_dim)`` by the averaged generator."""
        return self.generator_ema(z, labels)
