"""Mel filterbanks (Slaney's scale and area normalization, as librosa's default) for losses and measures on spectrograms."""

from __future__ import annotations

import numpy as np

#: Below this frequency (Hz) Slaney's mel scale is linear, above it logarithmic.
_LINEAR_LIMIT_HZ = 1000.0
_HZ_PER_MEL = 200.0 / 3.0
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(frequency: np.ndarray | float) -> np.ndarray:
    """Slaney's mel value of `frequency` (Hz): linear up to 1 kHz, logarithmic above."""
    frequency = np.asarray(frequency, dtype=np.float64)
    linear = frequency / _HZ_PER_MEL
    limit = _LINEAR_LIMIT_HZ / _HZ_PER_MEL
    logarithmic = limit + np.log(np.maximum(frequency, 1e-12) / _LINEAR_LIMIT_HZ) / _LOG_STEP
    return np.where(frequency >= _LINEAR_LIMIT_HZ, logarithmic, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    limit = _LINEAR_LIMIT_HZ / _HZ_PER_MEL
    return np.where(mel >= limit, _LINEAR_LIMIT_HZ * np.exp(_LOG_STEP * (mel - limit)), _HZ_PER_MEL * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, max_hz: float | None = None) -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` from 0 Hz to `max_hz` (default Nyquist), each of unit area in mel.

    Matches ``librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)`` (htk=False, norm="slaney").
    Multiply a power spectrogram ``(n_fft // 2 + 1, frames)`` by it to get mel band powers.
    """
    max_hz = sample_rate / 2.0 if max_hz is None else max_hz
    bin_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(max_hz), n_mels + 2))
    widths = np.diff(edges_hz)
    offsets = edges_hz[:, None] - bin_hz[None, :]
    lower = -offsets[:-2] / widths[:-1, None]
    upper = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges_hz[2 : n_mels + 2] - edges_hz[:n_mels]))[:, None]
    return weights.astype(np.float32)
