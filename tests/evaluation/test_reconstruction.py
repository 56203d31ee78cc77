"""Reconstruction measured three ways, pinned with a model that gives back exactly what it is given."""

from __future__ import annotations

import numpy as np
import pytest

from dkvae import Bank
from dkvae.evaluation.reconstruction import RECONSTRUCTION_METRICS, STAGES, measure_reconstruction, summarize
from dkvae.inference.machine import DrumMachine


class IdentityMachine:
    """A perfect autoencoder: its latent is the spectrogram itself."""

    def __init__(self, machine: DrumMachine) -> None:
        self.config = machine.config
        self.shape = machine.config.audio.shape

    def encode_spectrograms(self, spectrograms: np.ndarray, instrument: str) -> np.ndarray:
        return np.asarray(spectrograms, np.float32).reshape(len(spectrograms), -1)

    def decode_spectrograms(self, latents: np.ndarray, instrument: str) -> np.ndarray:
        return latents.reshape(len(latents), *self.shape)


@pytest.fixture(scope="module")
def perfect(eval_bank, eval_model):
    bank = Bank(eval_bank, process=False)
    return bank, measure_reconstruction(IdentityMachine(DrumMachine.load(eval_model)), bank)


def test_a_perfect_model_scores_perfectly_before_inversion(perfect) -> None:
    _, result = perfect
    spectrogram = result.table[result.table["stage"] == "spectrogram"]
    np.testing.assert_allclose(spectrogram["spectral_convergence"], 0.0, atol=1e-6)
    np.testing.assert_allclose(spectrogram["log_spectral_distance"], 0.0, atol=1e-4)
    np.testing.assert_allclose(spectrogram["multi_resolution_stft_distance"], 0.0, atol=1e-6)
    np.testing.assert_allclose(spectrogram["onset_peak_ratio"], 1.0, rtol=1e-6)


def test_a_perfect_model_after_inversion_is_exactly_inversion_alone(perfect) -> None:
    _, result = perfect
    audio = result.table[result.table["stage"] == "audio"][list(RECONSTRUCTION_METRICS)].to_numpy()
    inversion = result.table[result.table["stage"] == "inversion"][list(RECONSTRUCTION_METRICS)].to_numpy()
    np.testing.assert_allclose(audio, inversion, rtol=1e-6)
    assert (audio[:, 0] > 0).all()


def test_every_test_sound_is_measured_and_one_example_kept_per_class(perfect) -> None:
    bank, result = perfect
    tests = bank.data[bank.data["split"] == "test"]
    assert len(result.table) == 3 * len(tests) and result.unreadable == 0
    assert result.example_labels == sorted(tests["label"].unique())
    np.testing.assert_allclose(result.decoded, result.originals, atol=1e-3)
    assert result.heard.shape == result.originals.shape and 0 <= result.heard.min() and result.heard.max() <= 1


def test_summaries_are_medians_overall_and_per_class(perfect) -> None:
    _, result = perfect
    summary = summarize(result.table)
    assert list(summary) == list(STAGES)
    audio = result.table[result.table["stage"] == "audio"]
    assert summary["audio"]["overall"]["log_spectral_distance"] == pytest.approx(
        audio["log_spectral_distance"].median()
    )
    kicks = audio[audio["label"] == "kick"]
    assert summary["audio"]["kick"]["spectral_convergence"] == pytest.approx(kicks["spectral_convergence"].median())


def test_a_held_out_source_is_measured_whole_with_the_log_mel_distance_beside_its_ceiling(eval_bank, eval_model) -> None:
    from dkvae.evaluation.evaluate import holdout_document
    from dkvae.importers.synth import SOURCE

    bank = Bank(eval_bank, process=False)
    result = measure_reconstruction(IdentityMachine(DrumMachine.load(eval_model)), bank, sources=(SOURCE,))
    assert len(result.table) == 3 * len(bank.data)
    spectrogram = result.table[result.table["stage"] == "spectrogram"]
    assert spectrogram["log_mel_distance"].isna().all()
    audio = result.table[result.table["stage"] == "audio"]
    assert (audio["log_mel_distance"] > 0).all() and (audio["attack_share_ratio"] > 0).all()
    document = holdout_document(result, (SOURCE,))
    assert document["sources"] == [SOURCE] and document["sounds"] == len(bank.data)
    assert "log_mel_distance" not in document["spectrogram"]["overall"]
    # A perfect model's audio is the ceiling's exactly.
    assert document["log_mel_ratio_to_ceiling"] == pytest.approx(1.0)
