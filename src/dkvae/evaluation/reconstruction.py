"""How well a model rebuilds held-out sounds: encode, decode, and compare, before and after inversion to audio.

Three comparisons per sound, each with the same metrics (the log-mel distance and the attack share
need audio, so the first comparison has neither):

- ``spectrogram``: the decoded spectrogram against the bank's (what the model learned). The STFT
  distance has one resolution here, the model's own.
- ``audio``: the decoded spectrogram inverted to audio (the model's inversion settings) against the
  sound as the bank read it (what a user hears); STFT distances at `MULTI_RESOLUTION_FFT_SIZES`.
- ``inversion``: the bank's own spectrogram inverted, against the same sound: the ceiling that
  inversion alone allows the ``audio`` figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dkvae.core.config import AudioConfig, InversionConfig
from dkvae.data.bank import Bank
from dkvae.data.packed import PackedArray
from dkvae.data.preprocess import Progress
from dkvae.inference.machine import DrumMachine
from dkvae.measures.metrics import (
    attack_share,
    log_mel_distance,
    log_spectral_distance,
    multi_resolution_stft_distance,
    onset_peak_ratio,
    spectral_convergence,
    stft_distance,
)
from dkvae.sound.audio import BadAudio, denormalize, load_sound, log_spectrogram, stft_magnitude
from dkvae.sound.inversion import invert

#: Sounds encoded, decoded and inverted at a time.
RECONSTRUCTION_BATCH = 16
#: The comparisons, in report order.
STAGES = ("spectrogram", "audio", "inversion")
#: The metrics of every comparison, in report order.
RECONSTRUCTION_METRICS = (
    "spectral_convergence",
    "log_spectral_distance",
    "multi_resolution_stft_distance",
    "onset_peak_ratio",
    "log_mel_distance",
    "attack_share_ratio",
)


@dataclass
class Reconstructions:
    """Per-sound results and a few examples for the report."""

    #: One row per test sound and stage: ``label, stage`` and the `RECONSTRUCTION_METRICS`.
    table: pd.DataFrame
    #: Normalized spectrograms ``(n, freq, frames)`` of the examples: the bank's, decoded, and the decoded audio analysed again.
    originals: np.ndarray
    decoded: np.ndarray
    heard: np.ndarray
    example_labels: list[str]
    #: Test sounds whose source file could not be read again (left out of the audio comparisons).
    unreadable: int


def spectrogram_metrics(reference_db: np.ndarray, estimate_db: np.ndarray) -> dict[str, np.ndarray]:
    """The STFT metrics per sound ``(n,)`` between two dB spectrograms ``(n, freq, frames)`` (floored alike)."""
    reference, estimate = 10.0 ** (reference_db / 20.0), 10.0 ** (estimate_db / 20.0)
    return {
        "spectral_convergence": spectral_convergence(reference, estimate),
        "log_spectral_distance": log_spectral_distance(reference_db, estimate_db),
        "multi_resolution_stft_distance": stft_distance(reference, estimate),
        "onset_peak_ratio": onset_peak_ratio(reference, estimate),
    }


def audio_metrics(
    reference: np.ndarray, estimate: np.ndarray, audio: AudioConfig, floor_db: np.ndarray
) -> dict[str, np.ndarray]:
    """Every metric per sound ``(n,)`` between audio ``(n, samples)`` at ``audio.sample_rate``; the STFT figures'
    dB floored at `floor_db` ``(n,)`` as the bank's spectrograms are, the log-mel distance at its own floor."""
    floor = floor_db[:, None, None]
    reference_db = np.maximum(log_spectrogram(reference, audio.n_fft, audio.hop_length).numpy(), floor)
    estimate_db = np.maximum(log_spectrogram(estimate, audio.n_fft, audio.hop_length).numpy(), floor)
    metrics = spectrogram_metrics(reference_db, estimate_db)
    metrics["multi_resolution_stft_distance"] = multi_resolution_stft_distance(reference, estimate)
    metrics["log_mel_distance"] = log_mel_distance(reference, estimate, audio.sample_rate)
    reference_share = attack_share(reference, audio.sample_rate)
    metrics["attack_share_ratio"] = attack_share(estimate, audio.sample_rate) / np.maximum(reference_share, 1e-12)
    return metrics


