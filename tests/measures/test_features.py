"""Classifier-free features against librosa, and the features of a set through a classifier."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from dkvae.core.config import ModelConfig
from dkvae.measures.features import (
    MEL_BANDS,
    MFCC_COEFFICIENTS,
    compute_features,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_statistics,
    mel_to_hz,
    mfcc,
    pool_frames,
)
from dkvae.models.classifier import EMBEDDING_DIM, DrumClassifier

from ..conftest import TINY_AUDIO


@pytest.mark.parametrize(
    ("sample_rate", "n_fft", "n_mels", "fmin", "fmax"),
    [(44100, 1024, 64, 0.0, None), (8000, 128, 16, 0.0, None), (22050, 512, 40, 30.0, 8000.0)],
)
def test_mel_filterbank_matches_librosa(sample_rate, n_fft, n_mels, fmin, fmax) -> None:
    expected = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ours = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-7)


def test_mel_scale_matches_librosa_and_inverts() -> None:
    frequencies = np.array([0.0, 100.0, 999.0, 1000.0, 4000.0, 22050.0])
    np.testing.assert_allclose(hz_to_mel(frequencies), librosa.hz_to_mel(frequencies), rtol=1e-10)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(frequencies)), frequencies, rtol=1e-10, atol=1e-9)


def test_log_mel_and_mfcc_match_librosa() -> None:
    rng = np.random.default_rng(0)
    normalized = rng.random((2, TINY_AUDIO.n_freq, TINY_AUDIO.n_frames)).astype(np.float32)
    filterbank = mel_filterbank(TINY_AUDIO.sample_rate, TINY_AUDIO.n_fft, 16)
    ours = log_mel(normalized, TINY_AUDIO, filterbank)
    power = 10.0 ** ((normalized.astype(np.float64) * 120.0 - 100.0) / 10.0)
    mel_power = librosa.feature.melspectrogram(S=power, sr=TINY_AUDIO.sample_rate, n_fft=TINY_AUDIO.n_fft, n_mels=16)
    np.testing.assert_allclose(ours, 10.0 * np.log10(mel_power), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(mfcc(ours, 12), librosa.feature.mfcc(S=ours, n_mfcc=12), rtol=1e-4, atol=1e-3)


def test_pooling_averages_runs_of_frames_and_keeps_a_short_last_run() -> None:
    frames = np.arange(10, dtype=float)[None, None, :]
    np.testing.assert_allclose(pool_frames(frames, 4), [[[1.0, 4.0, 7.0, 9.0]]])
    np.testing.assert_allclose(pool_frames(frames, 10), frames)


def test_mel_statistics_are_mfcc_means_and_deviations_over_time() -> None:
    log_mel_db = np.random.default_rng(1).normal(-40, 10, (3, MEL_BANDS, 20))
    statistics = mel_statistics(log_mel_db)
    coefficients = mfcc(log_mel_db)
    assert statistics.shape == (3, 2 * MFCC_COEFFICIENTS)
    np.testing.assert_allclose(statistics[:, :MFCC_COEFFICIENTS], coefficients.mean(axis=-1), rtol=1e-5)
    np.testing.assert_allclose(statistics[:, MFCC_COEFFICIENTS:], coefficients.std(axis=-1), rtol=1e-5, atol=1e-5)


def test_features_of_a_set_through_a_classifier() -> None:
    torch.manual_seed(0)
    classifier = DrumClassifier(
        ModelConfig(kind="classifier", channels=(4, 8), kernel_sizes=(3, 3), strides=((2, 2), (2, 2))),
        TINY_AUDIO.shape,
        3,
    ).eval()
    spectrograms = np.random.default_rng(2).random((70, *TINY_AUDIO.shape)).astype(np.float16)
    calls = []
    features = compute_features(spectrograms, None, classifier, TINY_AUDIO, lambda *call: calls.append(call))
    assert features.embedding.shape == (70, EMBEDDING_DIM) and features.probabilities.shape == (70, 3)
    np.testing.assert_allclose(features.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(features.labels, features.probabilities.argmax(axis=1))
    assert features.mel_vectors.shape == (70, MEL_BANDS * 17)  # 33 frames averaged in pairs
    assert calls[-1] == (70, 70)
    with torch.inference_mode():
        expected = classifier.embed(torch.from_numpy(spectrograms[:5].astype(np.float32))).numpy()
    np.testing.assert_allclose(features.embedding[:5], expected, rtol=1e-4, atol=1e-5)
    given = compute_features(spectrograms[:4], np.array([2, 2, 1, 0]), classifier, TINY_AUDIO)
    np.testing.assert_array_equal(given.labels, [2, 2, 1, 0])
    assert len(given.subset(np.array([0, 3]))) == 2
    assert len(compute_features(spectrograms[:0], None, classifier, TINY_AUDIO)) == 0
