"""The bundled model's sounds carry no lone click, and their peak normalization leaves pads alike in loudness.

A decoder's smooth magnitudes once made PGHI line every bin of the loudest frame up into one click, one
STFT hop in; peak normalization then landed on the click and left the sound's body far quieter than
its neighbours on a pad (issue 29, item 10; `dkvae.sound.inversion.pghi_phase`).
"""

from __future__ import annotations

import numpy as np
import pytest

from dkvae.core.config import OUTPUT_SAMPLE_RATE
from dkvae.inference.machine import DrumMachine

#: Seeds the sounds are drawn with (the issue's two first), and sounds per class and seed.
SEEDS = (11, 17, 0, 1, 2, 3)
PER_SEED = 4
#: A sample is measured against the RMS of the other samples within this many seconds either side.
NEIGHBOURHOOD_SECONDS = 0.005
#: Samples this close to a sound's peak (dB) are the ones peak normalization can land on.
LOUD_DB = -6.0
#: How far (times its neighbourhood's RMS) a loud sample may stand out: a real stick or rim hit can stand this far.
SPIKE_MARGIN = 6.5
#: The window of a sound's loudness: the RMS of its loudest this many seconds.
LOUDNESS_SECONDS = 0.010
#: Every generated sound's loudness lies within this many dB of the loudest one's (all peak at one level).
LOUDNESS_SPREAD_DB = 15.0


@pytest.fixture(scope="module")
def sounds() -> dict[str, np.ndarray]:
    """``{instrument: (sounds, samples)}``: `PER_SEED` sounds of every class at each of `SEEDS`."""
    machine = DrumMachine.load()
    return {
        name: np.concatenate([machine.generate(name, PER_SEED, seed) for seed in SEEDS]) for name in machine.instruments
    }


def over_neighbourhood(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Each sample's magnitude ``(samples,)`` over the RMS of the other samples within `NEIGHBOURHOOD_SECONDS`
    either side (at the ends, of those there are)."""
    audio = np.asarray(audio, np.float64)
    half = round(NEIGHBOURHOOD_SECONDS * sample_rate)
    energy = np.concatenate([[0.0], np.cumsum(audio * audio)])
    index = np.arange(len(audio))
    start, end = np.maximum(index - half, 0), np.minimum(index + half + 1, len(audio))
    others = (energy[end] - energy[start] - audio * audio) / (end - start - 1)
    return np.abs(audio) / np.sqrt(np.maximum(others, np.finfo(np.float64).tiny))


def loudness_db(audio: np.ndarray, sample_rate: int) -> float:
    """The RMS of a sound's loudest `LOUDNESS_SECONDS`, dBFS."""
    audio = np.asarray(audio, np.float64)
    width = round(LOUDNESS_SECONDS * sample_rate)
    energy = np.concatenate([[0.0], np.cumsum(audio * audio)])
    return float(10.0 * np.log10(np.max(energy[width:] - energy[:-width]) / width))


def test_the_spike_detector_finds_a_lone_sample_and_passes_noise() -> None:
    noise = np.random.default_rng(0).standard_normal(OUTPUT_SAMPLE_RATE // 4) * 0.1
    assert over_neighbourhood(noise, OUTPUT_SAMPLE_RATE).max() < SPIKE_MARGIN
    noise[300] = 0.9
    assert over_neighbourhood(noise, OUTPUT_SAMPLE_RATE)[300] > SPIKE_MARGIN


def test_no_generated_sound_peaks_on_a_lone_sample(sounds) -> None:
    spiky = []
    for name, batch in sounds.items():
        for index, audio in enumerate(batch):
            loud = np.abs(audio) >= np.abs(audio).max() * 10.0 ** (LOUD_DB / 20.0)
            ratio = over_neighbourhood(audio, OUTPUT_SAMPLE_RATE)
            worst = int(np.argmax(np.where(loud, ratio, 0.0)))
            if ratio[worst] > SPIKE_MARGIN:
                spiky.append(f"{name} {index}: {ratio[worst]:.1f}x at {1000 * worst / OUTPUT_SAMPLE_RATE:.1f} ms")
    assert not spiky, spiky


def test_the_loudness_spread_among_generated_pads_is_bounded(sounds) -> None:
    loudness = {
        f"{name} {index}": loudness_db(audio, OUTPUT_SAMPLE_RATE)
        for name, batch in sounds.items()
        for index, audio in enumerate(batch)
    }
    loudest = max(loudness.values())
    quiet = {key: round(level, 1) for key, level in loudness.items() if level < loudest - LOUDNESS_SPREAD_DB}
    assert not quiet, f"more than {LOUDNESS_SPREAD_DB:g} dB under the loudest pad's {loudest:.1f} dBFS: {quiet}"
