"""What a drummer hears in a sound, measured: how long it rings, its pitch, how noisy it is.

These decide which generated sound goes on which pad (closed against open hat, low against high tom).
"""

from __future__ import annotations

import numpy as np

from dkvae.sound.audio import rms_envelope

#: Envelope frames for the decay measurement (seconds).
ENVELOPE_SECONDS = 0.005
#: A sound has decayed when its envelope is this far below its peak (dB).
DECAY_DROP_DB = 30.0
#: The pitch of a drum is the strongest frequency in this range (Hz) over the first `PITCH_SECONDS`.
PITCH_RANGE_HZ = (30.0, 2000.0)
PITCH_SECONDS = 0.25


def decay_seconds(audio: np.ndarray, sample_rate: int, drop_db: float = DECAY_DROP_DB) -> float:
    """Seconds from the envelope's peak until it stays `drop_db` below it (0 for silence)."""
    frame = max(1, round(ENVELOPE_SECONDS * sample_rate))
    envelope = rms_envelope(audio, sample_rate, ENVELOPE_SECONDS)
    if len(envelope) == 0:
        return 0.0
    peak_index = int(np.argmax(envelope))
    if envelope[peak_index] <= 0:
        return 0.0
    loud = np.flatnonzero(envelope >= envelope[peak_index] * 10.0 ** (-drop_db / 20.0))
    return float((loud[-1] + 1 - peak_index) * frame / sample_rate)


def _spectrum(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectrum of the first `PITCH_SECONDS` from the peak, Hann-windowed, and its frequencies."""
    start = int(np.argmax(np.abs(audio))) if len(audio) else 0
    segment = audio[start : start + round(PITCH_SECONDS * sample_rate)].astype(np.float64)
    if len(segment) < 2:
        return np.zeros(1), np.zeros(1)
    size = 1 << int(np.ceil(np.log2(max(len(segment), 4096))))
    magnitude = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=size))
    return magnitude, np.fft.rfftfreq(size, 1.0 / sample_rate)


def pitch_hz(audio: np.ndarray, sample_rate: int) -> float:
    """The strongest frequency between `PITCH_RANGE_HZ` near the attack: a drum's perceived pitch (0 for silence)."""
    magnitude, frequencies = _spectrum(audio, sample_rate)
    band = (frequencies >= PITCH_RANGE_HZ[0]) & (frequencies <= PITCH_RANGE_HZ[1])
    if not band.any() or magnitude[band].max() <= 0:
        return 0.0
    return float(frequencies[band][np.argmax(magnitude[band])])


def noisiness(audio: np.ndarray, sample_rate: int) -> float:
    """Spectral flatness (0 pure tone .. 1 white noise) near the attack: a crash is noisier than a ride's ping."""
    magnitude, _ = _spectrum(audio, sample_rate)
    power = np.square(magnitude[1:]) + 1e-20
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))
