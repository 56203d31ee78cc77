"""Class character and tail figures as pure functions on audio: band shares, slaps, partials, jingles, pitch drop, tails.

Every function takes audio ``(n, samples)`` (or one sound ``(samples,)``) at `sample_rate` Hz, sounds starting
at their onset as `dkvae.sound.audio.load_sound` and `DrumMachine.generate` give them, and returns one value
per sound ``(n,)`` float64; a silent sound reads NaN (a count, 0). Levels are relative: gain does not matter.
Which figures describe which class is in `CLASS_FIGURES`; `class_figures` computes them by name.

>>> audio = machine.generate("snare", n=8, seed=0)  # doctest: +SKIP
>>> band_energy_share(audio, machine.sample_rate, 150.0, 250.0)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks, welch

from dkvae.sound.audio import rms_envelope

#: Levels in dB are floored here (relative to the sound's loudest window), so digital silence reads a number.
LEVEL_FLOOR_DB = -120.0
#: Tail envelopes: RMS over consecutive windows of this length (seconds).
TAIL_WINDOW_SECONDS = 0.010
#: The level (dB under the loudest window) a sound has rung out at (`ring_seconds`).
RING_THRESHOLD_DB = -60.0
#: Second hits: how far (dB) a sound first falls under its loudest window before a rise counts, and how far
#: (dB) the envelope must rise above its lowest level since then to be a second hit (`second_hit_db`).
SECOND_HIT_FALL_DB, SECOND_HIT_RISE_DB = 30.0, 20.0

#: Snare head tone: the band (Hz) and the stretch of the sound (seconds from its start) it is read in.
HEAD_TONE_HZ, HEAD_TONE_SECONDS = (150.0, 250.0), 0.100
#: A kick's low end: band (Hz) and stretch (seconds).
LOW_HZ, LOW_SECONDS = (20.0, 150.0), 0.200
#: A tom's body: band (Hz) and stretch (seconds).
BODY_HZ, BODY_SECONDS = (60.0, 400.0), 0.200
#: Hi-hat, cymbal and snare-wire sizzle: from this frequency (Hz) to Nyquist, over this stretch (seconds).
HIGH_FROM_HZ, HIGH_SECONDS = 5000.0, 0.100

#: Clap slaps: the stretch searched (seconds) and the power envelope's moving-average length (seconds).
SLAP_SECONDS, SLAP_SMOOTHING_SECONDS = 0.100, 0.002
#: How far (dB) a slap's peak must stand above the dips beside it, the least time between peaks (seconds), and
#: how far under the envelope's maximum (dB) a peak may lie and still count. The prominence is set so that the
#: slaps of drum-machine claps (TR-808, TR-909) count and a decoder's frame-rate flutter does not.
SLAP_PROMINENCE_DB, SLAP_GAP_SECONDS, SLAP_RANGE_DB = 10.0, 0.005, 30.0

#: Partials: the stretch read (seconds), the averaged spectrum's frame and hop (samples at 44.1 kHz, scaled
#: with the sample rate), the band searched (Hz), how far (dB) a peak must stand over the lowest point within
#: `PARTIAL_NEIGHBOURHOOD_HZ` either side, and how far under the band's strongest bin (dB) it may lie.
PARTIAL_SECONDS = 0.200
PARTIAL_FFT, PARTIAL_HOP = 2048, 512
PARTIAL_HZ = (100.0, 12000.0)
PARTIAL_PROMINENCE_DB, PARTIAL_NEIGHBOURHOOD_HZ, PARTIAL_RANGE_DB = 12.0, 200.0, 40.0
#: Half-width (bins) of a Blackman-Harris window's main lobe: the bins around a peak that belong to its partial.
PARTIAL_LOBE_BINS = 4

#: Jingles: the band (Hz), where the stretch read starts and how long it is (seconds), the envelope's frame
#: (seconds), the moving average that is the envelope's trend (seconds), and the range (dB under the band
#: envelope's maximum) of frames that count.
JINGLE_HZ = (4000.0, 12000.0)
JINGLE_START_SECONDS, JINGLE_SECONDS = 0.020, 0.300
JINGLE_FRAME_SECONDS, JINGLE_TREND_SECONDS, JINGLE_RANGE_DB = 0.002, 0.040, 40.0

#: Pitch drop: the early and late stretches (seconds from the start), and the band (Hz) the pitch is sought in.
PITCH_EARLY_SECONDS, PITCH_LATE_SECONDS = (0.0, 0.040), (0.060, 0.200)
PITCH_HZ = (30.0, 400.0)
#: FFT size the windowed stretch is zero-padded to when its strongest frequency is read (0.67 Hz bins at 44.1 kHz).
PITCH_FFT = 65536


# ----------------------------------------------------------------------------- helpers


def _batch(audio: np.ndarray) -> np.ndarray:
    """Audio as float64 ``(n, samples)``; one sound ``(samples,)`` becomes ``(1, samples)``."""
    batch = np.asarray(audio, np.float64)
    if batch.ndim not in (1, 2):
        raise ValueError(f"audio must be (samples,) or (n, samples), not {batch.shape}")
    return np.atleast_2d(batch)


def _stretch(batch: np.ndarray, sample_rate: int, start_seconds: float, seconds: float, least: int = 1) -> np.ndarray:
    """Samples ``[start, start + seconds)`` of each sound ``(n, length)``, zero-padded past the end and to `least`."""
    start = round(start_seconds * sample_rate)
    length = max(round(seconds * sample_rate), least)
    out = np.zeros((len(batch), length))
    part = batch[:, start : start + length]
    out[:, : part.shape[1]] = part
    return out


def _sounding_envelopes(
    batch: np.ndarray, sample_rate: int, window_seconds: float
) -> Iterator[tuple[int, np.ndarray, float]]:
    """``(row, envelope, loudest window)`` of each sound of `batch` that is not silent: its RMS over consecutive
    `window_seconds` windows, and their largest."""
    for row, sound in enumerate(batch):
        envelope = rms_envelope(sound, sample_rate, window_seconds)
        loudest = float(envelope.max(initial=0.0))
        if loudest > 0:
            yield row, envelope, loudest


def _db(power: np.ndarray) -> np.ndarray:
    """Power in dB, with zero at 10^-30 (-300 dB) so logarithms stay finite."""
    return 10.0 * np.log10(np.maximum(power, 1e-30))


# ----------------------------------------------------------------------------- spectral balance


def band_energy_share(
    audio: np.ndarray,
    sample_rate: int,
    low_hz: float,
    high_hz: float | None = None,
    seconds: float = HEAD_TONE_SECONDS,
    start_seconds: float = 0.0,
) -> np.ndarray:
    """Share of each sound's energy in ``[start_seconds, start_seconds + seconds)`` that lies in ``[low_hz, high_hz)``.

    The share (0 to 1) of the stretch's power spectrum (its DFT with no window, so the attack keeps its
    weight; the shares of all bands sum to 1) between `low_hz` and `high_hz` (default: Nyquist) Hz.
    A snare's drum-head tone is its share in 150-250 Hz of the first 100 ms; white noise holds
    ``(high_hz - low_hz) / (sample_rate / 2)`` of it.

    Parameters: audio ``(n, samples)``; `sample_rate` in Hz; band edges in Hz; times in seconds.
    Returns ``(n,)``.

    >>> t = np.arange(4410) / 44100
    >>> float(band_energy_share(np.sin(2 * np.pi * 200 * t), 44100, 150.0, 250.0)[0]) > 0.99
    True
    """
    stretch = _stretch(_batch(audio), sample_rate, start_seconds, seconds)
    power = np.abs(np.fft.rfft(stretch, axis=1)) ** 2
    power[:, 1 : (stretch.shape[1] + 1) // 2] *= 2.0  # one-sided: every bin but DC (and Nyquist) stands for two
    frequencies = np.fft.rfftfreq(stretch.shape[1], 1.0 / sample_rate)
    high = sample_rate / 2.0 + 1.0 if high_hz is None else high_hz
    in_band = (frequencies >= low_hz) & (frequencies < high)
    total = power.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, power[:, in_band].sum(axis=1) / total, np.nan)


def dominant_frequency(
    audio: np.ndarray,
    sample_rate: int,
    start_seconds: float,
    stop_seconds: float,
    low_hz: float = PITCH_HZ[0],
    high_hz: float = PITCH_HZ[1],
) -> np.ndarray:
    """The strongest frequency (Hz) between `low_hz` and `high_hz` in each sound's ``[start_seconds, stop_seconds)``.

    Read from the Hann-windowed stretch zero-padded to `PITCH_FFT` points, the peak bin refined by a
    parabola through the log magnitudes of it and its neighbours (by half a bin at most). Returns ``(n,)`` Hz; NaN where silent.
    """
    stretch = _stretch(_batch(audio), sample_rate, start_seconds, stop_seconds - start_seconds, least=2)
    size = max(PITCH_FFT, 1 << (stretch.shape[1] - 1).bit_length())
    magnitude = np.abs(np.fft.rfft(stretch * np.hanning(stretch.shape[1]), size, axis=1))
    frequencies = np.fft.rfftfreq(size, 1.0 / sample_rate)
    bins = np.flatnonzero((frequencies >= low_hz) & (frequencies <= high_hz))
    out = np.full(len(stretch), np.nan)
    for row, spectrum in enumerate(magnitude):
        band = spectrum[bins]
        if band.max(initial=0.0) <= 0:
            continue
        peak = bins[int(np.argmax(band))]
        offset = 0.0
        if 0 < peak < len(spectrum) - 1:
            left, centre, right = np.log(np.maximum(spectrum[peak - 1 : peak + 2], 1e-300))
            curvature = left - 2.0 * centre + right
            offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0
        out[row] = (peak + offset) * sample_rate / size
    return out


def pitch_drop_semitones(
    audio: np.ndarray,
    sample_rate: int,
    early_seconds: tuple[float, float] = PITCH_EARLY_SECONDS,
    late_seconds: tuple[float, float] = PITCH_LATE_SECONDS,
    low_hz: float = PITCH_HZ[0],
    high_hz: float = PITCH_HZ[1],
) -> np.ndarray:
    """How far each sound's pitch falls, in semitones: ``12 log2(f_early / f_late)``.

    `f_early` and `f_late` are the `dominant_frequency` between `low_hz` and `high_hz` Hz of the early and
    late stretches (start and stop in seconds). A kick's sweep reads several semitones; a steady tone 0.
    Returns ``(n,)`` semitones (negative where the pitch rises).
    """
    early = dominant_frequency(audio, sample_rate, *early_seconds, low_hz, high_hz)
    late = dominant_frequency(audio, sample_rate, *late_seconds, low_hz, high_hz)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 12.0 * np.log2(early / late)


# ----------------------------------------------------------------------------- envelope


def envelope_peaks(
    audio: np.ndarray,
    sample_rate: int,
    seconds: float = SLAP_SECONDS,
    smoothing_seconds: float = SLAP_SMOOTHING_SECONDS,
    prominence_db: float = SLAP_PROMINENCE_DB,
    min_gap_seconds: float = SLAP_GAP_SECONDS,
    range_db: float = SLAP_RANGE_DB,
) -> np.ndarray:
    """The number of distinct hits (a clap's slaps) in each sound's first `seconds`.

    The envelope is the power averaged over `smoothing_seconds`, in dB. A hit is a peak of it that stands
    at least `prominence_db` dB above the dips between it and its higher neighbours (its topographic
    prominence), lies within `range_db` dB of the envelope's maximum, and is at least `min_gap_seconds`
    from a higher peak. A hand-clap sample of 3-4 slaps 10-30 ms apart reads 3-4; one noise burst reads 1.
    Returns ``(n,)`` counts (as float64; silence reads 0).
    """
    stretch = _stretch(_batch(audio), sample_rate, 0.0, seconds)
    width = max(1, round(smoothing_seconds * sample_rate))
    # silence before the start, so a hit at the very start stands out from it as one after a dip does
    padded = np.concatenate([np.zeros((len(stretch), width)), stretch], axis=1)
    envelope = _db(uniform_filter1d(padded**2, width, axis=1, mode="constant"))
    gap = max(1, round(min_gap_seconds * sample_rate))
    counts = np.zeros(len(stretch))
    for row, level in enumerate(envelope):
        if stretch[row].any():
            peaks, _ = find_peaks(level, height=level.max() - range_db, prominence=prominence_db, distance=gap)
            counts[row] = len(peaks)
    return counts


def jingle_modulation(
    audio: np.ndarray,
    sample_rate: int,
    low_hz: float = JINGLE_HZ[0],
    high_hz: float = JINGLE_HZ[1],
    start_seconds: float = JINGLE_START_SECONDS,
    seconds: float = JINGLE_SECONDS,
    frame_seconds: float = JINGLE_FRAME_SECONDS,
    trend_seconds: float = JINGLE_TREND_SECONDS,
    range_db: float = JINGLE_RANGE_DB,
) -> np.ndarray:
    """How much each sound's level flutters in a high band after the hit (tambourine jingles), in dB.

    The sound is band-passed to ``[low_hz, high_hz)`` (its spectrum outside zeroed); its power over
    consecutive `frame_seconds` frames, in dB and floored `range_db` under its maximum, less its trend (a
    centred moving average over `trend_seconds`), is the flutter. The figure is the flutter's RMS (dB) over
    the frames in ``[start_seconds, start_seconds + seconds)`` above that floor. A smooth decay reads near 0
    (band noise about 1 dB, from its own randomness); jingles clashing read several dB; a tone
    amplitude-modulated by ``1 + m sin(2 pi f t)`` reads the RMS of ``20 log10(1 + m sin)`` about its mean
    when `trend_seconds` spans whole periods. Returns ``(n,)`` dB; NaN with fewer than two frames to read.
    """
    batch = _batch(audio)
    spectrum = np.fft.rfft(batch, axis=1)
    frequencies = np.fft.rfftfreq(batch.shape[1], 1.0 / sample_rate)
    spectrum[:, (frequencies < low_hz) | (frequencies >= high_hz)] = 0.0
    band = np.fft.irfft(spectrum, batch.shape[1], axis=1)
    frame = max(1, round(frame_seconds * sample_rate))
    count = band.shape[1] // frame
    level = _db(np.mean(band[:, : count * frame].reshape(len(band), count, frame) ** 2, axis=2))
    floor = level.max(axis=1, keepdims=True) - range_db
    level = np.maximum(level, floor)
    trend = uniform_filter1d(level, max(1, round(trend_seconds / frame_seconds)), axis=1, mode="nearest")
    times = np.arange(count) * frame / sample_rate
    window = (times >= start_seconds) & (times < start_seconds + seconds)
    out = np.full(len(batch), np.nan)
    for row in range(len(batch)):
        keep = window & (level[row] > floor[row, 0])
        if keep.sum() >= 2 and band[row].any():
            out[row] = float(np.sqrt(np.mean((level[row, keep] - trend[row, keep]) ** 2)))
    return out


# ----------------------------------------------------------------------------- partials


def _partials(
    audio: np.ndarray,
    sample_rate: int,
    seconds: float,
    low_hz: float,
    high_hz: float,
    prominence_db: float,
    range_db: float,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each sound's averaged power spectrum ``(n, bins)`` and the bin indices of its partials (see `partial_count`)."""
    size = max(16, round(PARTIAL_FFT * sample_rate / 44100))
    hop = max(1, round(PARTIAL_HOP * sample_rate / 44100))
    stretch = _stretch(_batch(audio), sample_rate, 0.0, seconds, least=size)
    frequencies, power = welch(
        stretch,
        sample_rate,
        window="blackmanharris",
        nperseg=size,
        noverlap=size - hop,
        detrend=False,
        scaling="spectrum",
        axis=1,
    )
    bins = np.flatnonzero((frequencies >= low_hz) & (frequencies < high_hz))
    neighbourhood = 2 * max(1, round(PARTIAL_NEIGHBOURHOOD_HZ / (frequencies[1] - frequencies[0]))) + 1
    partials = []
    for spectrum in power:
        level = _db(spectrum[bins])
        if spectrum[bins].max(initial=0.0) <= 0:
            partials.append(np.zeros(0, np.int64))
            continue
        peaks, _ = find_peaks(level, height=level.max() - range_db, prominence=prominence_db, wlen=neighbourhood)
        partials.append(bins[peaks])
    return power, partials


def partial_count(
    audio: np.ndarray,
    sample_rate: int,
    seconds: float = PARTIAL_SECONDS,
    low_hz: float = PARTIAL_HZ[0],
    high_hz: float = PARTIAL_HZ[1],
    prominence_db: float = PARTIAL_PROMINENCE_DB,
    range_db: float = PARTIAL_RANGE_DB,
) -> np.ndarray:
    """The number of strong narrow spectral peaks (partials) between `low_hz` and `high_hz` in each sound's first `seconds`.

    Read from the power spectrum averaged over Blackman-Harris frames of `PARTIAL_FFT` samples (Welch's
    method, hop `PARTIAL_HOP`): a partial is a peak at least `prominence_db` dB over the lowest point within
    `PARTIAL_NEIGHBOURHOOD_HZ` Hz either side, and within `range_db` dB of the band's strongest bin. A
    cowbell's two square-wave tones read 2 and more (their harmonics); noise reads 0.
    Returns ``(n,)`` counts as float64.
    """
    _, partials = _partials(audio, sample_rate, seconds, low_hz, high_hz, prominence_db, range_db)
    return np.array([len(peaks) for peaks in partials], np.float64)


def tonal_share(
    audio: np.ndarray,
    sample_rate: int,
    seconds: float = PARTIAL_SECONDS,
    low_hz: float = PARTIAL_HZ[0],
    high_hz: float = PARTIAL_HZ[1],
    prominence_db: float = PARTIAL_PROMINENCE_DB,
    range_db: float = PARTIAL_RANGE_DB,
) -> np.ndarray:
    """Share (0 to 1) of each sound's first `seconds` of energy that lies in its partials (see `partial_count`).

    A partial's energy is that of the `PARTIAL_LOBE_BINS` bins either side of its peak in the averaged
    spectrum (a Blackman-Harris window's main lobe). A pure tone reads 1, noise 0, a tone in noise the
    tone's share of the power. Returns ``(n,)``; NaN where silent.
    """
    power, partials = _partials(audio, sample_rate, seconds, low_hz, high_hz, prominence_db, range_db)
    out = np.full(len(power), np.nan)
    for row, (spectrum, peaks) in enumerate(zip(power, partials)):
        total = spectrum.sum()
        if total <= 0:
            continue
        lobes = np.zeros(len(spectrum), bool)
        for peak in peaks:
            lobes[max(0, peak - PARTIAL_LOBE_BINS) : peak + PARTIAL_LOBE_BINS + 1] = True
        out[row] = spectrum[lobes].sum() / total
    return out


# ----------------------------------------------------------------------------- tails


def _ends(batch: np.ndarray, floor_db: float | None) -> np.ndarray:
    """Where each sound ends ``(n,)`` samples: after its last non-zero sample, or its last within `floor_db` of its peak."""
    magnitude = np.abs(batch)
    peak = magnitude.max(axis=1, keepdims=True)
    sounding = magnitude > 0 if floor_db is None else (magnitude >= peak * 10.0 ** (floor_db / 20.0)) & (peak > 0)
    last = batch.shape[1] - np.argmax(sounding[:, ::-1], axis=1)
    return np.where(sounding.any(axis=1), last, 0)


def end_level_db(
    audio: np.ndarray, sample_rate: int, window_seconds: float = TAIL_WINDOW_SECONDS, floor_db: float | None = None
) -> np.ndarray:
    """The level at which each sound ends: RMS of its last `window_seconds`, in dB relative to its loudest window.

    The sound ends after its last non-zero sample, or, given `floor_db` (dB, < 0), after its last sample
    within `floor_db` of its peak sample (where `dkvae.sound.audio.cut_at_decay` cuts a saved sound). Its
    loudest window is the largest RMS over consecutive `window_seconds` windows from its start. A sound
    that rings out reads far down (about -60 dB or lower); one cut or gated while still sounding reads the
    level it was cut at (an exponential decay cut at t reads its level at about t minus half a window).
    A fade-out over the last window lowers the figure by up to 4.3 dB (a half-cosine's mean square is 3/8).
    Returns ``(n,)`` dB, floored at `LEVEL_FLOOR_DB`; NaN where silent.
    """
    batch = _batch(audio)
    window = max(1, round(window_seconds * sample_rate))
    out = np.full(len(batch), np.nan)
    for row, end in enumerate(_ends(batch, floor_db)):
        if end == 0:
            continue
        sound = batch[row, :end]
        loudest = rms_envelope(sound, sample_rate, window_seconds).max(initial=0.0)
        last = float(np.sqrt(np.mean(sound[-window:] ** 2)))
        loudest = max(loudest, last)
        out[row] = max(20.0 * math.log10(last / loudest), LEVEL_FLOOR_DB) if last > 0 else LEVEL_FLOOR_DB
    return out


def ring_seconds(
    audio: np.ndarray,
    sample_rate: int,
    threshold_db: float = RING_THRESHOLD_DB,
    window_seconds: float = TAIL_WINDOW_SECONDS,
) -> np.ndarray:
    """How long each sound rings: seconds from its start until its envelope stays below `threshold_db` (dB, < 0).

    The envelope is the RMS over consecutive `window_seconds` windows, relative to the loudest; the figure
    is the end of the last window at or above `threshold_db`. A sound still above it in its last whole
    window reads its full length (a lower bound: it was cut before it rang out; see `end_level_db`).
    Returns ``(n,)`` seconds; NaN where silent.
    """
    batch = _batch(audio)
    window = max(1, round(window_seconds * sample_rate))
    out = np.full(len(batch), np.nan)
    for row, envelope, loudest in _sounding_envelopes(batch, sample_rate, window_seconds):
        above = np.flatnonzero(envelope >= loudest * 10.0 ** (threshold_db / 20.0))
        last = int(above[-1])
        out[row] = (batch.shape[1] if last == len(envelope) - 1 else (last + 1) * window) / sample_rate
    return out


def second_hit_db(
    audio: np.ndarray,
    sample_rate: int,
    fall_db: float = SECOND_HIT_FALL_DB,
    window_seconds: float = TAIL_WINDOW_SECONDS,
) -> np.ndarray:
    """How far each sound's tail rises again: after its envelope first falls `fall_db` under its loudest window,
    the largest rise (dB) above the lowest level it has reached since. A clean decay reads 0; a second hit
    late in the tail (a flam, or a generator's ghost) reads about its level over the silence before it.

    The envelope is the RMS over consecutive `window_seconds` windows, floored `-RING_THRESHOLD_DB` under
    the loudest window (rises in what `ring_seconds` counts as rung out do not count). Returns ``(n,)`` dB;
    0 for a sound that never falls that far; NaN where silent.
    """
    batch = _batch(audio)
    out = np.full(len(batch), np.nan)
    for row, envelope, loudest in _sounding_envelopes(batch, sample_rate, window_seconds):
        levels = _db(np.maximum(envelope / loudest, 10.0 ** (RING_THRESHOLD_DB / 20.0)) ** 2)
        peak = int(np.argmax(levels))
        fallen = np.flatnonzero(levels[peak:] <= -fall_db)
        if not len(fallen):
            out[row] = 0.0
            continue
        tail = levels[peak + int(fallen[0]) :]
        out[row] = float((tail - np.minimum.accumulate(tail)).max())
    return out


# ----------------------------------------------------------------------------- figures by class


@dataclass(frozen=True)
class Figure:
    """One per-sound figure: its measure on audio ``(n, samples)`` at a sample rate (Hz), its unit and what it catches."""

    measure: Callable[[np.ndarray, int], np.ndarray]
    unit: str
    meaning: str


#: Every figure `class_figures` can compute, by name.
FIGURES: dict[str, Figure] = {
    "head_tone_share": Figure(
        functools.partial(
            band_energy_share, low_hz=HEAD_TONE_HZ[0], high_hz=HEAD_TONE_HZ[1], seconds=HEAD_TONE_SECONDS
        ),
        "share",
        "energy share of the first 100 ms in 150-250 Hz: a snare's drum-head tone",
    ),
    "low_share": Figure(
        functools.partial(band_energy_share, low_hz=LOW_HZ[0], high_hz=LOW_HZ[1], seconds=LOW_SECONDS),
        "share",
        "energy share of the first 200 ms in 20-150 Hz: a kick's low end",
    ),
    "body_share": Figure(
        functools.partial(band_energy_share, low_hz=BODY_HZ[0], high_hz=BODY_HZ[1], seconds=BODY_SECONDS),
        "share",
        "energy share of the first 200 ms in 60-400 Hz: a tom's body",
    ),
    "high_share": Figure(
        functools.partial(band_energy_share, low_hz=HIGH_FROM_HZ, high_hz=None, seconds=HIGH_SECONDS),
        "share",
        "energy share of the first 100 ms above 5 kHz: sizzle of hats, cymbals and snare wires",
    ),
    "pitch_drop": Figure(
        pitch_drop_semitones, "semitones", "fall of the strongest 30-400 Hz frequency from 0-40 ms to 60-200 ms"
    ),
    "slap_count": Figure(envelope_peaks, "count", "distinct envelope peaks in the first 100 ms: a clap's slaps"),
    "partial_count": Figure(
        partial_count, "count", "strong narrow spectral peaks in the first 200 ms: cowbell partials"
    ),
    "tonal_share": Figure(tonal_share, "share", "energy share of the first 200 ms in those partials"),
    "jingle_modulation": Figure(
        jingle_modulation, "dB", "RMS flutter of the 4-12 kHz level about its trend after the hit: tambourine jingles"
    ),
    "end_level_db": Figure(end_level_db, "dB", "RMS of the last 10 ms under the loudest 10 ms: where the sound stops"),
    "ring_seconds": Figure(ring_seconds, "s", "time until the 10 ms envelope stays 60 dB under its loudest"),
}

#: The character figures that describe each class (the tail figures, `TAIL_FIGURES`, apply to all).
CLASS_FIGURES: dict[str, tuple[str, ...]] = {
    "kick": ("low_share", "pitch_drop"),
    "snare": ("head_tone_share", "high_share"),
    "hihat": ("high_share",),
    "tom": ("body_share", "pitch_drop"),
    "cymbal": ("high_share",),
    "clap": ("slap_count",),
    "perc": ("partial_count", "tonal_share", "jingle_modulation"),
}
#: The tail figures, computed for every class.
TAIL_FIGURES: tuple[str, ...] = ("end_level_db", "ring_seconds")


def class_figures(audio: np.ndarray, sample_rate: int, instrument: str) -> dict[str, np.ndarray]:
    """The figures of `CLASS_FIGURES` for `instrument` and the `TAIL_FIGURES`, each ``(n,)``, of audio ``(n, samples)``.

    A class without character figures (one `CLASS_FIGURES` does not name) gets the tail figures only.
    """
    names = (*CLASS_FIGURES.get(instrument, ()), *TAIL_FIGURES)
    return {name: FIGURES[name].measure(audio, sample_rate) for name in names}
