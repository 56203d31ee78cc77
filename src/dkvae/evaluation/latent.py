"""The latent space of a model: held-out sounds encoded, mapped to 2-D, and how many latent dimensions are used.

A dimension counts as used ("active unit", Burda et al. 2016) when its posterior mean varies across
sounds with a variance above `ACTIVE_VARIANCE`: a dimension the encoder ignores says the same for
every sound. The KL divergence from the prior of each dimension is reported beside it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from dkvae.inference.machine import DrumMachine

#: A latent dimension whose posterior mean varies more than this across sounds is in use (Burda et al. 2016).
ACTIVE_VARIANCE = 0.01
#: Sounds encoded at a time.
ENCODE_BATCH = 64


@dataclass
class LatentSpace:
    """Encoded sounds and what they say about the latent space."""

    #: Posterior means ``(n, latent_dim)`` and each sound's class index ``(n,)``.
    means: np.ndarray
    labels: np.ndarray
    #: KL of each dimension ``(latent_dim,)`` in nats averaged over sounds; None for a model without a posterior variance.
    kl_per_dimension: np.ndarray | None
    #: The means projected on their first two principal components ``(n, 2)``, and the variance share each explains ``(2,)``.
    pca: np.ndarray
    pca_explained: np.ndarray
    #: A UMAP embedding ``(n, 2)`` when umap-learn is installed and there are enough sounds, else None.
    umap: np.ndarray | None

    @property
    def active_dimensions(self) -> int:
        """How many latent dimensions have posterior means varying more than `ACTIVE_VARIANCE` across the sounds."""
        return int((self.means.var(axis=0) > ACTIVE_VARIANCE).sum()) if len(self.means) > 1 else 0


@torch.inference_mode()
def encode_posteriors(
    machine: DrumMachine, spectrograms: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior means ``(n, latent_dim)`` and log-variances (None for an autoencoder) of spectrograms ``(n, freq, frames)``."""
    means, logvars = [], []
    for start in range(0, len(spectrograms), ENCODE_BATCH):
        x = torch.as_tensor(np.asarray(spectrograms[start : start + ENCODE_BATCH], np.float32))
        classes = torch.tensor(labels[start : start + ENCODE_BATCH], dtype=torch.long) if machine.conditional else None
        encoded = machine.model.encode(x, classes)
        mean, logvar = encoded if isinstance(encoded, tuple) else (encoded, None)
        means.append(mean.reshape(len(x), -1).numpy())  # a codec's latent sequence, flattened as DrumMachine's
        if logvar is not None:
            logvars.append(logvar.reshape(len(x), -1).numpy())
    latent = np.zeros((0, machine.latent_dim), np.float32)
    return np.concatenate([latent, *means]), (np.concatenate(logvars) if logvars else None)


def principal_components(points: np.ndarray, components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Projection ``(n, components)`` of ``(n, dim)`` points on their principal axes, and each axis's share of the variance."""
    centred = points - points.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    projection = np.zeros((len(points), components))
    kept = min(components, len(singular))
    projection[:, :kept] = centred @ axes[:kept].T
    explained = np.zeros(components)
    explained[:kept] = variance[:kept] / max(variance.sum(), np.finfo(float).tiny)
    return projection, explained


def umap_embedding(points: np.ndarray, seed: int) -> np.ndarray | None:
    """A 2-D UMAP embedding ``(n, 2)`` of ``(n, dim)`` points, or None when umap-learn is not installed or points are too few."""
    try:
        import umap
    except ImportError:
        return None
    if len(points) < 4:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(points) - 1), random_state=seed)
        return np.asarray(reducer.fit_transform(points))


def analyse_latent_space(
    machine: DrumMachine, spectrograms: np.ndarray, labels: np.ndarray, seed: int = 0
) -> LatentSpace:
    """Encode spectrograms ``(n, freq, frames)`` of classes ``labels (n,)`` and describe the latent space they occupy."""
    means, logvars = encode_posteriors(machine, spectrograms, labels)
    kl = None
    if logvars is not None and len(means) and hasattr(machine.model, "kl_per_dimension"):
        kl = machine.model.kl_per_dimension(torch.as_tensor(means), torch.as_tensor(logvars)).numpy()
    projection, explained = principal_components(means) if len(means) else (np.zeros((0, 2)), np.zeros(2))
    return LatentSpace(means, np.asarray(labels), kl, projection, explained, umap_embedding(means, seed))
