"""The time-local autoencoder: a latent sequence that keeps time, any length in, and a loss that trains."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dkvae.core.config import ModelConfig
from dkvae.models import build_model
from dkvae.models.codec import SpectralLoss, TimeLocalAutoencoder
from dkvae.sound.mel import mel_filterbank

SMALL = ModelConfig(kind="codec", latent_channels=4, codec_width=16, codec_blocks=1, mel_bands=(8,))


def spectral_loss(config: ModelConfig = SMALL, n_fft: int = 64, sample_rate: int = 8000) -> SpectralLoss:
    return SpectralLoss([torch.from_numpy(mel_filterbank(sample_rate, n_fft, b)) for b in config.mel_bands], 120.0)


def test_latent_keeps_a_time_axis_at_the_downsampled_rate() -> None:
    model = build_model(SMALL, (33, 40), num_classes=3)
    assert isinstance(model, TimeLocalAutoencoder)
    out = model(torch.rand(2, 33, 40))
    assert out.z.shape == (2, 4, 10) and out.mean.shape == out.logvar.shape == (2, 4, 10)
    assert out.reconstruction.shape == (2, 33, 40)
    assert float(out.reconstruction.min()) >= 0 and float(out.reconstruction.max()) <= 1


def test_lengths_that_do_not_divide_are_padded_and_cropped() -> None:
    model = build_model(SMALL, (33, 40), num_classes=1)
    mean, _ = model.encode(torch.rand(1, 33, 21))
    assert mean.shape == (1, 4, 6)
    assert model.decode(mean, frames=21).shape == (1, 33, 21)


def test_a_change_late_in_a_sound_leaves_its_early_latent_frames_alone() -> None:
    model = build_model(SMALL, (33, 64), num_classes=1).eval()
    x = torch.rand(1, 33, 64)
    changed = x.clone()
    changed[..., 56:] = 0.0
    with torch.no_grad():
        before, after = model.encode(x)[0], model.encode(changed)[0]
    torch.testing.assert_close(before[..., :8], after[..., :8])
    assert not torch.allclose(before[..., -1], after[..., -1])


def test_a_few_steps_lower_every_loss_term_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(SMALL, onset_weight=2.0), (33, 40), num_classes=1)
    banks = spectral_loss()
    # Learnable sounds: a spectral shape per sound, decaying at its own rate.
    shapes, rates = torch.rand(8, 33, 1), torch.rand(8, 1, 1) * 0.2
    x = shapes * torch.exp(-rates * torch.arange(40.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        losses = model.loss(x, model(x, noise=torch.zeros(8, 4, 10)), beta=1e-4, banks=banks)
        first = first or {k: float(v) for k, v in losses.items()}
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    assert float(losses["spectrogram"]) < 0.7 * first["spectrogram"]
    assert float(losses["mel"]) < 0.7 * first["mel"]


def test_the_mel_loss_compares_band_power_not_the_mean_level_of_bins() -> None:
    banks = spectral_loss()
    flat = torch.full((1, 33, 4), 0.5)
    # Half the bins 12 dB up and half 12 dB down: the same mean level, more power.
    uneven = flat.clone()
    uneven[:, ::2] += 12 / 120
    uneven[:, 1::2] -= 12 / 120
    assert float(banks(flat, uneven)) > 3 / 120
    assert float(banks(flat, flat)) == pytest.approx(0.0)


def test_config_refuses_a_downsample_that_is_not_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of two"):
        ModelConfig(kind="codec", codec_downsample=3)


@pytest.mark.parametrize(
    "field", [{"codec_downsample": 2**60}, {"latent_channels": 0}, {"codec_width": 10**6}, {"codec_blocks": 99}, {"mel_bands": (0,)}]
)
def test_config_bounds_every_size_of_the_codec(field) -> None:
    with pytest.raises(ValueError, match="must be a whole number from"):
        ModelConfig(kind="codec", **field)
