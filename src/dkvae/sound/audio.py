"""Audio math on arrays: load, mono, resample, trim, fit length, log spectrogram, normalize, invert, write.

Conventions: audio is float32 in [-1, 1] with shape ``(samples,)`` or ``(batch, samples)``; spectrograms
are ``(freq, frames)`` or ``(batch, freq, frames)`` with DC and Nyquist bins both kept. Levels are in dB
where a full-scale sine reads 0 dB.
"""

from __future__ import annotations

import io
import math
import os
import stat
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr
import torch

from dkvae.core.atomic import atomic_path
from dkvae.core.config import (
    AMPLITUDE_FLOOR,
    MAX_LEAD_IN_SECONDS,
    MIN_SOUND_SECONDS,
    OUTPUT_PEAK_DB,
    SILENCE_FLOOR_DB,
    AudioConfig,
    InversionConfig,
)
from dkvae.sound.inversion import invert
from dkvae.sound.wav import INTEGER_SCALES, PlainWav, open_plain_wav, sample_width_problem

#: `SILENCE_FLOOR_DB` as an amplitude.
_SILENCE_FLOOR = 10.0 ** (SILENCE_FLOOR_DB / 20.0)
#: File names tried as plain WAV first (`dkvae.sound.wav`).
WAV_SUFFIXES = (".wav", ".wave")


class BadAudio(Exception):
    """A file that cannot become a training sound; the message is the reason recorded in skipped.csv."""


@dataclass(frozen=True)
class SoundInfo:
    """What was learned about a source file while loading it."""

    source_sample_rate: int
    channels: int
    source_frames: int
    #: Peak level of the kept segment before any scaling (dBFS).
    peak_db: float
    #: Seconds of near-silence trimmed from the start.
    lead_in: float


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mix ``(samples, channels)`` down to ``(samples,)`` by averaging; 1-D input is returned as is."""
    if audio.ndim == 1:
        return audio
    channels = audio.shape[1]
    if channels == 1:
        return audio[:, 0]
    return audio @ np.full(channels, 1.0 / channels, dtype=audio.dtype)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample ``(samples,)`` audio from `from_rate` to `to_rate` Hz with soxr (high quality)."""
    if from_rate == to_rate:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ")


def rms_envelope(audio: np.ndarray, sample_rate: int, frame_seconds: float) -> np.ndarray:
    """RMS of ``(samples,)`` audio over consecutive frames of `frame_seconds` (a short last frame dropped), float64."""
    frame = max(1, round(frame_seconds * sample_rate))
    count = len(audio) // frame
    return np.sqrt(np.mean(np.square(audio[: count * frame].reshape(count, frame), dtype=np.float64), axis=1))


