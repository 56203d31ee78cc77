"""Tests for reading a user's sound file: what it gives, and errors that say what is wrong with the path."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf

from dkvae.core.errors import DkvaeError
from dkvae.sound.files import MAX_INPUT_SECONDS, read_sound_file

from ..conftest import drum_hit
from .test_wav import declaring


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


@pytest.mark.parametrize("name", ["x.wav", "x.flac"])
def test_a_fifo_is_refused_without_being_opened(tmp_path, fifo_readers, name) -> None:
    readers = fifo_readers(tmp_path / name)
    with pytest.raises(DkvaeError, match=rf"^cannot read .*{re.escape(name)}: not a regular file$"):
        read_sound_file(tmp_path / name)
    assert readers.count == 0


def test_a_wav_whose_header_misstates_its_sample_width_is_refused_as_load_sound_refuses_it(tmp_path) -> None:
    hit = (drum_hit("tone", 0.3) * 32767).astype(np.int16)
    (tmp_path / "x.wav").write_bytes(declaring(7, 2, hit))
    reason = "unsupported: the header declares 7 bits per sample"
    with pytest.raises(DkvaeError, match=rf"^cannot read .*x\.wav: {reason}$"):
        read_sound_file(tmp_path / "x.wav")
    with pytest.raises(DkvaeError, match=rf": {reason}$"):  # an upload, read from memory
        read_sound_file(io.BytesIO((tmp_path / "x.wav").read_bytes()))
    (tmp_path / "twelve.wav").write_bytes(declaring(12, 2, hit & ~0xF))  # 12 bits left-justified in 16 fit
    assert read_sound_file(tmp_path / "twelve.wav")[0].shape == (len(hit), 1)
