"""Evaluation metrics as pure functions on arrays: reconstruction distances, Fréchet distance, KID, IS, NDB, diversity, novelty.

Reconstruction metrics take batches and return one value per sound ``(n,)``; set metrics take
feature matrices ``(n, dim)`` and return one number. Which way each metric is better is in `BETTER`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from scipy.special import ndtri

from dkvae.sound.mel import mel_filterbank

#: Magnitudes (a full-scale sine reads 1) are floored here before the STFT distance's logarithm: -100 dB,
#: the default preset's floor. Lower floors let inaudible differences in silence (1e-9 against 1e-7)
#: outweigh the sound itself.
LOG_MAGNITUDE_FLOOR = 1e-5
#: FFT sizes of the multi-resolution STFT distance (hop a quarter of each), in samples.
MULTI_RESOLUTION_FFT_SIZES: tuple[int, ...] = (256, 1024, 4096)
#: The log-mel distance's analysis: FFT size and hop (samples at 44.1 kHz), mel bands, and the floor below
#: each reference's loudest band (dB) under which both sides are clipped, so silence cannot dominate.
LOG_MEL_FFT, LOG_MEL_HOP, LOG_MEL_BANDS, LOG_MEL_RANGE_DB = 2048, 512, 128, 80.0
#: The attack share: the energy of a sound's first `ATTACK_SECONDS` over that of its first `BODY_SECONDS`.
ATTACK_SECONDS, BODY_SECONDS = 0.010, 0.100
#: KID: how many random subsets are averaged, and their largest size (Bińkowski et al. 2018).
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
#: KID computes the kernel matrices of whole sets up to this many rows once (at most 128 MB of float64 each).
KID_FULL_KERNEL_ROWS = 4000
#: NDB: significance level of each bin's two-proportion test (Richardson & Weiss 2018).
NDB_SIGNIFICANCE = 0.05
#: k-means iterations when NDB places its bins.
KMEANS_ITERATIONS = 25
#: A generated sound nearer a training sound than this quantile of real held-out sounds' distances counts as a copy.
COPY_QUANTILE = 0.05

#: "lower" or "higher" is better; "one": nearer 1 (in ratio) is better; "none": not ranked (a diagnostic).
#: The novelty figures are diagnostics: they flag copies of the training set (near 0), but noise bursts
#: lie as far from the training sounds as held-out drums do, so they cannot rank sounds by quality.
Better = Literal["lower", "higher", "one", "none"]

#: Which way every metric the report names is better.
BETTER: dict[str, Better] = {
    "spectral_convergence": "lower",
    "log_spectral_distance": "lower",
    "multi_resolution_stft_distance": "lower",
    "onset_peak_ratio": "one",
    "log_mel_distance": "lower",
    "attack_share_ratio": "one",
    "accuracy": "higher",
    "inception_score": "higher",
    "frechet_distance_classifier": "lower",
    "kid_classifier": "lower",
    "frechet_distance_mel": "lower",
    "kid_mel": "lower",
    "ndb_fraction": "lower",
    "diversity_ratio": "one",
    "novelty_ratio": "none",
    "copy_fraction": "none",
    "active_dimensions": "none",
}


# ----------------------------------------------------------------------------- reconstruction


def spectral_convergence(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """``||S - Ŝ||_F / ||S||_F`` per sound, of linear magnitudes ``(n, freq, frames)``; 0 is perfect."""
    reference = np.asarray(reference, np.float64)
    difference = np.linalg.norm((np.asarray(estimate, np.float64) - reference).reshape(len(reference), -1), axis=1)
    return difference / np.maximum(np.linalg.norm(reference.reshape(len(reference), -1), axis=1), np.finfo(float).tiny)


def log_spectral_distance(reference_db: np.ndarray, estimate_db: np.ndarray) -> np.ndarray:
    """Log-spectral distance in dB per sound: the RMS difference over frequency, averaged over frames.

    Takes dB spectrograms ``(n, freq, frames)`` (floored as the caller sees fit); returns ``(n,)``.
    """
    difference = np.asarray(estimate_db, np.float64) - np.asarray(reference_db, np.float64)
    return np.sqrt(np.mean(difference**2, axis=1)).mean(axis=1)


def stft_distance(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """One resolution of the multi-resolution STFT loss (Yamamoto et al. 2020) per sound ``(n,)``.

    Spectral convergence plus the mean absolute difference of log10 magnitudes, of linear magnitudes
    ``(n, freq, frames)``.
    """
    log_reference = np.log10(np.maximum(np.asarray(reference, np.float64), LOG_MAGNITUDE_FLOOR))
    log_estimate = np.log10(np.maximum(np.asarray(estimate, np.float64), LOG_MAGNITUDE_FLOOR))
    return spectral_convergence(reference, estimate) + np.abs(log_estimate - log_reference).mean(axis=(1, 2))


def stft_magnitudes(audio: np.ndarray, n_fft: int) -> np.ndarray:
    """Linear STFT magnitudes ``(n, n_fft // 2 + 1, frames)`` of audio ``(n, samples)``: Hann window, hop ``n_fft // 4``, centred.

    Scaled as `dkvae.sound.audio.log_spectrogram` scales them: a full-scale sine reads 1.
    """
    signal = torch.as_tensor(np.asarray(audio, np.float32))
    window = torch.hann_window(n_fft, periodic=True)
    stft = torch.stft(signal, n_fft, n_fft // 4, window=window, center=True, pad_mode="constant", return_complex=True)
    return stft.abs().numpy() / (n_fft / 4.0)


def multi_resolution_stft_distance(
    reference: np.ndarray, estimate: np.ndarray, fft_sizes: tuple[int, ...] = MULTI_RESOLUTION_FFT_SIZES
) -> np.ndarray:
    """`stft_distance` averaged over STFTs of several sizes, per sound, of audio ``(n, samples)``; returns ``(n,)``."""
    distances = [stft_distance(stft_magnitudes(reference, size), stft_magnitudes(estimate, size)) for size in fft_sizes]
    return np.mean(distances, axis=0)


def onset_strength(magnitudes: np.ndarray) -> np.ndarray:
    """Spectral flux ``(n, frames)``: the summed rise of linear magnitudes ``(n, freq, frames)`` from the frame before (silence before the first)."""
    magnitudes = np.asarray(magnitudes, np.float64)
    previous = np.concatenate([np.zeros_like(magnitudes[..., :1]), magnitudes[..., :-1]], axis=-1)
    return np.maximum(magnitudes - previous, 0.0).sum(axis=1)


def onset_peak_ratio(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Attack preservation per sound: the peak spectral flux of the estimate over the reference's, ``(n,)``.

    Takes linear magnitudes ``(n, freq, frames)``. 1 keeps the attack; below 1 it is smeared or
    softened, above 1 sharpened.
    """
    peak_reference = onset_strength(reference).max(axis=1)
    return onset_strength(estimate).max(axis=1) / np.maximum(peak_reference, np.finfo(float).tiny)


# ----------------------------------------------------------------------------- distributions


def log_mel_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean absolute difference (dB) of log mel band powers per sound ``(n,)`` between audio ``(n, samples)``.

    `LOG_MEL_BANDS` Slaney mel bands of a `LOG_MEL_FFT`-point STFT (hop `LOG_MEL_HOP`), both sides floored
    `LOG_MEL_RANGE_DB` below the reference's loudest band; averaged over bands and frames.
    """
    filters = torch.from_numpy(mel_filterbank(sample_rate, LOG_MEL_FFT, LOG_MEL_BANDS))
    window = torch.hann_window(LOG_MEL_FFT, dtype=torch.float64)

    def log_mel(audio: np.ndarray) -> torch.Tensor:
        samples = torch.as_tensor(audio, dtype=torch.float64)
        spectrum = torch.stft(samples, LOG_MEL_FFT, LOG_MEL_HOP, window=window, return_complex=True)
        return 10.0 * torch.log10(filters.double() @ spectrum.abs().square() + 1e-20)

    reference_db, estimate_db = log_mel(reference), log_mel(estimate)
    floor = reference_db.amax(dim=(-2, -1), keepdim=True) - LOG_MEL_RANGE_DB
    difference = torch.maximum(reference_db, floor) - torch.maximum(estimate_db, floor)
    return difference.abs().mean(dim=(-2, -1)).numpy()


def attack_share(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The share of each sound's first `BODY_SECONDS` of energy that lies in its first `ATTACK_SECONDS` ``(n,)``.

    A drum keeps its attack when its estimate's share is near the original's (`BETTER`: their ratio, near 1).
    """
    energy = np.square(np.asarray(audio, dtype=np.float64))
    attack = energy[..., : round(ATTACK_SECONDS * sample_rate)].sum(-1)
    body = energy[..., : round(BODY_SECONDS * sample_rate)].sum(-1)
    return attack / np.maximum(body, 1e-20)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The positive semi-definite square root of a symmetric matrix (negative eigenvalues from rounding clipped to 0)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(n, dim)`` and ``(m, dim)``.

    ``||mu_a - mu_b||² + tr(S_a) + tr(S_b) - 2 tr((S_a^½ S_b S_a^½)^½)``, with the trace of the
    square root taken from the eigenvalues of a symmetric matrix, so it stays real and stable even
    when the covariances are singular (fewer sounds than dimensions).
    """
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    covariance_a = np.atleast_2d(np.cov(a, rowvar=False))
    covariance_b = np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _symmetric_sqrt(covariance_a)
    product = root_a @ covariance_b @ root_a
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((product + product.T) / 2.0), 0.0, None)).sum()
    mean_term = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2))
    return max(0.0, mean_term + float(np.trace(covariance_a) + np.trace(covariance_b) - 2.0 * cross))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """KID's cubic kernel ``(x·y / dim + 1)³`` between rows of ``(n, dim)`` and ``(m, dim)``: ``(n, m)``."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD with `polynomial_kernel` between sets ``(n, dim)`` and ``(m, dim)``, n, m >= 2."""
    return _mmd2_from_kernels(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))


