"""The main directions of each class's latent space (PCA of prior samples), named by what they measurably change.

A slider along a direction is only useful if its name is true. So each direction is rendered at two
points, 2 standard deviations either side of the class's mean, and measured: brightness (spectral
centroid), decay, pitch and noisiness. The measure that changes most (as a ratio) names it, each
name used once per class, and the direction is turned so that moving right increases that measure.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dkvae.inference.machine import DrumMachine
from dkvae.kits.measure import decay_seconds, noisiness, pitch_hz

#: Directions offered per class.
DIRECTIONS = 4
#: Prior samples the directions are computed from (fixed seed: the same directions every run).
PCA_SAMPLES = 512
PCA_SEED = 0
#: The directions are measured this many standard deviations either side of the class's mean.
PROBE_SCALES = 2.0
#: Typical sounds of the class that give each measure's spread.
REFERENCE_SOUNDS = 16
#: Smallest spread of a log measure counted (a quarter of its log): a measure that barely varies in a class
#: (a kick's noisiness) cannot name a direction by a change nobody hears.
MIN_SPREAD = 0.25
#: A direction whose best unused measure moves less than this many spreads is called `UNNAMED`.
MIN_CHANGE = 0.5
UNNAMED = "character"


def brightness_hz(audio: np.ndarray, sample_rate: int) -> float:
    """Spectral centroid of a sound ``(samples,)`` in Hz: where its energy sits, heard as brightness (0 for silence)."""
    power = np.square(np.abs(np.fft.rfft(np.asarray(audio, np.float64))))
    total = float(power.sum())
    if total <= 0:
        return 0.0
    return float((np.fft.rfftfreq(len(audio), 1.0 / sample_rate) * power).sum() / total)


#: Name -> (measure, floor added before taking its log: the smallest difference worth hearing).
MEASURES: dict[str, tuple[Callable[[np.ndarray, int], float], float]] = {
    "brightness": (brightness_hz, 20.0),
    "decay": (decay_seconds, 0.005),
    "pitch": (pitch_hz, 20.0),
    "noise": (noisiness, 0.01),
}


@dataclass(frozen=True)
class NamedDirection:
    """A unit direction ``(latent_dim,)`` of a class, its spread and its name with the measure at both probes."""

    name: str
    vector: np.ndarray
    scale: float
    measured: tuple[float, float]


def principal_directions(latents: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` principal axes ``(count, dim)`` of latents ``(n, dim)`` and the standard deviation along each."""
    centred = latents - latents.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    return axes[:count], singular[:count] / math.sqrt(max(len(latents) - 1, 1))


def name_directions(
    axes: np.ndarray,
    scales: np.ndarray,
    mean: np.ndarray,
    typical: np.ndarray,
    render: Callable[[np.ndarray], np.ndarray],
    sample_rate: int,
) -> list[NamedDirection]:
    """Name each axis ``(count, dim)`` by the measure it changes most (each name once), turned so that + increases it.

    `typical` ``(n, dim)`` are latents of ordinary sounds of the class (they give each measure's spread);
    `render` turns latents ``(n, dim)`` into sounds ``(n, samples)``.
    """
    count = len(axes)
    probes = np.concatenate(
        [mean - PROBE_SCALES * scales[:, None] * axes, mean + PROBE_SCALES * scales[:, None] * axes]
    )
    sounds = render(np.concatenate([probes, typical]).astype(np.float32))
    values = {
        name: np.array([measure(sound, sample_rate) for sound in sounds]) for name, (measure, _) in MEASURES.items()
    }
    changes = {}
    for name, (_, floor) in MEASURES.items():
        logs = np.log(values[name] + floor)
        spread = max(float(np.std(logs[2 * count :])), MIN_SPREAD)
        changes[name] = np.abs(logs[count : 2 * count] - logs[:count]) / spread
    named: list[NamedDirection] = []
    taken: set[str] = set()
    for index in range(count):
        ranked = sorted(MEASURES, key=lambda name: -changes[name][index])
        measure = next((candidate for candidate in ranked if candidate not in taken), ranked[0])
        taken.add(measure)
        low, high = float(values[measure][index]), float(values[measure][count + index])
        sign = 1.0 if high >= low else -1.0
        measured = (low, high) if sign > 0 else (high, low)
        name = measure if changes[measure][index] >= MIN_CHANGE else UNNAMED
        named.append(NamedDirection(name, (sign * axes[index]).astype(np.float32), float(scales[index]), measured))
    return named


class DirectionCatalogue:
    """Each class's named directions, computed on first request and kept (thread-safe)."""

    def __init__(self, machine: DrumMachine) -> None:
        self.machine = machine
        self._known: dict[str, list[NamedDirection]] = {}
        self._lock = threading.Lock()

    def cached(self, instrument: str) -> list[NamedDirection] | None:
        """The directions of `instrument` if already computed."""
        return self._known.get(instrument)

    def directions(self, instrument: str) -> list[NamedDirection]:
        """The named directions of `instrument` (blocking the first time: about 8 sounds are rendered)."""
        with self._lock:
            if instrument not in self._known:
                latents = self.machine.sample_latents(PCA_SAMPLES, PCA_SEED, instrument)
                axes, scales = principal_directions(latents, DIRECTIONS)
                self._known[instrument] = name_directions(
                    axes,
                    scales,
                    latents.mean(axis=0),
                    latents[:REFERENCE_SOUNDS],
                    lambda probes: self.machine.render(probes, instrument),
                    self.machine.sample_rate,
                )
            return self._known[instrument]