def peak_db(audio: np.ndarray) -> float:
    """Peak level of `audio` in dBFS (``-inf`` for digital silence)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def find_onset(audio: np.ndarray, threshold_db: float, pre_roll: int = 0) -> int:
    """Index where the sound starts: the first sample within `threshold_db` of the peak, minus `pre_roll`.

    Unlike trimming exact zeros (the seed), this skips low noise before a hit while keeping the rise
    of the attack: `pre_roll` samples before the crossing are kept. Silence returns ``len(audio)``.
    """
    magnitude = np.abs(audio)
    return _onset(magnitude, magnitude.max(initial=0.0), threshold_db, pre_roll)


def _onset(magnitude: np.ndarray, peak: np.floating, threshold_db: float, pre_roll: int) -> int:
    """`find_onset` from ``abs(audio)`` and its peak, for a caller that has them already."""
    if peak <= 0:
        return len(magnitude)
    first = int(np.argmax(magnitude >= peak * 10.0 ** (threshold_db / 20.0)))
    return max(0, first - pre_roll)


def sound_span(audio: np.ndarray, threshold_db: float) -> int:
    """Samples from the first to the last sample within `threshold_db` of the peak (0 for silence)."""
    magnitude = np.abs(audio)
    return _span(magnitude, magnitude.max(initial=0.0), threshold_db)


def _span(magnitude: np.ndarray, peak: np.floating, threshold_db: float) -> int:
    """`sound_span` from ``abs(audio)`` and its peak, for a caller that has them already."""
    if peak <= 0:
        return 0
    above = magnitude >= peak * 10.0 ** (threshold_db / 20.0)
    return len(above) - int(np.argmax(above[::-1])) - int(np.argmax(above))


def match_length(audio: np.ndarray, num_samples: int, fade_samples: int = 0) -> np.ndarray:
    """Pad with zeros or cut ``(..., samples)`` audio to `num_samples`.

    A cut ends with a half-cosine fade over `fade_samples` so no click is added; padding adds none.
    """
    length = audio.shape[-1]
    if length == num_samples:
        return audio
    if length < num_samples:
        out = np.zeros((*audio.shape[:-1], num_samples), dtype=audio.dtype)  # (np.pad is slower)
        out[..., :length] = audio
        return out
    out = audio[..., :num_samples].copy()
    fade = min(fade_samples, num_samples)
    if fade > 0:
        out[..., num_samples - fade :] *= fade_out_curve(fade).astype(out.dtype)
    return out


def cut_at_decay(audio: np.ndarray, decay_db: float, fade_samples: int) -> np.ndarray:
    """Cut ``(samples,)`` or ``(samples, channels)`` audio after its last sample within `decay_db` (dB, < 0) of its peak.

    The last `fade_samples` kept samples get a half-cosine fade-out, so the cut adds no click.
    Silence returns an empty array. Importers use it to end rendered notes where they have decayed.
    """
    magnitude = np.abs(audio).max(axis=1) if audio.ndim == 2 else np.abs(audio)
    peak = magnitude.max(initial=0.0)
    if peak <= 0:
        return audio[:0]
    end = int(np.flatnonzero(magnitude >= peak * 10.0 ** (decay_db / 20.0))[-1]) + 1
    out = audio[:end].copy()
    fade = min(fade_samples, end)
    if fade > 0:
        out[end - fade :] *= fade_out_curve(fade).astype(out.dtype).reshape((fade,) + (1,) * (out.ndim - 1))
    return out


def fade_out_curve(length: int) -> np.ndarray:
    """A half-cosine ramp from 1 down to 0 over `length` samples, ``(length,)`` float64."""
    return 0.5 * (1.0 + np.cos(np.pi * (np.arange(length) + 1) / length))


def load_sound(path: str | os.PathLike[str], config: AudioConfig) -> tuple[np.ndarray, SoundInfo]:
    """Read one drum sound ready for analysis: mono, resampled, lead-in trimmed, fitted to length.

    Only the part of the file that is needed is read: the lead-in (at most `MAX_LEAD_IN_SECONDS`) and
    `config.duration` seconds after it. Plain WAV files are read by `dkvae.sound.wav`, the rest by libsndfile.
    Returns ``(audio, info)`` with audio of shape ``(config.num_samples,)``, peak-scaled to 0 dBFS when
    `config.peak_normalize` is set.

    Raises `BadAudio` with the reason when the file is not usable; anything but a regular file is refused
    unopened (a FIFO would block the read for ever, a device never end it).
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise BadAudio("not a regular file")
        plain = open_plain_wav(path) if os.fspath(path).lower().endswith(WAV_SUFFIXES) else None
        if plain is not None:
            with plain:
                return _read_sound(plain, config)
        with sf.SoundFile(path) as handle:
            return _read_sound(_LibsndfileSource(handle), config)
    except BadAudio:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as error:
        raise BadAudio(f"cannot decode: {_one_line(error)}") from None


class _LibsndfileSource:
    """A file open in libsndfile, read as a `PlainWav` is read; an empty or truncated file is `BadAudio`."""

    def __init__(self, handle: sf.SoundFile) -> None:
        self.handle = handle
        self.samplerate, self.channels, self.frames = handle.samplerate, handle.channels, handle.frames
        if self.frames <= 0:
            raise BadAudio("empty: no audio frames")
        if _declares_more_data(handle.extra_info):
            raise BadAudio("truncated: the header declares more audio data than the file holds")
        problem = sample_width_problem(handle.extra_info, handle.format, handle.subtype, handle.channels)
        if problem is not None:
            raise BadAudio(problem)
        # integer subtypes are read as integers and scaled here, with the very values libsndfile's own float
        # read gives, in less time: its conversion loop is slower than numpy's
        self.integer = INTEGER_SCALES.get(handle.subtype)

    def read(self, start: int, count: int) -> np.ndarray:
        """Frames from `start`, `count` at most, as float32 ``(frames, channels)``."""
        self.handle.seek(start)
        if self.integer is None:
            return self.handle.read(count, dtype="float32", always_2d=True)
        dtype, scale = self.integer
        return self.handle.read(count, dtype=dtype.name, always_2d=True).astype(np.float32) * np.float32(scale)