def _mmd2_from_kernels(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """`mmd2_unbiased` from the three kernel matrices ``(n, n)``, ``(m, m)``, ``(n, m)``."""
    n, m = len(k_xx), len(k_yy)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kernel_inception_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): mean and standard deviation of `mmd2_unbiased` over random subsets.

    Each of `subsets` rounds draws ``min(subset_size, n, m)`` rows of each set without replacement.
    Unbiased: sets from one distribution give 0 on average (single values may be slightly negative).
    Sets of up to `KID_FULL_KERNEL_ROWS` rows have their kernel matrices computed once, and each
    round reads its rows from them; larger sets get each round's kernels computed afresh.
    """
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        return math.nan, math.nan
    full = max(len(a), len(b)) <= KID_FULL_KERNEL_ROWS
    if full:
        k_aa, k_bb, k_ab = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        i, j = rng.choice(len(a), size, replace=False), rng.choice(len(b), size, replace=False)
        if full:
            values.append(_mmd2_from_kernels(k_aa[np.ix_(i, i)], k_bb[np.ix_(j, j)], k_ab[np.ix_(i, j)]))
        else:
            values.append(mmd2_unbiased(a[i], b[j]))
    return float(np.mean(values)), float(np.std(values))


def inception_score(probabilities: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` of class probabilities ``(n, classes)``.

    `weights` ``(n,)`` weigh the sounds in both the expectation and the marginal ``p(y)`` (e.g. so
    every class counts alike); None weighs them equally. Ranges from 1 to the number of classes.
    """
    p = np.asarray(probabilities, np.float64)
    w = np.ones(len(p)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    marginal = w @ p
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0)
    return float(np.exp(w @ terms.sum(axis=1)))


