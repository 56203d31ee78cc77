"""The metrics pinned to known answers: analytic Fréchet distances, KID of equal sets, IS of a perfect classifier, NDB, copies."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from dkvae.measures.metrics import (
    best_index,
    copy_fraction,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    kmeans,
    log_spectral_distance,
    mean_pairwise_distance,
    mmd2_unbiased,
    multi_resolution_stft_distance,
    ndb,
    nearest_indices,
    nearest_neighbour_distances,
    onset_peak_ratio,
    polynomial_kernel,
    spectral_convergence,
)


@pytest.fixture
def gaussian() -> np.ndarray:
    """500 correlated 8-dimensional points."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((500, 8)) @ rng.standard_normal((8, 8)) + 2.0


def test_identical_sets_have_frechet_distance_zero(gaussian) -> None:
    assert frechet_distance(gaussian, gaussian) == pytest.approx(0.0, abs=1e-8)


def test_a_shifted_copy_has_the_analytic_frechet_distance(gaussian) -> None:
    shift = np.linspace(-1.0, 2.0, gaussian.shape[1])
    assert frechet_distance(gaussian, gaussian + shift) == pytest.approx(float(np.sum(shift**2)), rel=1e-9)


def test_frechet_distance_matches_the_closed_form_for_any_covariances() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5))
    b = rng.standard_normal((400, 5)) @ rng.standard_normal((5, 5)) + 1.0
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * scipy.linalg.sqrtm(cov_a @ cov_b).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_of_scaled_gaussians_is_the_sum_of_squared_root_differences() -> None:
    rng = np.random.default_rng(2)
    white = rng.standard_normal((2000, 3))
    white = (white - white.mean(axis=0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(white, rowvar=False))).T
    scales = np.array([1.0, 2.0, 3.0])
    # Covariances I and diag(scales²), equal means: FD = sum((1 - scales)²).
    assert frechet_distance(white, white * scales) == pytest.approx(float(np.sum((1.0 - scales) ** 2)), rel=1e-9)


def test_frechet_distance_stays_finite_with_fewer_points_than_dimensions() -> None:
    rng = np.random.default_rng(3)
    value = frechet_distance(rng.standard_normal((10, 40)), rng.standard_normal((12, 40)))
    assert math.isfinite(value) and value > 0


def test_identical_sets_have_kid_near_zero_and_a_shift_raises_it() -> None:
    features = np.random.default_rng(0).standard_normal((500, 8))
    same, _ = kernel_inception_distance(features, features, subsets=3)
    shifted, _ = kernel_inception_distance(features, features + 0.5, subsets=3)
    # Unbiased within each set, the estimator keeps the cross term's diagonal: -2 k(x, x) / n on identical sets.
    diagonal = np.diag(polynomial_kernel(features, features)).mean()
    assert same == pytest.approx(-2 * diagonal / len(features), rel=0.2)
    assert abs(same) < 0.05 * shifted


def test_kid_is_the_same_from_whole_set_kernels_and_from_each_rounds_own(monkeypatch) -> None:
    from dkvae.measures import metrics

    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((40, 4)), rng.standard_normal((60, 4)) + 0.3
    whole = kernel_inception_distance(a, b, subsets=10, subset_size=30, seed=2)
    monkeypatch.setattr(metrics, "KID_FULL_KERNEL_ROWS", 10)
    assert kernel_inception_distance(a, b, subsets=10, subset_size=30, seed=2) == pytest.approx(whole)


def test_kid_is_unbiased_for_two_samples_of_one_distribution() -> None:
    rng = np.random.default_rng(4)
    values = [mmd2_unbiased(rng.standard_normal((50, 4)), rng.standard_normal((50, 4))) for _ in range(300)]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def test_mmd_matches_its_definition_written_as_loops() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((7, 3)) + 0.5
    k = lambda a, b: (a @ b / 3 + 1.0) ** 3
    within_x = sum(k(x[i], x[j]) for i in range(6) for j in range(6) if i != j) / (6 * 5)
    within_y = sum(k(y[i], y[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    across = sum(k(x[i], y[j]) for i in range(6) for j in range(7)) / (6 * 7)
    assert mmd2_unbiased(x, y) == pytest.approx(within_x + within_y - 2 * across)
    assert polynomial_kernel(x, y)[2, 3] == pytest.approx(k(x[2], y[3]))


def test_inception_score_of_a_perfectly_confident_classifier_on_uniform_classes_is_the_class_count() -> None:
    probabilities = np.eye(7)[np.repeat(np.arange(7), 5)]
    assert inception_score(probabilities) == pytest.approx(7.0)


def test_inception_score_is_one_when_every_sound_looks_alike() -> None:
    assert inception_score(np.eye(4)[np.zeros(10, int)]) == pytest.approx(1.0)
    assert inception_score(np.full((10, 4), 0.25)) == pytest.approx(1.0)


def test_inception_score_weights_let_every_class_count_alike() -> None:
    labels = np.array([0] * 9 + [1])
    probabilities = np.eye(2)[labels]
    assert inception_score(probabilities) < 2.0
    assert inception_score(probabilities, 1.0 / np.bincount(labels)[labels]) == pytest.approx(2.0)


def test_ndb_finds_no_bins_for_the_same_distribution_and_many_for_a_shifted_one() -> None:
    rng = np.random.default_rng(6)
    reference = rng.standard_normal((2000, 2))
    bins = kmeans(reference, 10, seed=0)
    same, k = ndb(bins, reference, rng.standard_normal((2000, 2)))
    shifted, _ = ndb(bins, reference, rng.standard_normal((2000, 2)) + 1.5)
    assert k == 10 and same <= 2 and shifted >= 7


def test_kmeans_finds_well_separated_clusters() -> None:
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.concatenate([centre + 0.1 * rng.standard_normal((50, 2)) for centre in centres])
    found = kmeans(points, 3, seed=1)
    assert sorted(nearest_indices(centres, found).tolist()) == [0, 1, 2]
    np.testing.assert_allclose(found[nearest_indices(centres, found)], centres, atol=0.1)


def test_a_copied_training_set_is_flagged_by_the_nearest_neighbour_distances() -> None:
    rng = np.random.default_rng(8)
    train, held_out = rng.standard_normal((300, 16)), rng.standard_normal((60, 16))
    copies = train[rng.choice(300, 50, replace=False)]
    held_out_distances = nearest_neighbour_distances(held_out, train)
    copied = nearest_neighbour_distances(copies, train)
    np.testing.assert_allclose(copied, 0.0, atol=1e-6)
    assert copy_fraction(copied, held_out_distances) == 1.0
    assert copy_fraction(nearest_neighbour_distances(rng.standard_normal((200, 16)), train), held_out_distances) < 0.2


def test_nearest_neighbour_distances_match_brute_force() -> None:
    rng = np.random.default_rng(9)
    queries, references = rng.standard_normal((300, 5)), rng.standard_normal((40, 5))
    expected = np.sqrt(((queries[:, None] - references[None]) ** 2).sum(axis=2)).min(axis=1)
    np.testing.assert_allclose(nearest_neighbour_distances(queries, references, batch=7), expected, rtol=1e-6)


def test_mean_pairwise_distance() -> None:
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])) == pytest.approx((5 + 0 + 5) / 3)
    assert math.isnan(mean_pairwise_distance(np.zeros((1, 2))))