def _read_sound(source: PlainWav | _LibsndfileSource, config: AudioConfig) -> tuple[np.ndarray, SoundInfo]:
    """The body of `load_sound` on an open file."""
    rate, channels, frames = source.samplerate, source.channels, source.frames
    needed = _frames_needed(config, rate)
    max_lead_in = math.ceil(MAX_LEAD_IN_SECONDS * rate)

    offset = 0
    block, magnitude, peak = _read_block(source, needed, 0)
    while peak < _SILENCE_FLOOR:
        offset += len(block)
        if offset >= frames:
            raise BadAudio("silent: no sample above the silence floor")
        if offset >= max_lead_in:
            raise BadAudio(f"silent: no sound in the first {MAX_LEAD_IN_SECONDS:g} s")
        block, magnitude, peak = _read_block(source, needed, offset)
    start = _onset(magnitude, peak, config.trim_db, math.ceil(config.pre_roll * rate))
    missing = min(start + needed - len(block), frames - offset - len(block))
    if missing > 0:
        rest, rest_magnitude, _ = _read_block(source, missing, offset + len(block))
        block, magnitude = np.concatenate([block, rest]), np.concatenate([magnitude, rest_magnitude])
    segment, level = _segment_from(block, magnitude, start, rate, config)

    info = SoundInfo(rate, channels, frames, round(level, 3), round((offset + start) / rate, 6))
    return _fit(segment, rate, config), info


def _frames_needed(config: AudioConfig, rate: int) -> int:
    """Frames of a `rate` Hz file that make one sound from its onset: the length, the pre-roll and a margin."""
    return math.ceil(config.num_samples * rate / config.sample_rate) + math.ceil(config.pre_roll * rate) + 16


def _segment_from(
    audio: np.ndarray, magnitude: np.ndarray, start: int, rate: int, config: AudioConfig
) -> tuple[np.ndarray, float]:
    """The mono sound that begins at `start`, `_frames_needed` long at most, and its peak in dBFS.

    `magnitude` is ``abs(audio)``, computed once by the caller. BadAudio when under 10 ms of it sounds.
    """
    end = start + _frames_needed(config, rate)
    peak = magnitude[start:end].max(initial=0.0)
    if _span(magnitude[start:end], peak, config.trim_db) < MIN_SOUND_SECONDS * rate:
        raise BadAudio(f"too short: under {MIN_SOUND_SECONDS * 1000:g} ms of sound")
    return audio[start:end], 20.0 * math.log10(peak)


def _fit(segment: np.ndarray, rate: int, config: AudioConfig) -> np.ndarray:
    """A mono segment starting at its onset, resampled, fitted to length and peak-scaled as `config` says."""
    audio = resample(segment, rate, config.sample_rate)
    audio = match_length(audio, config.num_samples, round(config.fade_out * config.sample_rate))
    if config.peak_normalize:
        peak = max(float(audio.max()), -float(audio.min()))  # abs's peak without its temporary array
        audio = audio * np.float32(1.0 / max(peak, _SILENCE_FLOOR))
    return audio.astype(np.float32, copy=False)


def prepare_sound(audio: np.ndarray, sample_rate: int, config: AudioConfig) -> np.ndarray:
    """The normalized spectrogram ``(freq, frames)`` of an in-memory sound ``(samples[, channels])``, as the bank makes it.

    The same steps as `load_sound` and the preprocessor (mono, lead-in trimmed, resampled, fitted,
    peak-scaled, log-spectrogram, normalized), so a user's sound meets a model as its training data did.
    Raises `BadAudio` when the sound is silent, too short or not finite.
    """
    mono = to_mono(np.asarray(audio, dtype=np.float32))
    if mono.size == 0:
        raise BadAudio("empty: no audio frames")
    if not np.isfinite(mono).all():
        raise BadAudio("invalid: NaN or infinite samples")
    magnitude = np.abs(mono)
    peak = magnitude.max()
    if peak < _SILENCE_FLOOR:
        raise BadAudio("silent: no sample above the silence floor")
    start = _onset(magnitude, peak, config.trim_db, math.ceil(config.pre_roll * sample_rate))
    segment, _ = _segment_from(mono, magnitude, start, sample_rate, config)
    spectrogram = log_spectrogram(_fit(segment, sample_rate, config), config.n_fft, config.hop_length).numpy()
    return normalize(spectrogram, config)[0].astype(np.float32)


