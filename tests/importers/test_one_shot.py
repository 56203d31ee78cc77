"""Tests for the single-hit test run before the drum classifier: hits pass, loops, drones, waveforms and cuts do not."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dkvae.importers.one_shot import envelope_db, one_shot_problem

RATE = 44100


def hit(seconds: float = 1.0, decay: float = 0.1, at: float = 0.0, frequency: float = 180.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    shifted = np.clip(t - at, 0, None)
    return (0.8 * np.sin(2 * np.pi * frequency * shifted) * np.exp(-shifted / decay) * (t >= at)).astype(np.float32)


@pytest.mark.parametrize(
    "audio, problem",
    [
        (hit(), None),
        (hit(6.0, decay=1.2), None),  # a long ride: rings for seconds but dies away
        (hit(0.4) + hit(0.4, at=0.05, frequency=3000) * 0.3, None),  # a hit with a second partial
        (np.tile(hit(0.1, decay=1.0), 3), "does not die away"),  # a steady waveform, cut
        (0.5 * np.sin(2 * np.pi * 220 * np.arange(4 * RATE) / RATE) * np.linspace(1, 0, 4 * RATE), "sustained"),
        (hit(1.0) + hit(1.0, at=0.5), "more than one hit"),
    ],
    ids=["hit", "ride", "two-partials", "waveform", "drone", "loop"],
)
def test_single_hits_pass_and_other_sounds_say_why_not(tmp_path, audio, problem) -> None:
    path = tmp_path / "sound.wav"
    sf.write(path, audio.astype(np.float32), RATE)
    found = one_shot_problem(path)
    assert found is None if problem is None else found.startswith(problem)


def test_the_envelope_is_in_db_below_its_loudest_frame() -> None:
    level = envelope_db(hit(1.0, decay=0.1), RATE)
    assert level.max() == pytest.approx(0.0)
    decay_per_second = (level[10] - level[40]) / 0.6
    assert decay_per_second == pytest.approx(20 * np.log10(np.e) / 0.1, rel=0.05)


def test_an_unreadable_file_is_left_to_the_classifiers_own_reading(tmp_path) -> None:
    (tmp_path / "broken.wav").write_bytes(b"RIFF")
    assert one_shot_problem(tmp_path / "broken.wav") is None