def test_reconstruction_metrics_are_perfect_for_identical_spectrograms() -> None:
    rng = np.random.default_rng(10)
    magnitudes = rng.random((3, 20, 12)) + 0.01
    np.testing.assert_allclose(spectral_convergence(magnitudes, magnitudes), 0.0)
    np.testing.assert_allclose(log_spectral_distance(magnitudes, magnitudes), 0.0)
    np.testing.assert_allclose(onset_peak_ratio(magnitudes, magnitudes), 1.0)
    np.testing.assert_allclose(spectral_convergence(magnitudes, np.zeros_like(magnitudes)), 1.0)


def test_log_spectral_distance_of_a_constant_gain_is_the_gain_in_db() -> None:
    spectrogram_db = np.random.default_rng(11).uniform(-80, 0, (2, 30, 10))
    np.testing.assert_allclose(log_spectral_distance(spectrogram_db, spectrogram_db - 6.0), 6.0)


def test_onset_peak_ratio_falls_when_an_attack_is_smeared() -> None:
    sharp = np.zeros((1, 8, 10))
    sharp[:, :, 2:] = np.exp(-np.arange(8) / 3.0)
    smeared = np.zeros((1, 8, 10))
    smeared[:, :, 2:] = np.minimum(np.arange(1, 9) / 4.0, 1.0) * np.exp(-np.arange(8) / 3.0)
    assert onset_peak_ratio(sharp, smeared)[0] < 0.5
    assert onset_peak_ratio(sharp, 2.0 * sharp)[0] == pytest.approx(2.0)


def test_multi_resolution_stft_distance_is_zero_for_the_same_audio_and_grows_with_noise() -> None:
    rng = np.random.default_rng(12)
    audio = (np.exp(-np.arange(8192) / 800.0) * rng.standard_normal(8192))[None].astype(np.float32)
    np.testing.assert_allclose(multi_resolution_stft_distance(audio, audio), 0.0, atol=1e-6)
    slightly = multi_resolution_stft_distance(audio, audio + 0.01 * rng.standard_normal(audio.shape).astype(np.float32))
    badly = multi_resolution_stft_distance(audio, rng.standard_normal(audio.shape).astype(np.float32))
    assert 0 < slightly[0] < badly[0]


@pytest.mark.parametrize(
    ("values", "better", "expected"),
    [
        ([3.0, 1.0, 2.0], "lower", 1),
        ([3.0, 1.0, None], "higher", 0),
        ([0.5, 1.8, 1.1], "one", 2),
        ([0.5, 1.8], "none", None),
        ([float("nan"), 2.0], "lower", None),
    ],
)
def test_best_index_follows_each_direction(values, better, expected) -> None:
    assert best_index(values, better) == expected


def test_log_mel_distance_is_zero_for_the_same_sound_and_the_gain_between_two() -> None:
    from dkvae.measures.metrics import log_mel_distance

    rng = np.random.default_rng(0)
    noise = (rng.standard_normal((2, 44100)) * np.exp(-np.arange(44100) / 8000)).astype(np.float32)
    assert log_mel_distance(noise, noise, 44100) == pytest.approx([0.0, 0.0], abs=1e-9)
    # 6 dB quieter everywhere: every band 6.02 dB down, except where the floor (80 dB under the peak) clips both.
    distance = log_mel_distance(noise, noise / 2, 44100)
    assert np.all((distance > 5.0) & (distance <= 20 * np.log10(2) + 1e-6))


def test_attack_share_tells_a_click_from_a_swell() -> None:
    from dkvae.measures.metrics import attack_share

    rate = 44100
    time = np.arange(rate // 5) / rate
    click = np.exp(-time / 0.002) * np.sin(2 * np.pi * 200 * time)
    swell = np.minimum(time / 0.05, 1.0) * np.sin(2 * np.pi * 200 * time)
    shares = attack_share(np.stack([click, swell]), rate)
    assert shares[0] > 0.99 and shares[1] < 0.01