# ----------------------------------------------------------------------------- bins, diversity, novelty


def kmeans(features: np.ndarray, clusters: int, seed: int = 0, iterations: int = KMEANS_ITERATIONS) -> np.ndarray:
    """Centroids ``(clusters, dim)`` of ``(n, dim)`` features: k-means++ seeding, then Lloyd's iterations."""
    x = np.asarray(features, np.float64)
    rng = np.random.default_rng(seed)
    centroids = [x[rng.integers(len(x))]]
    nearest = ((x - centroids[0]) ** 2).sum(axis=1)
    for _ in range(1, clusters):
        total = nearest.sum()
        chosen = rng.choice(len(x), p=nearest / total) if total > 0 else rng.integers(len(x))
        centroids.append(x[chosen])
        nearest = np.minimum(nearest, ((x - x[chosen]) ** 2).sum(axis=1))
    centers = np.stack(centroids)
    for _ in range(iterations):
        assignment = nearest_indices(x, centers)
        for cluster in range(clusters):
            members = x[assignment == cluster]
            if len(members):
                centers[cluster] = members.mean(axis=0)
    return centers


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``(n, m)`` between rows of ``(n, dim)`` and ``(m, dim)``."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return np.maximum((a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None, :] - 2.0 * a @ b.T, 0.0)