def finish_sound(audio: np.ndarray, fade_samples: int, peak_db_level: float = OUTPUT_PEAK_DB) -> np.ndarray:
    """A generated sound ``(samples,)`` made ready to play: peak at `peak_db_level` dBFS, faded out at the end.

    (No mean subtraction: a decaying sound's mean is not an offset, and subtracting it would leave a
    constant floor in its silent tail.)
    """
    out = np.asarray(audio, dtype=np.float64).copy()
    peak = float(np.max(np.abs(out), initial=0.0))
    if peak > 0:
        out *= 10.0 ** (peak_db_level / 20.0) / peak
    fade = min(fade_samples, len(out))
    if fade > 0:
        out[len(out) - fade :] *= fade_out_curve(fade)
    return out.astype(np.float32)


def _read_block(
    source: PlainWav | _LibsndfileSource, count: int, start: int
) -> tuple[np.ndarray, np.ndarray, np.floating]:
    """`count` frames from `start` as mono float32, their magnitudes and peak; truncated data, NaN or inf are `BadAudio`."""
    block = source.read(start, count)
    if len(block) < min(count, source.frames - start):
        raise BadAudio(f"truncated: header promises {source.frames} frames, data ends at {start + len(block)}")
    mono = to_mono(block)
    magnitude = np.abs(mono)
    peak = magnitude.max(initial=0.0)  # NaN propagates through max; inf is its own peak
    if not math.isfinite(peak):
        raise BadAudio("invalid: NaN or infinite samples")
    return mono, magnitude, peak


def _declares_more_data(log: str) -> bool:
    """True when libsndfile's log says a WAV ``data`` or AIFF ``SSND`` chunk is larger than the file."""
    return any(line.lstrip().startswith(("data", "SSND")) and "should be" in line for line in log.splitlines())


def _one_line(error: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(error).split()) or type(error).__name__


def _window(n_fft: int, device: torch.device | None = None) -> torch.Tensor:
    """The periodic Hann window used by every STFT here."""
    return torch.hann_window(n_fft, periodic=True, device=device)


def _magnitude_scale(n_fft: int) -> float:
    """Divides STFT magnitudes so a full-scale sine reads 1 (0 dB): the Hann window's sum over two."""
    return n_fft / 4.0


