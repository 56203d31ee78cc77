"""The time-local autoencoder: spectrogram -> a short Gaussian latent sequence -> spectrogram.

Where the VAE squeezes a whole sound into one vector, this codec keeps a time axis: the encoder
reads the spectrogram's frequency bins as channels of a 1-D convolution over frames, halves the
frame rate ``log2(codec_downsample)`` times, and gives each latent frame ``latent_channels`` numbers
(at 44.1 kHz and hop 256, a latent frame every 23 ms for a downsample of 4). Every layer sees only a
few neighbouring frames, so what it learns about an attack or a decay holds wherever that happens,
in sounds of any length, in kits it has never met. The decoder mirrors the encoder. It is not
conditioned on the class: the latent carries the whole sound, and the class is the prior's business
(`dkvae.models.flow_prior`).

The loss weighs what ears hear: L1 on the log spectrogram with the first frames weighted more
(`ModelConfig.onset_weight`), L1 on the log of mel band powers at several resolutions, which
matches the power in each band rather than the typical level of its bins, and a small KL that
keeps the latents smooth and of unit scale for the prior.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dkvae.core.config import ModelConfig
from dkvae.models.vae import gaussian_kl


class CodecOutput(NamedTuple):
    """What the codec's forward pass returns."""

    #: ``(batch, freq, frames)`` in [0, 1].
    reconstruction: Tensor
    #: ``(batch, latent_channels, latent_frames)``: the posterior mean and log-variance.
    mean: Tensor
    logvar: Tensor
    #: ``(batch, latent_channels, latent_frames)``: the latent sequence the reconstruction was decoded from.
    z: Tensor


def frame_conv(inputs: int, outputs: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> nn.Conv2d:
    """A convolution over frames of ``(batch, channels, 1, frames)`` tensors.

    It is a 1-D convolution run as a 2-D one of height 1, because PyTorch's CPU kernels for 2-D
    convolutions in channels-last memory train faster than its 1-D ones.
    """
    return nn.Conv2d(inputs, outputs, (1, kernel), (1, stride), (0, padding), (1, dilation))


def frame_upsample(width: int) -> nn.ConvTranspose2d:
    """A transposed convolution that doubles the frames of ``(batch, width, 1, frames)``."""
    return nn.ConvTranspose2d(width, width, (1, 4), (1, 2), (0, 1))


class FrameNorm(nn.Module):
    """Layer normalization of each frame's channels ``(batch, channels, 1, frames)``.

    Statistics over frames (GroupNorm's) would let the end of a sound change how its start is
    encoded; per frame, every output depends only on the frames the convolutions see.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ResidualBlock(nn.Module):
    """``x + conv(gelu(norm(conv(gelu(norm(x))))))`` over frames; the second conv dilated to see further."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            FrameNorm(width),
            nn.GELU(),
            frame_conv(width, width, 3, padding=1),
            FrameNorm(width),
            nn.GELU(),
            frame_conv(width, width, 3, padding=dilation, dilation=dilation),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


def to_frames(x: Tensor) -> Tensor:
    """``(batch, channels, frames)`` as the ``(batch, channels, 1, frames)`` channels-last tensor the layers take."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def from_frames(x: Tensor) -> Tensor:
    """Inverse of `to_frames`: ``(batch, channels, frames)``, contiguous."""
    return x.squeeze(2).contiguous()


def residual_stage(width: int, blocks: int) -> list[nn.Module]:
    """`blocks` residual blocks with dilations 1, 3, 9, ... (cycling after three)."""
    return [ResidualBlock(width, 3 ** (index % 3)) for index in range(blocks)]


class TimeLocalAutoencoder(nn.Module):
    """A time-local VAE over spectrograms ``(batch, freq, frames)`` in [0, 1]; latents ``(batch, channels, frames / downsample)``."""

    def __init__(self, config: ModelConfig, input_shape: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        self.config = config
        self.input_shape = tuple(input_shape)
        self.conditional = False
        n_freq = self.input_shape[0]
        width, blocks = config.codec_width, config.codec_blocks
        self.halvings = int(math.log2(config.codec_downsample))
        encoder: list[nn.Module] = [frame_conv(n_freq, width, 3, padding=1)]
        for _ in range(self.halvings):
            encoder += [frame_conv(width, width, 4, stride=2, padding=1), *residual_stage(width, blocks)]
        encoder += [FrameNorm(width), nn.GELU(), frame_conv(width, 2 * config.latent_channels, 1)]
        self.encoder = nn.Sequential(*encoder)
        decoder: list[nn.Module] = [frame_conv(config.latent_channels, width, 3, padding=1)]
        for _ in range(self.halvings):
            decoder += [*residual_stage(width, blocks), frame_upsample(width)]
        decoder += [*residual_stage(width, 1), FrameNorm(width), nn.GELU()]
        decoder += [frame_conv(width, n_freq, 3, padding=1), nn.Sigmoid()]
        self.decoder = nn.Sequential(*decoder)

    def latent_frames(self, frames: int) -> int:
        """Latent frames of a spectrogram of `frames` frames (padded up to a whole number of latent frames)."""
        return -(-frames // self.config.codec_downsample)

    def encode(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Posterior ``(mean, logvar)``, each ``(batch, latent_channels, latent_frames)``, of ``x (batch, freq, frames)``.

        Frames past the last whole latent frame are padded with silence (0). `labels` is ignored.
        """
        if x.dim() != 3 or x.shape[1] != self.input_shape[0]:
            raise ValueError(f"this model takes inputs of shape (batch, {self.input_shape[0]}, frames); got {tuple(x.shape)}")
        padding = self.latent_frames(x.shape[-1]) * self.config.codec_downsample - x.shape[-1]
        mean, logvar = from_frames(self.encoder(to_frames(F.pad(x, (0, padding))))).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor, labels: Tensor | None = None, frames: int | None = None) -> Tensor:
        """Spectrograms ``(batch, freq, frames)`` from latents ``(batch, latent_channels, latent_frames)``.

        `frames` crops the output (default: the model's input length). `labels` is ignored.
        """
        frames = self.input_shape[1] if frames is None else frames
        return from_frames(self.decoder(to_frames(z)))[..., :frames]

    def forward(self, x: Tensor, labels: Tensor | None = None, noise: Tensor | None = None) -> CodecOutput:
        """Encode, sample ``z = mean + std * noise`` (a fresh draw when `noise` is None), decode."""
        mean, logvar = self.encode(x)
        eps = torch.randn_like(mean) if noise is None else noise
        z = mean + torch.exp(0.5 * logvar) * eps
        return CodecOutput(self.decode(z, frames=x.shape[-1]), mean, logvar, z)

    def loss(self, x: Tensor, output: CodecOutput, beta: float, banks: SpectralLoss) -> dict[str, Tensor]:
        """``loss = spectrogram + mel_weight * mel + beta * kl``; scalars (`banks` holds the mel filters)."""
        config = self.config
        losses = {
            "spectrogram": onset_weighted_l1(x, output.reconstruction, config.onset_frames, config.onset_weight),
            "mel": banks(x, output.reconstruction),
            "kl": gaussian_kl(output.mean, output.logvar).mean(),
        }
        losses["loss"] = losses["spectrogram"] + config.mel_weight * losses["mel"] + beta * losses["kl"]
        return losses