def measure_reconstruction(
    machine: DrumMachine, bank: Bank, progress: Progress | None = None, sources: tuple[str, ...] = ()
) -> Reconstructions:
    """Rebuild every test sound of `bank` with `machine` (each encoded with its own class) and measure it three ways.

    With `sources`, the sounds rebuilt are instead every sound of those sources, whatever their split: the
    held-out-source protocol, for a model trained with them left out (``dkvae train --holdout-source``).
    """
    if sources:
        rows = bank.data[bank.data["source"].isin(sources)].reset_index(drop=True)
        spectrograms = PackedArray(bank.array_path, rows["index"].to_numpy(np.int64))
        labels = rows["label"].map({name: code for code, name in enumerate(bank.instruments)}).to_numpy(np.int64)
    else:
        _, _, spectrograms, labels, _, _ = bank.load_spectrograms()
        rows = bank.data[bank.data["split"] == "test"].reset_index(drop=True)
    examples = np.array([np.flatnonzero(labels == code)[0] for code in np.unique(labels)], np.int64)
    decoded_examples = np.zeros((len(examples), *machine.config.audio.shape), np.float32)
    heard_examples = np.zeros_like(decoded_examples)
    records: list[pd.DataFrame] = []
    unreadable = 0
    for start in range(0, len(rows), RECONSTRUCTION_BATCH):
        part = slice(start, min(start + RECONSTRUCTION_BATCH, len(rows)))
        original = np.asarray(spectrograms[np.arange(part.start, part.stop)], np.float32)
        decoded = _rebuild(machine, original, labels[part], bank.instruments)
        sounds, readable = _read_sounds(bank, rows["original_path"][part], machine.config.audio)
        frames, heard = _measure_batch(machine, original, decoded, sounds, readable, rows[part])
        shown = (examples >= part.start) & (examples < part.stop)
        decoded_examples[shown] = decoded[examples[shown] - part.start]
        heard_examples[shown] = heard[examples[shown] - part.start]
        records += frames
        unreadable += int((~readable).sum())
        if progress is not None:
            progress(part.stop, len(rows))
    return Reconstructions(
        table=pd.concat(records, ignore_index=True)
        if records
        else pd.DataFrame(columns=["label", "stage", *RECONSTRUCTION_METRICS]),
        originals=np.asarray(spectrograms[examples], np.float32),
        decoded=decoded_examples,
        heard=heard_examples,
        example_labels=[bank.instruments[labels[i]] for i in examples],
        unreadable=unreadable,
    )


def _measure_batch(
    machine: DrumMachine,
    original: np.ndarray,
    decoded: np.ndarray,
    sounds: np.ndarray,
    readable: np.ndarray,
    rows: pd.DataFrame,
) -> tuple[list[pd.DataFrame], np.ndarray]:
    """The three comparisons of a batch of test sounds (one frame per stage), and the decoded audio analysed again ``(n, freq, frames)``.

    `original` and `decoded` are normalized spectrograms ``(n, freq, frames)``; `sounds` ``(n, samples)``
    the sounds as the bank read them, of which `readable` ``(n,)`` could be read; `rows` their samples.csv rows.
    """
    audio, inversion = machine.config.audio, machine.config.inversion
    low = rows["min_value"].to_numpy(np.float32)
    high = rows["max_value"].to_numpy(np.float32)
    original_db = denormalize(original, low[:, None, None], high[:, None, None])
    decoded_db = denormalize(decoded, low[:, None, None], high[:, None, None])
    labels = rows["label"].to_numpy()
    frames = [pd.DataFrame(spectrogram_metrics(original_db, decoded_db)).assign(label=labels, stage="spectrogram")]
    heard = _invert(decoded_db, audio, inversion)
    if readable.any():
        for stage, estimate in (("audio", heard), ("inversion", _invert(original_db, audio, inversion))):
            metrics = audio_metrics(sounds[readable], estimate[readable], audio, low[readable])
            frames.append(pd.DataFrame(metrics).assign(label=labels[readable], stage=stage))
    heard_db = log_spectrogram(heard, audio.n_fft, audio.hop_length).numpy()
    heard_normalized = (heard_db - low[:, None, None]) / (high - low)[:, None, None]
    return frames, np.clip(heard_normalized, 0.0, 1.0)


def summarize(table: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """Medians over sounds: ``{stage: {"overall" | class: {metric: value}}}``."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for stage in STAGES:
        rows = table[table["stage"] == stage]
        per_class = {
            str(label): group[list(RECONSTRUCTION_METRICS)].median().dropna().to_dict()
            for label, group in rows.groupby("label")
        }
        summary[stage] = {"overall": rows[list(RECONSTRUCTION_METRICS)].median().dropna().to_dict(), **per_class}
    return summary


def _rebuild(machine: DrumMachine, spectrograms: np.ndarray, labels: np.ndarray, instruments: list[str]) -> np.ndarray:
    """Decoded spectrograms ``(n, freq, frames)`` of normalized spectrograms, each through its posterior mean given its class."""
    decoded = np.zeros(spectrograms.shape, np.float32)
    for code in np.unique(labels):
        chosen = labels == code
        instrument = instruments[code]
        decoded[chosen] = machine.decode_spectrograms(
            machine.encode_spectrograms(spectrograms[chosen], instrument), instrument
        )
    return decoded


def _invert(spectrogram_db: np.ndarray, audio_config: AudioConfig, inversion: InversionConfig) -> np.ndarray:
    """Audio ``(n, num_samples)`` of dB spectrograms ``(n, freq, frames)``, with the model's inversion settings."""
    magnitude = stft_magnitude(spectrogram_db, audio_config.n_fft)
    return invert(magnitude, audio_config.n_fft, audio_config.hop_length, audio_config.num_samples, inversion).numpy()


def _read_sounds(bank: Bank, paths: pd.Series, audio_config: AudioConfig) -> tuple[np.ndarray, np.ndarray]:
    """The sounds ``(n, num_samples)`` as the bank read them, and which could be read ``(n,)`` bool."""
    sounds = np.zeros((len(paths), audio_config.num_samples), np.float32)
    readable = np.ones(len(paths), bool)
    for index, path in enumerate(paths):
        try:
            sounds[index] = load_sound(bank.original_dir / path, audio_config)[0]
        except BadAudio:
            readable[index] = False
    return sounds, readable
