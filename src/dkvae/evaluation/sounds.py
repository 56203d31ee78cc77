"""The sound sets the generation metrics score: the model's sounds and noise bursts (the floor), analysed as the bank analyses its own.

A generated sound is rendered as a user gets it (`DrumMachine.render`: decoded, inverted, resampled
to 44.1 kHz, finished), then turned back into a normalized spectrogram by the bank's own steps
(`dkvae.sound.audio.prepare_sound`: mono, lead-in trim, resampling to the model's rate, length, peak
level, log spectrogram, normalization), so generated and real sounds meet the metrics alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dkvae.core.config import AudioConfig
from dkvae.data.preprocess import Progress
from dkvae.inference.machine import DrumMachine
from dkvae.sound.audio import BadAudio, prepare_sound

#: Latents rendered per progress step.
RENDER_CHUNK = 8
#: Decay time constants of the noise bursts, log-uniform between these (seconds).
NOISE_DECAY_SECONDS = (0.01, 0.3)
#: Peak level of the noise bursts before analysis (dBFS); analysis peak-scales them as it does real sounds.
NOISE_PEAK_DB = -1.0


@dataclass
class SoundSet:
    """Normalized spectrograms ``(n, freq, frames)`` float32 with their class indices ``(n,)`` (-1: not asked for)."""

    spectrograms: np.ndarray
    labels: np.ndarray
    #: Sounds the analysis refused (silent or under 10 ms of sound); they stand as silent spectrograms.
    unusable: int = 0
    #: The sounds themselves ``(n, samples)`` where the set was rendered (the generated set's, for the
    #: character figures, measured as rendered rather than rendered again); None otherwise.
    audio: np.ndarray | None = None


def analyse(audio: np.ndarray, sample_rate: int, config: AudioConfig) -> tuple[np.ndarray, int]:
    """Normalized spectrograms ``(n, freq, frames)`` of sounds ``(n, samples)`` at `sample_rate` Hz, and how many were unusable.

    An unusable sound (silent, too short) becomes an all-zero spectrogram: silence is what it offers.
    """
    spectrograms = np.zeros((len(audio), *config.shape), np.float32)
    unusable = 0
    for index, sound in enumerate(audio):
        try:
            spectrograms[index] = prepare_sound(sound, sample_rate, config)
        except BadAudio:
            unusable += 1
    return spectrograms, unusable


def generated_set(machine: DrumMachine, count: int, seed: int, progress: Progress | None = None) -> SoundSet:
    """`count` sounds per class, the latents drawn with `seed` as `DrumMachine.generate` draws them.

    A model that cannot be told the class (`DrumMachine.generates_by_class`) makes ``count * classes`` sounds, labelled -1.
    """
    by_class = machine.generates_by_class
    classes = machine.instruments if by_class else [""]
    per_class = count if by_class else count * len(machine.instruments)
    total = per_class * len(classes)
    audio, labels = [], []
    for class_index, instrument in enumerate(classes):
        latents = machine.sample_latents(per_class, seed, instrument or None)
        for start in range(0, per_class, RENDER_CHUNK):
            audio.append(machine.render(latents[start : start + RENDER_CHUNK], instrument))
            if progress is not None:
                progress(class_index * per_class + min(start + RENDER_CHUNK, per_class), total)
        labels += [class_index if by_class else -1] * per_class
    sounds = np.concatenate(audio)
    spectrograms, unusable = analyse(sounds, machine.sample_rate, machine.config.audio)
    return SoundSet(spectrograms, np.asarray(labels, np.int64), unusable, sounds)


def noise_bursts(n: int, config: AudioConfig, seed: int) -> np.ndarray:
    """`n` white-noise bursts ``(n, config.num_samples)`` float32 at the config's rate: instant attack, exponential decay.

    The decay time constant is drawn log-uniformly from `NOISE_DECAY_SECONDS`: the simplest sound a
    drum machine could make, and the floor every generation metric is reported against.
    """
    rng = np.random.default_rng(seed)
    time = np.arange(config.num_samples) / config.sample_rate
    decay = np.exp(rng.uniform(*np.log(NOISE_DECAY_SECONDS), size=(n, 1)))
    bursts = rng.standard_normal((n, config.num_samples)) * np.exp(-time[None, :] / decay)
    peak = np.abs(bursts).max(axis=1, keepdims=True)
    return (bursts * (10.0 ** (NOISE_PEAK_DB / 20.0) / peak)).astype(np.float32)


def noise_set(count: int, classes: int, config: AudioConfig, seed: int) -> SoundSet:
    """`count` noise bursts for each of `classes` classes (all drawn alike; the labels say which class each stands in for)."""
    spectrograms, unusable = analyse(noise_bursts(count * classes, config, seed), config.sample_rate, config)
    return SoundSet(spectrograms, np.repeat(np.arange(classes), count), unusable)
