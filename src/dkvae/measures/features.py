"""Features the generation metrics compare sounds in: a drum classifier's embedding and probabilities, and log-mel / MFCC statistics.

Every feature is computed from normalized spectrograms ``(n, freq, frames)``, so real and generated
sounds go through one analysis. Normalized values are read as dB over the audio config's range
``[min_db, max_db]``: exact for the ``global`` normalization; for ``minmax`` it places each sound's
peak at ``max_db``, the same for real and generated sounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.fft import dct

from dkvae.core.config import AudioConfig
from dkvae.data.preprocess import Progress
from dkvae.models.classifier import DrumClassifier

#: Mel bands of the classifier-free features.
MEL_BANDS = 64
#: MFCCs kept (the first, c0, included); their mean and standard deviation over time are the statistics.
MFCC_COEFFICIENTS = 20
#: Mel band powers are floored here before taking dB (-120 dB).
MEL_POWER_FLOOR = 1e-12
#: The log-mel spectrograms that diversity, novelty and NDB compare are averaged in time to at most this
#: many frames (128 frames of the default preset become 32 of 23 ms): distances over 2048 values, not 8192.
MEL_VECTOR_FRAMES = 32
#: Spectrograms per batch through the classifier and the mel analysis.
FEATURE_BATCH = 64


def hz_to_mel(frequency: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz (3 mel per 200 Hz), logarithmic above."""
    frequency = np.asarray(frequency, np.float64)
    linear = 3.0 * frequency / 200.0
    logarithmic = 15.0 + np.log(np.maximum(frequency, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(frequency >= 1000.0, logarithmic, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `hz_to_mel`, in Hz."""
    mel = np.asarray(mel, np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), 200.0 * mel / 3.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int = MEL_BANDS, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` float32, area-normalized (Slaney), as ``librosa.filters.mel``.

    Filter edges are `n_mels` + 2 points evenly spaced in mel from `fmin` to `fmax` (default: Nyquist), in Hz.
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    bin_frequencies = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bin_frequencies[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def spectrogram_db(normalized: np.ndarray, audio: AudioConfig) -> np.ndarray:
    """Normalized spectrograms ``(..., freq, frames)`` as float32 dB over the config's range."""
    return (np.asarray(normalized, np.float32) * (audio.max_db - audio.min_db) + audio.min_db).astype(np.float32)


def log_mel(normalized: np.ndarray, audio: AudioConfig, filterbank: np.ndarray) -> np.ndarray:
    """Log-mel spectrograms ``(n, n_mels, frames)`` in dB of normalized spectrograms ``(n, freq, frames)``."""
    power = 10.0 ** (spectrogram_db(normalized, audio) / 10.0)
    return 10.0 * np.log10(np.maximum(np.einsum("mf,nft->nmt", filterbank, power), MEL_POWER_FLOOR))


def mfcc(log_mel_db: np.ndarray, coefficients: int = MFCC_COEFFICIENTS) -> np.ndarray:
    """MFCCs ``(n, coefficients, frames)``: the orthonormal DCT-II over the bands of log-mel dB ``(n, n_mels, frames)``."""
    return dct(log_mel_db, type=2, axis=-2, norm="ortho")[..., :coefficients, :]


def pool_frames(log_mel_db: np.ndarray, frames: int = MEL_VECTOR_FRAMES) -> np.ndarray:
    """Average ``(n, n_mels, T)`` over runs of ``ceil(T / frames)`` frames: ``(n, n_mels, <= frames)`` (a short last run is averaged as is)."""
    factor = -(-log_mel_db.shape[-1] // frames)
    padded = np.pad(log_mel_db, [(0, 0), (0, 0), (0, -log_mel_db.shape[-1] % factor)], constant_values=np.nan)
    return np.nanmean(padded.reshape(*padded.shape[:-1], -1, factor), axis=-1)


def standardizer(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and deviation ``(dim,)`` of reference features ``(n, dim)`` to standardize others with (a constant
    feature gets deviation 1, so it is not divided by zero)."""
    scale = reference.std(axis=0)
    return reference.mean(axis=0), np.where(scale > 0, scale, 1.0)


def mel_statistics(log_mel_db: np.ndarray) -> np.ndarray:
    """Classifier-free features ``(n, 2 * MFCC_COEFFICIENTS)``: each MFCC's mean and standard deviation over time."""
    coefficients = mfcc(log_mel_db)
    return np.concatenate([coefficients.mean(axis=-1), coefficients.std(axis=-1)], axis=1).astype(np.float32)


@dataclass
class Features:
    """What the generation metrics know of a set of sounds, one row per sound."""

    #: The classifier's penultimate embedding ``(n, embedding_dim)``.
    embedding: np.ndarray
    #: The classifier's class probabilities ``(n, classes)``.
    probabilities: np.ndarray
    #: MFCC means and standard deviations ``(n, 2 * MFCC_COEFFICIENTS)``.
    mel_statistics: np.ndarray
    #: Log-mel spectrograms pooled in time (`pool_frames`) and flattened ``(n, n_mels * pooled frames)``, in
    #: units of the config's dB range: what diversity, novelty and NDB measure distances in.
    mel_vectors: np.ndarray
    #: Class index of each sound ``(n,)``: the intended class, or the classifier's when none was asked for.
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> Features:
        """The rows `indices` of every feature."""
        return Features(
            self.embedding[indices],
            self.probabilities[indices],
            self.mel_statistics[indices],
            self.mel_vectors[indices],
            self.labels[indices],
        )


@torch.inference_mode()
def compute_features(
    spectrograms: np.ndarray,
    labels: np.ndarray | None,
    classifier: DrumClassifier,
    audio: AudioConfig,
    progress: Progress | None = None,
) -> Features:
    """Features of normalized spectrograms ``(n, freq, frames)`` (a memory map is read batch by batch).

    `labels` ``(n,)`` are the sounds' classes; None takes the classifier's predictions.
    """
    filterbank = mel_filterbank(audio.sample_rate, audio.n_fft)
    embeddings = [np.zeros((0, classifier.embedding_dim), np.float32)]
    probabilities = [np.zeros((0, classifier.head.out_features), np.float32)]
    statistics = [np.zeros((0, 2 * MFCC_COEFFICIENTS), np.float32)]
    vectors = [np.zeros((0, MEL_BANDS * pool_frames(np.zeros((1, 1, audio.n_frames))).shape[-1]), np.float32)]
    for start in range(0, len(spectrograms), FEATURE_BATCH):
        batch = np.asarray(spectrograms[start : start + FEATURE_BATCH], np.float32)
        embedding = classifier.embed(torch.from_numpy(batch))
        embeddings.append(embedding.numpy())
        probabilities.append(torch.softmax(classifier.head(embedding), dim=1).numpy())
        mel_db = log_mel(batch, audio, filterbank)
        statistics.append(mel_statistics(mel_db))
        pooled = pool_frames((mel_db - audio.min_db) / (audio.max_db - audio.min_db))
        vectors.append(pooled.reshape(len(batch), -1).astype(np.float32))
        if progress is not None:
            progress(min(start + FEATURE_BATCH, len(spectrograms)), len(spectrograms))
    probability = np.concatenate(probabilities)
    return Features(
        np.concatenate(embeddings),
        probability,
        np.concatenate(statistics),
        np.concatenate(vectors),
        probability.argmax(axis=1) if labels is None else np.asarray(labels, np.int64),
    )
