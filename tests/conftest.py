"""Shared fixtures: small real audio files and banks written with soundfile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def drum_hit(kind: str, seconds: float = 0.5, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """A short decaying test sound: a swept sine (``"tone"``) or a noise burst (``"noise"``), float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    envelope = np.exp(-t * 9.0)
    if kind == "tone":
        frequency = 50.0 + 5.0 * seed + 120.0 * np.exp(-t * 30.0)
        signal = np.sin(2 * np.pi * np.cumsum(frequency) / sample_rate)
    else:
        signal = rng.standard_normal(t.size)
    return (0.8 * envelope * signal / np.max(np.abs(signal))).astype(np.float32)


def write_bank(root: Path, per_class: int = 6, classes: tuple[str, ...] = ("kick", "snare")) -> Path:
    """A bank folder ``root/<class>/<class>_<i>.wav`` of distinct short sounds."""
    for class_index, label in enumerate(classes):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            kind = "tone" if class_index % 2 == 0 else "noise"
            sf.write(root / label / f"{label}_{i}.wav", drum_hit(kind, 0.3, seed=i + 10 * class_index), 44100)
    return root


@pytest.fixture
def small_bank(tmp_path: Path) -> Path:
    """Two classes of six sounds each."""
    return write_bank(tmp_path / "bank")
