from __future__ import annotations

import librosa
import numpy as np
import pytest

from dkvae.kits.measure import decay_seconds, noisiness, pitch_hz

RATE = 44100


def hit(frequency: float, decay: float, noise: float = 0.0, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A sine (plus noise) with an exponential decay of time constant `decay` seconds."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = np.sin(2 * np.pi * frequency * t) + noise * np.random.default_rng(seed).standard_normal(t.size)
    return (tone * np.exp(-t / decay)).astype(np.float32)


@pytest.mark.parametrize("decay", [0.02, 0.1, 0.4])
def test_decay_is_the_time_to_fall_30_db_of_an_exponential(decay) -> None:
    expected = decay * 30 / (20 * np.log10(np.e))
    assert decay_seconds(hit(300.0, decay), RATE) == pytest.approx(expected, rel=0.08, abs=0.006)


def test_decay_of_silence_and_of_a_click_is_zero_or_tiny() -> None:
    assert decay_seconds(np.zeros(RATE, np.float32), RATE) == 0.0
    click = np.zeros(RATE, np.float32)
    click[100] = 1.0
    assert decay_seconds(click, RATE) <= 0.006


@pytest.mark.parametrize("frequency", [55.0, 110.0, 196.0, 440.0])
def test_pitch_finds_a_drums_fundamental_like_librosas_pyin(frequency) -> None:
    audio = hit(frequency, 0.3)
    assert pitch_hz(audio, RATE) == pytest.approx(frequency, rel=0.03)
    f0, _, _ = librosa.pyin(audio[: RATE // 4], fmin=40, fmax=800, sr=RATE, frame_length=4096)
    assert pitch_hz(audio, RATE) == pytest.approx(np.nanmedian(f0), rel=0.03)


def test_noisiness_orders_a_tone_below_noise_and_matches_librosas_flatness() -> None:
    tone, noisy = hit(400.0, 0.3), hit(400.0, 0.3, noise=3.0)
    assert noisiness(tone, RATE) < 0.05
    assert noisiness(noisy, RATE) > 0.3
    white = np.random.default_rng(1).standard_normal(RATE // 4).astype(np.float32)
    flatness = librosa.feature.spectral_flatness(y=white, n_fft=4096).mean()
    assert noisiness(white, RATE) == pytest.approx(flatness, abs=0.15)