def nearest_indices(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index ``(n,)`` of the nearest center for each point."""
    return squared_distances(points, centers).argmin(axis=1)


def ndb(
    reference_bins: np.ndarray, reference: np.ndarray, candidate: np.ndarray, significance: float = NDB_SIGNIFICANCE
) -> tuple[int, int]:
    """Number of statistically different bins (Richardson & Weiss 2018) and the number of bins.

    `reference_bins` ``(k, dim)`` are k-means centroids of the reference set; both sets ``(n, dim)``
    are assigned to their nearest bin, and each bin's two proportions are compared with a two-sided
    two-proportion z-test (pooled variance) at `significance`.
    """
    k = len(reference_bins)
    p_reference = np.bincount(nearest_indices(reference, reference_bins), minlength=k) / len(reference)
    p_candidate = np.bincount(nearest_indices(candidate, reference_bins), minlength=k) / len(candidate)
    pooled = (p_reference * len(reference) + p_candidate * len(candidate)) / (len(reference) + len(candidate))
    error = np.sqrt(pooled * (1.0 - pooled) * (1.0 / len(reference) + 1.0 / len(candidate)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(error > 0, np.abs(p_reference - p_candidate) / error, 0.0)
    return int((z > ndtri(1.0 - significance / 2.0)).sum()), k


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows of ``(n, dim)`` (nan for fewer than 2)."""
    if len(features) < 2:
        return math.nan
    distances = np.sqrt(squared_distances(features, features))
    return float(distances[np.triu_indices(len(features), 1)].mean())


def nearest_neighbour_distances(queries: np.ndarray, references: np.ndarray, batch: int = 256) -> np.ndarray:
    """Euclidean distance ``(n,)`` from each query row to its nearest reference row (computed `batch` queries at a time)."""
    parts = [squared_distances(queries[i : i + batch], references).min(axis=1) for i in range(0, len(queries), batch)]
    return np.sqrt(np.concatenate(parts)) if parts else np.zeros(0)


def copy_fraction(
    candidate_distances: np.ndarray, held_out_distances: np.ndarray, quantile: float = COPY_QUANTILE
) -> float:
    """Share of candidate sounds nearer the training set than the `quantile` of real held-out sounds' distances.

    Both arguments are nearest-training-neighbour distances ``(n,)``. Held-out real sounds score
    about `quantile`; a model that copies its training set scores near 1.
    """
    if len(candidate_distances) == 0 or len(held_out_distances) == 0:
        return math.nan
    return float(np.mean(candidate_distances < np.quantile(held_out_distances, quantile)))


def best_index(values: list[float | None], better: Better) -> int | None:
    """Index of the best of `values` (None and nan ignored) by `better`; None when unranked or nothing to rank."""
    scored = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if better == "none" or len(scored) < 2:
        return None
    if better == "lower":
        return min(scored, key=lambda item: item[1])[0]
    if better == "higher":
        return max(scored, key=lambda item: item[1])[0]
    positive = [(i, v) for i, v in scored if v > 0]
    return min(positive, key=lambda item: abs(math.log(item[1])))[0] if positive else None
