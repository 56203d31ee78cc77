"""The sound map's projection: latents on their two principal axes, and the plane a spot between the dots reads.

The map projects the library and the session's sounds together (PCA), so a point's neighbours on screen
are its neighbours in the latent space as far as two axes can show. A spot between the dots is a latent
too: ``mean + x * axes[0] + y * axes[1]``, the least-squares plane through the points. The page gets only
the points' places; it asks for a spot's latent by its map's plane, kept here, because a codec's latents
(1040 values each) would make a map of 2000 points tens of megabytes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

#: Planes of the latest maps kept for their spots (the oldest is forgotten first: its page must refresh).
KEPT_PLANES = 64
#: The points lie on a line (no plane) when the second principal axis spreads less than this share of the first.
FLAT = 1e-6


@dataclass(frozen=True)
class Plane:
    """The latents of a map's spots: ``mean`` ``(dim,)`` plus map units along ``axes`` ``(2, dim)``."""

    mean: np.ndarray
    axes: np.ndarray

    def latent_at(self, x: float, y: float) -> np.ndarray:
        """The latent ``(dim,)`` float32 at map position (`x`, `y`)."""
        return (self.mean + x * self.axes[0] + y * self.axes[1]).astype(np.float32)


def project_2d(latents: np.ndarray) -> tuple[np.ndarray, Plane | None]:
    """Points ``(n, 2)`` of latents ``(n, dim)`` on their two principal axes, scaled into [-1, 1], and the plane
    their spots stand for (None when the points lie on a line, as fewer than three always do)."""
    if len(latents) == 0:
        return np.zeros((0, 2), np.float32), None
    mean = latents.mean(axis=0)
    centred = latents - mean
    if len(latents) < 2:
        return np.zeros((len(latents), 2), np.float32), None
    _, spread, axes = np.linalg.svd(centred, full_matrices=False)
    points = centred @ axes[:2].T
    if points.shape[1] < 2:
        points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
    extent = float(np.abs(points).max())
    if extent == 0:
        return points.astype(np.float32), None
    flat = len(latents) < 3 or len(spread) < 2 or spread[1] <= FLAT * spread[0]
    plane = None if flat else Plane(mean.astype(np.float32), (extent * axes[:2]).astype(np.float32))
    return (points / extent).astype(np.float32), plane


class PlaneStore:
    """The planes of the maps drawn lately, by id: a digest of the latents mapped (thread-safe, bounded)."""

    def __init__(self, capacity: int = KEPT_PLANES) -> None:
        self.capacity = capacity
        self._planes: OrderedDict[str, Plane] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, latents: np.ndarray, plane: Plane) -> str:
        """Remember the plane of the map of `latents` ``(n, dim)``; its id (16 hex digits)."""
        key = hashlib.blake2b(np.ascontiguousarray(latents, np.float32).tobytes(), digest_size=8).hexdigest()
        with self._lock:
            self._planes[key] = plane
            self._planes.move_to_end(key)
            while len(self._planes) > self.capacity:
                self._planes.popitem(last=False)
        return key

    def get(self, key: str) -> Plane | None:
        """The plane kept under `key`, or None (never drawn, or forgotten)."""
        with self._lock:
            return self._planes.get(key)
