"""The latent space: principal components, KL per dimension, used dimensions, UMAP only when installed."""

from __future__ import annotations

import sys

import numpy as np
import torch

from dkvae import Bank
from dkvae.evaluation.latent import (
    ACTIVE_VARIANCE,
    LatentSpace,
    analyse_latent_space,
    encode_posteriors,
    principal_components,
    umap_embedding,
)
from dkvae.inference.machine import DrumMachine


def test_points_on_a_line_have_one_principal_component() -> None:
    direction = np.array([3.0, 4.0, 0.0]) / 5.0
    points = np.linspace(-2, 2, 9)[:, None] * direction + 1.0
    projection, explained = principal_components(points)
    np.testing.assert_allclose(explained, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(projection[:, 0]), np.abs(np.linspace(-2, 2, 9)), atol=1e-12)


def test_without_umap_installed_there_is_no_umap_map(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)
    assert umap_embedding(np.random.default_rng(0).random((20, 3)), seed=0) is None


def test_the_latent_space_of_the_test_split(eval_bank, eval_model) -> None:
    machine = DrumMachine.load(eval_model)
    _, _, x_test, y_test, _, _ = Bank(eval_bank, process=False).load_spectrograms()
    latent = analyse_latent_space(machine, x_test, y_test)
    assert latent.means.shape == (len(x_test), machine.latent_dim) and latent.pca.shape == (len(x_test), 2)
    means, logvars = machine.model.encode(torch.tensor(np.asarray(x_test, np.float32)), torch.tensor(y_test))
    np.testing.assert_allclose(latent.means, means.detach().numpy(), rtol=1e-4, atol=1e-5)
    expected = machine.model.kl_per_dimension(means, logvars).detach().numpy()
    np.testing.assert_allclose(latent.kl_per_dimension, expected, rtol=1e-4)
    assert latent.active_dimensions == int((means.detach().numpy().var(axis=0) > ACTIVE_VARIANCE).sum())
    assert 0 < latent.pca_explained.sum() <= 1 + 1e-9


def test_active_dimensions_are_those_whose_means_vary_across_sounds() -> None:
    means = np.zeros((50, 4))
    means[:, 1] = np.random.default_rng(0).standard_normal(50)
    means[:, 2] = 0.01 * np.random.default_rng(1).standard_normal(50)
    means[:, 3] = 5.0
    space = LatentSpace(means, np.zeros(50), None, np.zeros((50, 2)), np.zeros(2), None)
    assert space.active_dimensions == 1


def test_a_codecs_latent_sequences_are_analysed_flattened_as_the_machine_flattens_them(tmp_path) -> None:
    from ..inference.test_export_codec import write_codec

    machine = DrumMachine.load(write_codec(tmp_path / "codec", flow=True))
    spectrograms = np.random.default_rng(0).uniform(0, 1, (5, *machine.config.audio.shape)).astype(np.float32)
    means, logvars = encode_posteriors(machine, spectrograms, np.zeros(5, np.int64))
    assert means.shape == logvars.shape == (5, machine.latent_dim)
    # the machine encodes on one thread, the analysis on as many as torch has: sums in another order
    np.testing.assert_allclose(means, machine.encode_spectrograms(spectrograms, "kick"), rtol=1e-4, atol=1e-5)
    space = analyse_latent_space(machine, spectrograms, np.zeros(5, np.int64))
    assert space.pca.shape == (5, 2) and space.means.shape == (5, machine.latent_dim)
