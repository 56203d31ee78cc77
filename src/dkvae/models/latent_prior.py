"""Per-class Gaussians fitted to the latents of a bank's training sounds: where a model's real sounds live.

A VAE trained with a small KL weight does not fill the standard normal prior: with beta 1e-4 the
Debian bank's training sounds' latents lay well inside the norm of standard normal samples (about
the square root of the latent size), so decoding prior samples gave grey, smeared sounds
(docs/results.md, "The latent prior: one Gaussian per class"). Sampling a Gaussian
fitted to each class's encoded training sounds instead (ex-post density estimation, Ghosh et al.
2020, "From variational to deterministic autoencoders") decodes to sounds like the training data,
and lets the KL weight be small enough (2e-6, the default) for the latent to keep each sound's
detail. A plain autoencoder has no prior at all; this gives it one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors.numpy

from dkvae.core.allocator import large_blocks_mapped
from dkvae.core.atomic import atomic_path
from dkvae.core.files import regular_file_present
from dkvae.data.packed import PackedArray

#: File of a model directory that holds the fitted prior (plain tensors, no code).
LATENT_PRIOR_NAME = "latent_prior.safetensors"
#: A class's covariance is pulled toward the pooled covariance of all classes as if it had this many
#: more sounds, so a class with fewer sounds than dimensions still gets a full-rank, sensible spread.
SHRINKAGE_SOUNDS = 32
#: Added to every variance, so no direction collapses to zero.
VARIANCE_FLOOR = 1e-4
#: Sounds encoded per batch while fitting.
FIT_BATCH = 64


@dataclass(frozen=True)
class LatentPrior:
    """One Gaussian per class: `mean` ``(classes, dim)`` and the Cholesky factor `scale_tril` ``(classes, dim, dim)``."""

    mean: np.ndarray
    scale_tril: np.ndarray
    #: The model (weights digest) whose latents it was fitted to; "" when unknown (saved before it was recorded).
    model_id: str = ""

    def sample(self, class_index: int, noise: np.ndarray) -> np.ndarray:
        """Latents ``(n, dim)`` from standard normal `noise` ``(n, dim)``: ``mean + scale_tril @ noise``."""
        return (self.mean[class_index] + noise @ self.scale_tril[class_index].T).astype(np.float32)

    def save(self, directory: Path, model_id: str) -> Path:
        """Write the prior into the directory of model `model_id` (the model it belongs to); returns the file."""
        path = directory / LATENT_PRIOR_NAME
        tensors = {"mean": self.mean.astype(np.float32), "scale_tril": self.scale_tril.astype(np.float32)}
        with atomic_path(path) as tmp:
            tmp.write_bytes(safetensors.numpy.save(tensors, metadata={"model_id": model_id}))
        return path

    @classmethod
    def load(cls, directory: Path) -> LatentPrior | None:
        """The prior saved in a model directory, or None when it has none; one with NaN or infinities is a ValueError."""
        path = directory / LATENT_PRIOR_NAME
        if not regular_file_present(path):
            return None
        with safetensors.safe_open(str(path), "np") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (a safe_open handle is not iterable)
            model_id = (handle.metadata() or {}).get("model_id", "")
        mean, scale_tril = tensors["mean"], tensors["scale_tril"]
        if mean.ndim != 2 or scale_tril.shape != (*mean.shape, mean.shape[1]):
            raise ValueError(f"{path}: mean {mean.shape} and scale_tril {scale_tril.shape} do not match")
        if not (np.isfinite(mean).all() and np.isfinite(scale_tril).all()):
            raise ValueError("its latent prior holds NaN or infinite values")
        return cls(mean, scale_tril, model_id)

    @staticmethod
    def fitted_for(directory: Path) -> str | None:
        """The model id the directory's prior was fitted to ("" when unrecorded or unreadable), None when it has none.

        Reads only the file's header.
        """
        path = directory / LATENT_PRIOR_NAME
        try:
            if not regular_file_present(path):
                return None
            with safetensors.safe_open(str(path), "np") as handle:
                return (handle.metadata() or {}).get("model_id", "")
        except (safetensors.SafetensorError, ValueError):
            return ""


def fit_latent_prior(
    encode: Callable[[np.ndarray, int], np.ndarray],
    spectrograms: np.ndarray | PackedArray,
    labels: np.ndarray,
    num_classes: int,
) -> LatentPrior:
    """Fit one Gaussian per class to the latents of `spectrograms` ``(n, freq, frames)`` with class `labels` ``(n,)``.

    `encode(batch, class_index)` returns the latents ``(batch, dim)`` of a batch of one class. Each
    class's covariance is shrunk toward the pooled one (`SHRINKAGE_SOUNDS`); a class with no sounds
    gets the pooled mean and covariance.
    """
    latents: dict[int, np.ndarray] = {}
    # Batches mapped on their own: in a process that has trained, they would fragment the heap.
    with large_blocks_mapped():
        for index in range(num_classes):
            rows = np.flatnonzero(labels == index)
            if len(rows):
                batches = [
                    encode(np.asarray(spectrograms[rows[i : i + FIT_BATCH]], np.float32), index)
                    for i in range(0, len(rows), FIT_BATCH)
                ]
                latents[index] = np.concatenate(batches).astype(np.float64)
    if not latents:
        raise ValueError("no sounds to fit a latent prior to")
    everything = np.concatenate(list(latents.values()))
    dim = everything.shape[1]
    pooled_mean = everything.mean(axis=0)
    pooled_covariance = np.cov(everything, rowvar=False).reshape(dim, dim) if len(everything) > 1 else np.eye(dim)
    means, factors = [], []
    for index in range(num_classes):
        codes = latents.get(index)
        if codes is None:
            mean, covariance = pooled_mean, pooled_covariance
        else:
            mean = codes.mean(axis=0)
            scatter = (codes - mean).T @ (codes - mean)
            covariance = (scatter + SHRINKAGE_SOUNDS * pooled_covariance) / (len(codes) - 1 + SHRINKAGE_SOUNDS)
        means.append(mean)
        factors.append(np.linalg.cholesky(covariance + VARIANCE_FLOOR * np.eye(dim)))
    return LatentPrior(np.stack(means).astype(np.float32), np.stack(factors).astype(np.float32))
