"""Tests for reading a user's sound file: what it gives, and errors that say what is wrong with the path."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from dkvae.core.errors import DkvaeError
from dkvae.sound.files import MAX_INPUT_SECONDS, read_sound_file


def test_a_sound_file_reads_as_samples_by_channels_up_to_the_length_limit(tmp_path) -> None:
    rate = 8000
    stereo = np.random.default_rng(0).uniform(-0.5, 0.5, (int((MAX_INPUT_SECONDS + 2) * rate), 2)).astype(np.float32)
    sf.write(tmp_path / "long.wav", stereo, rate, subtype="FLOAT")
    audio, read_rate = read_sound_file(tmp_path / "long.wav")
    assert read_rate == rate and audio.shape == (int(MAX_INPUT_SECONDS * rate), 2)
    np.testing.assert_array_equal(audio, stereo[: len(audio)])
    buffer = io.BytesIO()
    sf.write(buffer, stereo[:100, 0], rate, format="WAV", subtype="FLOAT")
    np.testing.assert_array_equal(read_sound_file(io.BytesIO(buffer.getvalue()))[0][:, 0], stereo[:100, 0])


def test_a_missing_file_a_folder_and_a_non_sound_say_what_they_are(tmp_path) -> None:
    with pytest.raises(DkvaeError, match=r"^cannot read .*nosuch\.wav: no such file$"):
        read_sound_file(tmp_path / "nosuch.wav")
    with pytest.raises(DkvaeError, match=r"^cannot read .*: it is a folder, not a sound file$"):
        read_sound_file(tmp_path)
    (tmp_path / "notes.txt").write_text("not a sound")
    with pytest.raises(DkvaeError, match=r"^cannot read .*notes\.txt: .*not recogni[sz]ed"):
        read_sound_file(str(tmp_path / "notes.txt"))