def log_spectrogram(audio: np.ndarray | torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """Log-magnitude spectrogram in dB of ``(samples,)`` or ``(batch, samples)`` audio.

    Centred STFT with zero padding (a one-shot has nothing before its start; padded by hand, which
    is faster than ``torch.stft``'s own padding) and a periodic Hann window. Audio on the CPU; returns
    a float32 CPU tensor ``(..., n_fft // 2 + 1, 1 + samples // hop_length)``; a full-scale sine reads
    0 dB and digital silence ``20 * log10(AMPLITUDE_FLOOR)``.
    """
    signal = torch.as_tensor(audio, dtype=torch.float32)
    half = n_fft // 2
    padded = signal.new_zeros((*signal.shape[:-1], signal.shape[-1] + 2 * half))
    padded[..., half : half + signal.shape[-1]] = signal
    stft = torch.stft(
        padded, n_fft, hop_length, window=_window(n_fft, signal.device), center=False, return_complex=True
    ).numpy()
    # numpy's complex abs and log10 run several times as fast as torch's here (they made much of preprocessing's
    # spectrogram time); in place: at 44.1 kHz a batch's spectrogram outgrows the cache
    magnitude = np.abs(stft)
    np.maximum(magnitude, np.float32(AMPLITUDE_FLOOR * _magnitude_scale(n_fft)), out=magnitude)
    np.log10(magnitude, out=magnitude)
    magnitude *= np.float32(20.0)
    magnitude -= np.float32(20.0 * math.log10(_magnitude_scale(n_fft)))
    return torch.from_numpy(magnitude)


def normalize(spectrogram_db: np.ndarray, config: AudioConfig) -> tuple[np.ndarray, float, float]:
    """Map a dB spectrogram to [0, 1]; returns ``(normalized, min_value, max_value)`` in dB.

    ``global``: the fixed range ``[config.min_db, config.max_db]``, so levels stay absolute.
    ``minmax`` (the seed's): the spectrogram's own range, its floor no lower than
    ``max - (config.max_db - config.min_db)`` (as librosa's ``top_db`` does).
    `min_value` and `max_value` are what `denormalize` needs to undo it.
    """
    batch = torch.tensor(np.asarray(spectrogram_db, dtype=np.float32))[None]  # a copy: normalized in place
    normalized, low, high = normalize_many(batch, config)
    return normalized[0].numpy(), float(low[0]), float(high[0])


def normalize_many(spectrograms_db: torch.Tensor, config: AudioConfig) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """`normalize` over a batch ``(batch, freq, frames)`` in one pass (the batch is normalized in place).

    Returns the normalized float32 batch and each spectrogram's ``min_value`` and ``max_value`` (float64).
    """
    count = spectrograms_db.shape[0]
    if config.normalization == "global":
        high = np.full(count, config.max_db)
        low = np.full(count, config.min_db)
    else:
        high = spectrograms_db.amax(dim=(-2, -1)).double().numpy()
        low = np.maximum(spectrograms_db.amin(dim=(-2, -1)).double().numpy(), high - (config.max_db - config.min_db))
    span = high - low
    shape = (count, *(1,) * (spectrograms_db.dim() - 1))
    flat = span <= 0
    offsets = torch.as_tensor(low, dtype=torch.float32).reshape(shape)
    spans = torch.as_tensor(np.where(flat, 1.0, span), dtype=torch.float32).reshape(shape)
    normalized = spectrograms_db.sub_(offsets).div_(spans).clamp_(0.0, 1.0)
    if flat.any():  # (a masked write costs time even when the mask is empty)
        normalized[torch.as_tensor(flat)] = 0.0
    return normalized, low, high


def denormalize(normalized: np.ndarray, min_value: float, max_value: float) -> np.ndarray:
    """Inverse of `normalize`: [0, 1] back to dB."""
    return normalized * (max_value - min_value) + min_value


def stft_magnitude(spectrogram_db: np.ndarray | torch.Tensor, n_fft: int) -> torch.Tensor:
    """Inverse of `log_spectrogram`'s scaling: dB ``(..., freq, frames)`` to float32 STFT magnitudes as ``torch.stft`` makes them."""
    level = torch.as_tensor(spectrogram_db, dtype=torch.float32)
    return torch.pow(10.0, level / 20.0) * _magnitude_scale(n_fft)


def spectrogram_to_audio(
    normalized: np.ndarray,
    config: AudioConfig,
    min_value: float | None = None,
    max_value: float | None = None,
    inversion: InversionConfig | None = None,
) -> np.ndarray:
    """Turn a normalized spectrogram ``(..., freq, frames)`` back into float32 audio ``(..., config.num_samples)``.

    `min_value`/`max_value` default to the global dB range; pass a sample's own values for ``minmax``.
    `inversion` chooses the phase recovery (`dkvae.sound.inversion.invert`); None is ``InversionConfig()``.
    """
    low = config.min_db if min_value is None else min_value
    high = config.max_db if max_value is None else max_value
    magnitude = stft_magnitude(denormalize(np.asarray(normalized, dtype=np.float32), low, high), config.n_fft)
    settings = InversionConfig() if inversion is None else inversion
    return invert(magnitude, config.n_fft, config.hop_length, config.num_samples, settings).numpy()


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write ``(samples,)`` or ``(samples, channels)`` audio as WAV, atomically.

    Encoded in memory first: libsndfile reports a full disk only as "System error".
    """
    encoded = io.BytesIO()
    sf.write(encoded, audio, sample_rate, subtype=subtype, format="WAV")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.getbuffer())
