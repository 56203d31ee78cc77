"""The main directions of each class's latent space (PCA of prior samples), named by what they measurably change.

A slider along a direction is only useful if its name is true. So each direction is rendered at two
points, 2 standard deviations either side of the class's mean, and measured: brightness (spectral
centroid), decay, pitch and noisiness. The measure that changes most (as a ratio) names it, each
name used once per class, and the direction is turned so that moving right increases that measure.
A direction none of those four names (they are taken, or it barely moves them) is named by a second
set a drummer also hears: click, pitch drop, body and low end. One that moves no measure either is
left out: a slider must say what it does, and two sliders must not share a name.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dkvae.inference.machine import DrumMachine
from dkvae.kits.measure import decay_seconds, noisiness, pitch_hz
from dkvae.sound.audio import rms_envelope

#: Directions offered per class.
DIRECTIONS = 4
#: Prior samples the directions are computed from (fixed seed: the same directions every run).
PCA_SAMPLES = 512
#: As many from a codec's flow prior, whose every sample costs 16 network passes (512 kept the first request
#: for a class waiting tens of seconds); its first three axes from 128 samples lie close to those from 512.
FLOW_PCA_SAMPLES = 128
PCA_SEED = 0
#: The directions are measured this many standard deviations either side of the class's mean.
PROBE_SCALES = 2.0
#: Typical sounds of the class that give each measure's spread.
REFERENCE_SOUNDS = 16
#: Smallest spread of a log measure counted (a quarter of its log): a measure that barely varies in a class
#: (a kick's noisiness) cannot name a direction by a change nobody hears.
MIN_SPREAD = 0.25
#: A measure names a direction only if it moves at least this many spreads between the probes.
MIN_CHANGE = 0.5
#: The click is the share of the first CLICK_SECONDS' energy above CLICK_HZ (a kick's beater, a snare's snap).
CLICK_SECONDS = 0.015
CLICK_HZ = 2000.0
#: The pitch drop compares the pitch of the first DROP_ATTACK_SECONDS with the pitch from DROP_LATER_SECONDS on.
DROP_ATTACK_SECONDS = 0.03
DROP_LATER_SECONDS = 0.05
#: Low end: the share of the energy below this (Hz).
LOW_END_HZ = 150.0


def brightness_hz(audio: np.ndarray, sample_rate: int) -> float:
    """Spectral centroid of a sound ``(samples,)`` in Hz: where its energy sits, heard as brightness (0 for silence)."""
    power = np.square(np.abs(np.fft.rfft(np.asarray(audio, np.float64))))
    total = float(power.sum())
    if total <= 0:
        return 0.0
    return float((np.fft.rfftfreq(len(audio), 1.0 / sample_rate) * power).sum() / total)


def _power_share(audio: np.ndarray, sample_rate: int, keep: Callable[[np.ndarray], np.ndarray]) -> float:
    """The share of `audio`'s power at the frequencies `keep` selects (0 for silence)."""
    power = np.square(np.abs(np.fft.rfft(np.asarray(audio, np.float64), n=max(len(audio), 2048))))
    total = float(power.sum())
    if total <= 0:
        return 0.0
    return float(power[keep(np.fft.rfftfreq(max(len(audio), 2048), 1.0 / sample_rate))].sum() / total)


def click_share(audio: np.ndarray, sample_rate: int) -> float:
    """The share of the attack's energy (first `CLICK_SECONDS` from the peak) above `CLICK_HZ`: the click (0..1)."""
    start = int(np.argmax(np.abs(audio))) if len(audio) else 0
    attack = audio[start : start + round(CLICK_SECONDS * sample_rate)]
    return _power_share(attack, sample_rate, lambda hz: hz > CLICK_HZ) if len(attack) > 1 else 0.0


def pitch_drop(audio: np.ndarray, sample_rate: int) -> float:
    """The pitch at the attack over the pitch after it: above 1 the pitch falls, as a tuned kick's or tom's does."""
    start = int(np.argmax(np.abs(audio))) if len(audio) else 0
    attack = audio[start : start + round(DROP_ATTACK_SECONDS * sample_rate)]
    later = audio[start + round(DROP_LATER_SECONDS * sample_rate) :]
    if len(attack) < 2 or len(later) < 2:
        return 1.0
    return pitch_hz(attack, sample_rate) / max(pitch_hz(later, sample_rate), 1.0)


def body(audio: np.ndarray, sample_rate: int) -> float:
    """RMS over peak of the 5 ms envelope: how much sound follows the hit, against a bare transient (0..1)."""
    envelope = rms_envelope(audio, sample_rate, 0.005)
    peak = float(envelope.max(initial=0.0))
    return float(np.sqrt(np.mean(np.square(envelope))) / peak) if peak > 0 else 0.0


def low_end(audio: np.ndarray, sample_rate: int) -> float:
    """The share of the sound's energy below `LOW_END_HZ` (0..1)."""
    return _power_share(audio, sample_rate, lambda hz: hz < LOW_END_HZ)


#: Name -> (measure, floor added before taking its log: the smallest difference worth hearing). These four
#: name directions first.
MEASURES: dict[str, tuple[Callable[[np.ndarray, int], float], float]] = {
    "brightness": (brightness_hz, 20.0),
    "decay": (decay_seconds, 0.005),
    "pitch": (pitch_hz, 20.0),
    "noise": (noisiness, 0.01),
}
#: Measures that name a direction none of `MEASURES` names (the page shows each with its unit).
SECOND_MEASURES: dict[str, tuple[Callable[[np.ndarray, int], float], float]] = {
    "click": (click_share, 0.01),
    "pitch drop": (pitch_drop, 0.05),
    "body": (body, 0.01),
    "low end": (low_end, 0.01),
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

    A measure of `MEASURES` names an axis if it moves by `MIN_CHANGE` spreads, else one of
    `SECOND_MEASURES`; an axis neither names is left out. `typical` ``(n, dim)`` are latents of
    ordinary sounds of the class (they give each measure's spread); `render` turns latents
    ``(n, dim)`` into sounds ``(n, samples)``.
    """
    count = len(axes)
    probes = np.concatenate(
        [mean - PROBE_SCALES * scales[:, None] * axes, mean + PROBE_SCALES * scales[:, None] * axes]
    )
    sounds = render(np.concatenate([probes, typical]).astype(np.float32))
    every = {**MEASURES, **SECOND_MEASURES}
    values = {name: np.array([measure(sound, sample_rate) for sound in sounds]) for name, (measure, _) in every.items()}
    changes = {}
    for name, (_, floor) in every.items():
        logs = np.log(values[name] + floor)
        spread = max(float(np.std(logs[2 * count :])), MIN_SPREAD)
        changes[name] = np.abs(logs[count : 2 * count] - logs[:count]) / spread
    named: list[NamedDirection] = []
    taken: set[str] = set()
    for index in range(count):
        measure = None
        for names in (MEASURES, SECOND_MEASURES):
            heard = [name for name in names if name not in taken and changes[name][index] >= MIN_CHANGE]
            if heard:
                measure = max(heard, key=lambda name: changes[name][index])
                break
        if measure is None:
            continue
        taken.add(measure)
        low, high = float(values[measure][index]), float(values[measure][count + index])
        sign = 1.0 if high >= low else -1.0
        measured = (low, high) if sign > 0 else (high, low)
        named.append(NamedDirection(measure, (sign * axes[index]).astype(np.float32), float(scales[index]), measured))
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
                count = FLOW_PCA_SAMPLES if self.machine.flow is not None else PCA_SAMPLES
                latents = self.machine.sample_latents(count, PCA_SEED, instrument)
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