def onset_weighted_l1(x: Tensor, reconstruction: Tensor, onset_frames: int, onset_weight: float) -> Tensor:
    """Mean absolute error over ``(batch, freq, frames)`` with the first `onset_frames` frames weighted ``1 + onset_weight``
    (weights divided by their mean, so the loss keeps its scale as the weight changes)."""
    weights = torch.ones(x.shape[-1], dtype=x.dtype, device=x.device)
    weights[:onset_frames] += onset_weight
    return ((reconstruction - x).abs() * (weights / weights.mean())).mean()


class SpectralLoss(nn.Module):
    """L1 between the log mel band powers of two normalized log spectrograms, averaged over several resolutions.

    A spectrogram in [0, 1] spans `db_span` dB above its floor, so its power relative to the floor is
    ``10 ** (db_span * x / 10)``. Each resolution is a mel filterbank (`band_counts` bands), optionally
    with frames pooled by `frame_pools`; the log powers are compared in the same normalized units as
    the spectrogram (dB / `db_span`).
    """

    def __init__(self, filterbanks: list[Tensor], db_span: float, frame_pools: tuple[int, ...] = (1, 4)) -> None:
        super().__init__()
        self.db_span = db_span
        self.frame_pools = frame_pools
        for index, filters in enumerate(filterbanks):
            self.register_buffer(f"filters_{index}", filters, persistent=False)
        self.count = len(filterbanks)

    def band_power(self, x: Tensor, filters: Tensor) -> Tensor:
        """Mel band powers ``(batch, bands, frames)`` of ``x (batch, freq, frames)``, relative to the floor."""
        return filters @ torch.exp(x * (self.db_span * math.log(10.0) / 10.0))

    def forward(self, x: Tensor, reconstruction: Tensor) -> Tensor:
        terms = []
        for index in range(self.count):
            filters = getattr(self, f"filters_{index}")
            bands = [self.band_power(x, filters), self.band_power(reconstruction, filters)]
            for pool in self.frame_pools:
                pooled = [F.avg_pool1d(b, pool, ceil_mode=True) if pool > 1 else b for b in bands]
                reference, estimate = (10.0 * torch.log10(b + 1e-6) / self.db_span for b in pooled)
                terms.append((reference - estimate).abs().mean())
        return torch.stack(terms).mean()
