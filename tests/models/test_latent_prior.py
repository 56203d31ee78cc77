"""Tests for the per-class latent prior: the fit's statistics, shrinkage, sampling, files, and its use by a machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dkvae import Bank
from dkvae.core.errors import DkvaeError
from dkvae.inference.machine import DrumMachine
from dkvae.models.checkpoint import save_model_dir
from dkvae.models.latent_prior import LATENT_PRIOR_NAME, SHRINKAGE_SOUNDS, LatentPrior, fit_latent_prior

from ..conftest import tiny_config


def identity_encode(batch: np.ndarray, index: int) -> np.ndarray:
    """Stand-in encoder: the 'spectrograms' here are the latents themselves, shaped (n, 1, dim)."""
    return batch.reshape(len(batch), -1)


@pytest.fixture
def codes() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    first = rng.normal([3.0, 0.0, 0.0], [1.0, 0.5, 0.1], size=(400, 3))
    second = rng.normal([-2.0, 1.0, 0.0], [0.2, 0.2, 0.2], size=(400, 3))
    latents = np.concatenate([first, second])[:, None, :].astype(np.float32)
    return latents, np.repeat([0, 1], 400)


def test_means_and_shrunk_covariances(codes) -> None:
    latents, labels = codes
    prior = fit_latent_prior(identity_encode, latents, labels, 3)
    flat = latents[:, 0, :].astype(np.float64)
    np.testing.assert_allclose(prior.mean[0], flat[:400].mean(axis=0), atol=1e-5)
    pooled = np.cov(flat, rowvar=False)
    scatter = np.cov(flat[:400], rowvar=False) * 399
    expected = (scatter + SHRINKAGE_SOUNDS * pooled) / (399 + SHRINKAGE_SOUNDS) + 1e-4 * np.eye(3)
    np.testing.assert_allclose(prior.scale_tril[0] @ prior.scale_tril[0].T, expected, rtol=1e-4)
    # a class without sounds gets the pooled statistics
    np.testing.assert_allclose(prior.mean[2], flat.mean(axis=0), atol=1e-5)
    assert np.allclose(np.triu(prior.scale_tril[1], 1), 0)


def test_samples_follow_the_fitted_gaussian(codes) -> None:
    latents, labels = codes
    prior = fit_latent_prior(identity_encode, latents, labels, 2)
    np.testing.assert_array_equal(prior.sample(1, np.zeros((1, 3), np.float32))[0], prior.mean[1])
    samples = prior.sample(0, np.random.default_rng(1).standard_normal((20000, 3)))
    np.testing.assert_allclose(samples.mean(axis=0), prior.mean[0], atol=0.03)
    np.testing.assert_allclose(
        samples.std(axis=0), np.sqrt(np.diag(prior.scale_tril[0] @ prior.scale_tril[0].T)), rtol=0.03
    )


def test_a_class_with_fewer_sounds_than_dimensions_still_gets_a_full_rank_spread() -> None:
    rng = np.random.default_rng(2)
    latents = rng.standard_normal((40, 1, 8)).astype(np.float32)
    labels = np.array([0] * 37 + [1] * 3)
    prior = fit_latent_prior(identity_encode, latents, labels, 2)
    assert np.all(np.linalg.eigvalsh(prior.scale_tril[1] @ prior.scale_tril[1].T) > 1e-3)


def test_save_and_load_round_trip(codes, tmp_path) -> None:
    latents, labels = codes
    prior = fit_latent_prior(identity_encode, latents, labels, 2)
    prior.save(tmp_path, "0123456789ab")
    loaded = LatentPrior.load(tmp_path)
    assert loaded is not None and loaded.model_id == "0123456789ab"
    np.testing.assert_array_equal(loaded.mean, prior.mean)
    np.testing.assert_array_equal(loaded.scale_tril, prior.scale_tril)
    assert LatentPrior.fitted_for(tmp_path) == "0123456789ab"
    assert LatentPrior.load(tmp_path / "nowhere") is None and LatentPrior.fitted_for(tmp_path / "nowhere") is None


def test_training_fits_the_prior_and_generation_uses_it(trained_run, tiny_bank, tmp_path) -> None:
    machine = DrumMachine.load(trained_run)
    prior = machine.directory.latent_prior
    assert prior is not None and prior.mean.shape == (len(machine.instruments), machine.latent_dim)
    bank = Bank(tiny_bank, preset=tiny_config())
    x_train, y_train, *_ = bank.load_spectrograms()  # training read the rows by offset; the same prior
    refit = DrumMachine.load(trained_run).fit_latent_prior(x_train, y_train, bank.instruments)
    np.testing.assert_allclose(refit.mean, prior.mean, atol=1e-6)
    np.testing.assert_allclose(refit.scale_tril, prior.scale_tril, atol=1e-6)
    index = machine.class_index("snare")
    np.testing.assert_allclose(
        machine.sample_latents(3, 5, "snare"),
        prior.mean[index] + machine.noise(3, 5) @ prior.scale_tril[index].T,
        atol=1e-6,
    )
    bare = tmp_path / "bare"
    shutil.copytree(trained_run, bare)
    (bare / LATENT_PRIOR_NAME).unlink()
    without = DrumMachine.load(bare)
    np.testing.assert_array_equal(without.sample_latents(3, 5, "snare"), without.noise(3, 5))
    assert not np.array_equal(machine.generate("snare", 1, 5), without.generate("snare", 1, 5))


def test_a_prior_of_the_wrong_shape_is_refused(trained_run, tmp_path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(trained_run, broken)
    LatentPrior(np.zeros((2, 3), np.float32), np.zeros((2, 3, 3), np.float32)).save(broken, "")
    with pytest.raises(DkvaeError, match="latent prior"):
        DrumMachine.load(broken)


def test_training_binds_the_prior_to_its_weights_and_a_new_save_drops_a_stale_one(trained_run, tmp_path) -> None:
    run = Path(shutil.copytree(trained_run, tmp_path / "run"))
    machine = DrumMachine.load(run)
    assert machine.directory.latent_prior.model_id == machine.model_id == LatentPrior.fitted_for(run)
    directory = machine.directory
    with torch.no_grad():
        next(directory.model.parameters()).add_(0.01)  # the next best epoch's weights
    save_model_dir(run, directory.model, directory.config, directory.class_names, directory.normalization)
    assert not (run / LATENT_PRIOR_NAME).exists()  # fitted to the old weights: gone, not silently reused
    assert DrumMachine.load(run).directory.latent_prior is None
    (run / LATENT_PRIOR_NAME).write_bytes(b"\x00damaged")
    save_model_dir(run, directory.model, directory.config, directory.class_names, directory.normalization)
    assert not (run / LATENT_PRIOR_NAME).exists()  # a damaged one goes the same way, without stopping the save


def test_a_prior_fitted_to_other_weights_is_refused(trained_run, tmp_path) -> None:
    run = Path(shutil.copytree(trained_run, tmp_path / "run"))
    prior = LatentPrior.load(run)
    prior.save(run, "ffffffffffff")
    with pytest.raises(DkvaeError, match="latent prior was fitted to model ffffffffffff"):
        DrumMachine.load(run)
