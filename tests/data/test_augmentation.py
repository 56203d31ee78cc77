"""Tests for the training augmentations: gain and delay within bounds, and pitch shifts checked against soxr."""

from __future__ import annotations

import numpy as np
import pytest
import soxr
import torch

from dkvae.core.config import AudioConfig, get_preset
from dkvae.data.augmentation import (
    AUGMENT_GAIN_DB,
    AUGMENT_SHIFT_FRAMES,
    augment_spectrogram,
    random_pitch,
    shift_pitch,
)


def test_augmentation_shifts_gain_and_delays_within_bounds() -> None:
    audio = AudioConfig()
    spectrogram = torch.full((5, 20), 0.5)
    spectrogram[:, 0] = 0.9
    torch.manual_seed(0)
    largest_gain = AUGMENT_GAIN_DB / (audio.max_db - audio.min_db)
    delays = set()
    for _ in range(50):
        out = augment_spectrogram(spectrogram, audio)
        assert out.shape == spectrogram.shape and 0 <= float(out.min()) and float(out.max()) <= 1
        delay = int(torch.argmax(out[0]))
        delays.add(delay)
        assert not out[:, :delay].any()
        assert abs(float(out[0, delay]) - 0.9) <= largest_gain + 1e-6
    assert delays == set(range(AUGMENT_SHIFT_FRAMES + 1))


def partial(bins: int = 101, frames: int = 40, at: int = 30) -> torch.Tensor:
    """A spectrogram with one partial at bin `at` that fades linearly from 1 to 0 over the frames."""
    spectrogram = torch.zeros(bins, frames)
    spectrogram[at] = torch.linspace(1.0, 0.0, frames)
    return spectrogram


def test_no_shift_leaves_the_spectrogram_as_it_is() -> None:
    spectrogram = torch.rand(65, 33, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(shift_pitch(spectrogram, 0.0), spectrogram, atol=1e-5, rtol=0)


def test_an_octave_up_doubles_the_partials_frequency_and_halves_its_length() -> None:
    shifted = shift_pitch(partial(at=30), 12.0)
    assert torch.equal(shifted.argmax(dim=0)[:19], torch.full((19,), 60))
    fade = torch.linspace(1.0, 0.0, 40)
    torch.testing.assert_close(shifted[60, :20], fade[::2], atol=1e-5, rtol=0)
    whole = shift_pitch(torch.ones(101, 40), 12.0)
    assert bool((whole[:, :20] > 0.999).all()) and not whole[:, 20:].any(), "played twice as fast, it ends halfway"


def test_an_octave_down_halves_the_frequency_and_leaves_the_top_silent() -> None:
    shifted = shift_pitch(partial(at=30), -12.0)
    assert torch.equal(shifted[:, :39].argmax(dim=0), torch.full((39,), 15))
    torch.testing.assert_close(shifted[15, 2], torch.tensor(1.0 - 1.0 / 39.0), atol=1e-5, rtol=0)
    whole = shift_pitch(torch.ones(101, 40), -12.0)
    assert bool((whole[:51] > 0.999).all()) and not whole[51:].any(), "nothing above where the top bin went"


@pytest.mark.parametrize("semitones", [-3.0, -1.0, 1.0, 3.0])
def test_a_shift_matches_the_sound_resampled_by_soxr(semitones: float) -> None:
    """The shifted spectrogram of a drum-like sound is close to the spectrogram of that sound played at the new
    rate (resampled by soxr), and far closer than the unshifted one."""
    from dkvae.sound.audio import prepare_sound

    audio = get_preset("default").audio
    rate = 2.0 ** (semitones / 12.0)
    time = np.arange(audio.num_samples) / audio.sample_rate
    noise = np.random.default_rng(0).standard_normal(audio.num_samples)
    sound = np.exp(-time / 0.12) * np.sin(2 * np.pi * 180.0 * time) + 0.3 * np.exp(-time / 0.03) * noise
    played = soxr.resample(sound, audio.sample_rate, audio.sample_rate / rate)
    played = np.pad(played, (0, max(0, audio.num_samples - len(played))))[: audio.num_samples]
    original = torch.from_numpy(prepare_sound(sound.astype(np.float32), audio.sample_rate, audio)).float()
    truth = torch.from_numpy(prepare_sound(played.astype(np.float32), audio.sample_rate, audio)).float()
    error = float((shift_pitch(original, semitones) - truth).abs().mean())
    unshifted = float((original - truth).abs().mean())
    assert error < 0.01 and error < unshifted / 2


def test_random_pitch_stays_within_its_range_and_varies() -> None:
    torch.manual_seed(0)
    places = {int(random_pitch(partial(at=60), 2.0)[:, 0].argmax()) for _ in range(40)}
    lowest, highest = 60 * 2.0 ** (-2.0 / 12.0), 60 * 2.0 ** (2.0 / 12.0)
    assert all(np.floor(lowest) <= place <= np.ceil(highest) for place in places)
    assert len(places) >= 5
