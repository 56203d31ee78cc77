"""The user's own sounds (`--bank`) in the model's latent space: the sound map's backdrop and *similar*'s answers.

The processed bank's spectrograms are encoded once, on first use, each with its own class; a sound
keeps its index for the server's life, so the map names its library points by index (see `maps`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from dkvae.data.bank import Bank
from dkvae.inference.machine import DrumMachine

#: Spectrograms encoded per batch.
ENCODE_BATCH = 64
#: Library sounds shown on the map at most (evenly picked): the page stays quick with a large bank.
MAP_LIBRARY_POINTS = 2000


@dataclass(frozen=True)
class LibrarySounds:
    """Names ``(n,)``, classes ``(n,)`` and latents ``(n, latent_dim)`` of a library's sounds."""

    names: list[str]
    instruments: list[str]
    latents: np.ndarray


def encode_library(bank: Bank, machine: DrumMachine) -> LibrarySounds:
    """The latents of every bank sound whose class the model knows (others are left out)."""
    data = bank.data[bank.data["label"].isin(machine.instruments)]
    if data.empty:
        return LibrarySounds([], [], np.zeros((0, machine.latent_dim), np.float32))
    array = np.load(bank.array_path, mmap_mode="r")
    latents = np.zeros((len(data), machine.latent_dim), np.float32)
    positions = np.arange(len(data))
    for label, group in data.groupby("label"):
        where = positions[(data["label"] == label).to_numpy()]
        rows = group["index"].to_numpy(np.int64)
        for start in range(0, len(rows), ENCODE_BATCH):
            batch = np.asarray(array[rows[start : start + ENCODE_BATCH]], np.float32)
            latents[where[start : start + ENCODE_BATCH]] = machine.encode_spectrograms(batch, str(label))
    return LibrarySounds(data["sample"].astype(str).tolist(), data["label"].astype(str).tolist(), latents)


class Library:
    """A bank's sounds, encoded on first use (thread-safe); an empty library when the server has no bank."""

    def __init__(self, machine: DrumMachine, bank: Bank | None) -> None:
        self.machine = machine
        self.bank = bank
        self._sounds: LibrarySounds | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """True when the server was given a bank."""
        return self.bank is not None

    def sounds(self) -> LibrarySounds:
        """The library's sounds (blocking the first time, while they are encoded)."""
        with self._lock:
            if self._sounds is None:
                if self.bank is None:
                    self._sounds = LibrarySounds([], [], np.zeros((0, self.machine.latent_dim), np.float32))
                else:
                    self._sounds = encode_library(self.bank, self.machine)
            return self._sounds

    def nearest(self, latent: np.ndarray, count: int) -> list[tuple[int, float]]:
        """Indices and distances of the `count` library sounds nearest `latent` ``(latent_dim,)``, nearest first."""
        sounds = self.sounds()
        if not len(sounds.latents):
            return []
        distances = np.linalg.norm(sounds.latents - np.asarray(latent, np.float32)[None], axis=1)
        order = np.argsort(distances, kind="stable")[:count]
        return [(int(index), float(distances[index])) for index in order]

    def map_sample(self) -> np.ndarray:
        """Indices of the library sounds drawn on the map (all of them, or `MAP_LIBRARY_POINTS` evenly spaced)."""
        total = len(self.sounds().names)
        if total <= MAP_LIBRARY_POINTS:
            return np.arange(total)
        return np.linspace(0, total - 1, MAP_LIBRARY_POINTS).round().astype(np.int64)

