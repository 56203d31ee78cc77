"""Settings as frozen dataclasses with a JSON round trip, and the named presets `seed` and `default`."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

Normalization = Literal["global", "minmax"]

#: File extensions the bank reads (what libsndfile decodes); anything else in a bank is ignored.
AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc", ".ogg", ".oga", ".mp3"})

#: Below this peak level (dBFS) a file is treated as silent.
SILENCE_FLOOR_DB = -90.0
#: A sound must stay above its trim threshold for at least this long (seconds) to be kept.
MIN_SOUND_SECONDS = 0.010
#: How far into a file (seconds) the lead-in trim looks for the first sound before giving up.
MAX_LEAD_IN_SECONDS = 10.0
#: Floor added to magnitudes before taking the logarithm, so silence maps to a finite dB value.
AMPLITUDE_FLOOR = 1e-10


@dataclass(frozen=True)
class AudioConfig:
    """How a sound becomes a spectrogram: rate, length, STFT and normalization.

    The spectrogram of one sound has shape ``(n_freq, n_frames)`` with
    ``n_freq = n_fft // 2 + 1`` (DC to Nyquist, both kept) and ``n_frames = 1 + num_samples // hop_length``.
    """

    sample_rate: int = 44100
    #: Length of every sound after fitting, in samples.
    num_samples: int = 32512
    n_fft: int = 1024
    hop_length: int = 256
    #: "global": a fixed dB range [min_db, max_db] maps to [0, 1], so levels stay absolute.
    #: "minmax": each spectrogram is scaled by its own min and max (the seed's choice).
    normalization: Normalization = "global"
    min_db: float = -100.0
    max_db: float = 20.0
    #: The lead-in trim starts the sound where it first rises above this level relative to its peak (dB).
    trim_db: float = -50.0
    #: Kept before the first sample above the trim level, so the attack's rise stays intact (seconds).
    pre_roll: float = 0.001
    #: Fade applied when a sound is cut to length, so no click is added (seconds).
    fade_out: float = 0.010
    #: Scale each sound so its peak is at 0 dBFS before analysis (its original peak is recorded).
    peak_normalize: bool = True

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.num_samples <= 0:
            raise ValueError("sample_rate and num_samples must be positive")
        if self.hop_length <= 0 or self.n_fft < 2 or self.hop_length > self.n_fft:
            raise ValueError("need n_fft >= 2 and 0 < hop_length <= n_fft")
        if self.normalization not in ("global", "minmax"):
            raise ValueError(f"unknown normalization {self.normalization!r}")
        if not self.min_db < self.max_db:
            raise ValueError("min_db must be below max_db")

    @property
    def duration(self) -> float:
        """Length of every sound in seconds."""
        return self.num_samples / self.sample_rate

    @property
    def n_freq(self) -> int:
        """Frequency bins per frame, DC and Nyquist included."""
        return self.n_fft // 2 + 1

    @property
    def n_frames(self) -> int:
        """Frames per spectrogram (centred STFT)."""
        return 1 + self.num_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of one spectrogram, ``(n_freq, n_frames)``."""
        return (self.n_freq, self.n_frames)


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of the bank held out for test and validation; the rest trains."""

    test: float = 0.10
    val: float = 0.05

    def __post_init__(self) -> None:
        if self.test < 0 or self.val < 0 or self.test + self.val >= 1:
            raise ValueError("split fractions must be >= 0 and leave some data for training")


@dataclass(frozen=True)
class Config:
    """Everything that decides what a processed bank contains."""

    preset: str = "default"
    audio: AudioConfig = field(default_factory=AudioConfig)
    split: SplitConfig = field(default_factory=SplitConfig)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for JSON."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Inverse of `to_dict`; unknown keys are an error so a foreign file is not half-read."""
        return cls(
            preset=str(data.get("preset", "custom")),
            audio=AudioConfig(**data["audio"]),
            split=SplitConfig(**data["split"]),
        )

    @classmethod
    def from_json(cls, text: str) -> Config:
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(text))

    def same_data(self, other: Config) -> bool:
        """True when both configs produce identical processed banks (the preset's name does not count)."""
        return self.audio == other.audio and self.split == other.split


def _seed_audio() -> AudioConfig:
    """The seed's settings: 22050 Hz, 0.74 s, n_fft 512, hop 256, per-sample min-max, no peak scaling."""
    sample_rate = 22050
    return AudioConfig(
        sample_rate=sample_rate,
        num_samples=math.floor(0.74 * sample_rate),
        n_fft=512,
        hop_length=256,
        normalization="minmax",
        peak_normalize=False,
    )


PRESETS: dict[str, Config] = {
    "seed": Config(preset="seed", audio=_seed_audio(), split=SplitConfig(test=0.10, val=0.05)),
    "default": Config(preset="default"),
}


def get_preset(name: str) -> Config:
    """The preset called `name` (``seed`` or ``default``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
