"""Mel filterbanks match librosa's (Slaney scale and normalization)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from dkvae.sound.mel import hz_to_mel, mel_filterbank, mel_to_hz


@pytest.mark.parametrize(("sample_rate", "n_fft", "n_mels"), [(44100, 1024, 128), (22050, 512, 64), (44100, 2048, 32)])
def test_filterbank_matches_librosa(sample_rate: int, n_fft: int, n_mels: int) -> None:
    ours = mel_filterbank(sample_rate, n_fft, n_mels)
    theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)
    assert ours.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(ours, theirs, atol=1e-7)


def test_mel_scale_round_trips_and_matches_librosa() -> None:
    frequencies = np.array([0.0, 100.0, 999.0, 1000.0, 4000.0, 22050.0])
    np.testing.assert_allclose(hz_to_mel(frequencies), librosa.hz_to_mel(frequencies), rtol=1e-9)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(frequencies)), frequencies, atol=1e-6)
