from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from dkvae.core.config import get_preset
from dkvae.sound import audio
from dkvae.sound.audio import BadAudio, load_sound
from dkvae.sound.wav import open_plain_wav

from ..conftest import drum_hit

PLAIN_SUBTYPES = ["PCM_16", "PCM_32", "FLOAT"]
OTHER_SUBTYPES = ["PCM_U8", "PCM_24", "DOUBLE", "ULAW", "ALAW", "IMA_ADPCM"]


def noise(frames: int, channels: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).uniform(-0.9, 0.9, (frames, channels))).astype(np.float32)


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm16_fmt(channels: int = 1, rate: int = 44100) -> bytes:
    return struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)


def assert_reads_as_libsndfile(path: Path) -> None:
    info = sf.info(path)
    with open_plain_wav(path) as wav:
        assert (wav.samplerate, wav.channels, wav.frames) == (info.samplerate, info.channels, info.frames)
        for start, count in [(0, info.frames), (0, 7), (info.frames // 3, info.frames), (info.frames - 1, 50)]:
            expected = sf.read(path, frames=count, start=start, dtype="float32", always_2d=True)[0]
            got = wav.read(start, count)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, expected)


@settings(max_examples=40, deadline=None)
@given(
    subtype=st.sampled_from(PLAIN_SUBTYPES),
    extensible=st.booleans(),
    channels=st.integers(1, 8),
    rate=st.sampled_from([8000, 22050, 44100, 48000, 96000, 192000]),
    frames=st.integers(1, 3000),
)
def test_plain_wav_reads_exactly_what_libsndfile_reads(
    tmp_path_factory, subtype, extensible, channels, rate, frames
) -> None:
    path = tmp_path_factory.mktemp("wav") / "x.wav"
    sf.write(path, noise(frames, channels), rate, subtype=subtype, format="WAVEX" if extensible else "WAV")
    assert_reads_as_libsndfile(path)


@pytest.mark.parametrize("subtype", OTHER_SUBTYPES)
def test_other_encodings_are_left_to_libsndfile(tmp_path, subtype) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, noise(2000, 2), 44100, subtype=subtype)
    assert open_plain_wav(path) is None
    sound, _ = load_sound(path, get_preset("default").audio)
    assert np.max(np.abs(sound)) == pytest.approx(1.0, abs=1e-3)


def test_chunks_before_the_data_are_skipped_with_their_pad_bytes(tmp_path) -> None:
    samples = (noise(1001, 2) * 32767).astype("<i2")
    path = tmp_path / "x.wav"
    path.write_bytes(
        riff(
            chunk(b"fmt ", pcm16_fmt(2)),
            chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 5) + b"dkvae\0"),  # odd sizes: pad bytes follow
            chunk(b"bext", bytes(603)),
            chunk(b"data", samples.tobytes()),
            chunk(b"cue ", bytes(28)),
        )
    )
    assert_reads_as_libsndfile(path)


@pytest.mark.parametrize(
    "contents",
    [
        b"",
        b"RIFF",
        riff(chunk(b"fmt ", pcm16_fmt())),  # no data chunk
        riff(chunk(b"data", bytes(200)), chunk(b"fmt ", pcm16_fmt())),  # data before fmt
        riff(chunk(b"fmt ", pcm16_fmt()), chunk(b"data", b"")),  # no frames
        riff(chunk(b"fmt ", pcm16_fmt()), chunk(b"data", bytes(201))),  # half a frame at the end
        riff(chunk(b"fmt ", pcm16_fmt()[:14]), chunk(b"data", bytes(200))),  # fmt too short
        riff(chunk(b"fmt ", pcm16_fmt()), chunk(b"\xff\x00ab", bytes(8)), chunk(b"data", bytes(200))),  # not a chunk id
        riff(chunk(b"fmt ", pcm16_fmt(rate=500)), chunk(b"data", bytes(200))),  # rate out of range
        riff(
            chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, 44100, 88200, 4, 16)), chunk(b"data", bytes(200))
        ),  # block align
        b"RIFX" + riff(chunk(b"fmt ", pcm16_fmt()), chunk(b"data", bytes(200)))[4:],  # big-endian RIFF
        riff(chunk(b"fmt ", pcm16_fmt()), chunk(b"data", bytes(2000)))[:1000],  # truncated data
    ],
    ids=[
        "empty",
        "magic-only",
        "no-data",
        "data-first",
        "no-frames",
        "half-frame",
        "short-fmt",
        "bad-id",
        "odd-rate",
        "block-align",
        "rifx",
        "truncated",
    ],
)
def test_anything_unusual_is_left_to_libsndfile(tmp_path, contents) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(contents)
    assert open_plain_wav(path) is None


def test_a_missing_file_is_left_to_libsndfile(tmp_path) -> None:
    assert open_plain_wav(tmp_path / "absent.wav") is None
    with pytest.raises(BadAudio, match="cannot decode"):
        load_sound(tmp_path / "absent.wav", get_preset("default").audio)


def test_a_file_cut_after_its_header_was_read_gives_fewer_frames_and_load_sound_calls_it_truncated(
    tmp_path, monkeypatch
) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, noise(4000, 1), 44100, subtype="PCM_16")
    with open_plain_wav(path) as wav:
        os.truncate(path, 44 + 2 * 1000)
        assert len(wav.read(0, 4000)) == 1000
    sf.write(path, noise(4000, 1), 44100, subtype="PCM_16")
    opened = audio.open_plain_wav

    def open_then_cut(name):
        wav = opened(name)
        os.truncate(name, 44 + 2 * 1000)
        return wav

    monkeypatch.setattr(audio, "open_plain_wav", open_then_cut)
    with pytest.raises(BadAudio, match="truncated: header promises 4000 frames, data ends at 1000"):
        load_sound(path, get_preset("default").audio)


def test_reads_that_stop_short_are_continued(tmp_path, monkeypatch) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, noise(3000, 2), 44100, subtype="PCM_16")
    original = os.preadv

    def at_most_1000_bytes(fd, buffers, offset):
        return original(fd, [memoryview(buffers[0])[:1000]], offset)

    monkeypatch.setattr(os, "preadv", at_most_1000_bytes)
    assert_reads_as_libsndfile(path)


def test_load_sound_reads_plain_wavs_without_libsndfile(tmp_path, monkeypatch) -> None:
    path = tmp_path / "kick.WAV"
    sf.write(path, drum_hit("tone", 0.5), 44100, subtype="PCM_16")

    def no_libsndfile(*args, **kwargs):
        raise AssertionError("libsndfile was opened")

    monkeypatch.setattr(sf, "SoundFile", no_libsndfile)
    sound, info = load_sound(path, get_preset("default").audio)
    assert info.source_frames == round(0.5 * 44100) and np.max(np.abs(sound)) == pytest.approx(1.0)


def test_load_sound_reads_only_the_needed_prefix_of_a_long_wav(tmp_path, monkeypatch) -> None:
    rate = 44100
    long = np.concatenate([drum_hit("tone", 0.5), np.full(rate * 120, 0.01, np.float32)])
    path = tmp_path / "long.wav"
    sf.write(path, long, rate, subtype="PCM_16")
    read = []
    original = os.preadv

    def counting_preadv(fd, buffers, offset):
        read.append(sum(len(b) for b in buffers))
        return original(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", counting_preadv)
    config = get_preset("default").audio
    _, info = load_sound(path, config)
    assert info.source_frames == long.size
    assert sum(read) <= 2 * 2 * config.num_samples


def wav_cases(folder: Path) -> list[Path]:
    """Files load_sound must treat alike by either reader: good ones in every plain encoding, and bad ones."""
    hit = drum_hit("noise", 0.4)
    cases = []
    for index, subtype in enumerate(PLAIN_SUBTYPES):
        for channels in (1, 2, 5):
            path = folder / f"{subtype}-{channels}.wav"
            sf.write(
                path,
                np.stack([hit * (c + 1) / channels for c in range(channels)], axis=1),
                22050 * (index + 1),
                subtype=subtype,
            )
            cases.append(path)
    late = np.concatenate([np.zeros(30000, np.float32), np.full(100, 1e-7, np.float32), hit])
    bad = {
        "late": late,
        "silent": np.zeros(44100, np.float32),
        "below-floor": np.full(4410, 1e-6, np.float32),
        "nan": np.array([0.0, np.nan, 0.5] * 1000, np.float32),
        "inf": np.array([0.0, np.inf, 0.5] * 1000, np.float32),
        "click": np.r_[np.ones(200), np.zeros(8000)].astype(np.float32),
        "long-lead": np.concatenate([np.zeros(44100 * 12, np.float32), hit]),
    }
    for name, samples in bad.items():
        path = folder / f"{name}.wav"
        sf.write(path, samples, 44100, subtype="FLOAT")
        cases.append(path)
    return cases


@pytest.mark.parametrize("preset", ["default", "seed"])
def test_load_sound_gives_the_same_sound_info_and_reasons_by_either_reader(tmp_path, monkeypatch, preset) -> None:
    config = get_preset(preset).audio

    def outcomes() -> list[object]:
        found = []
        for path in wav_cases(tmp_path):
            try:
                found.append(load_sound(path, config))
            except BadAudio as reason:
                found.append(str(reason))
        return found

    fast = outcomes()
    monkeypatch.setattr(audio, "open_plain_wav", lambda path: None)
    slow = outcomes()
    assert [type(f) for f in fast] == [type(s) for s in slow]
    assert sum(isinstance(f, str) for f in fast) == 6  # every bad case but "late", which loads
    for f, s in zip(fast, slow, strict=True):
        if isinstance(f, str):
            assert f == s
        else:
            np.testing.assert_array_equal(f[0], s[0])
            assert f[1] == s[1]


def declaring(bits: int, block_align: int, samples: np.ndarray) -> bytes:
    """A mono 44.1 kHz PCM WAV of 16-bit `samples` whose header declares `bits` per sample and `block_align`."""
    fmt = struct.pack("<HHIIHH", 1, 1, 44100, 44100 * block_align, block_align, bits)
    return riff(chunk(b"fmt ", fmt), chunk(b"data", samples.astype("<i2").tobytes()))


@pytest.mark.parametrize(
    ("bits", "block_align", "reason"),
    [
        (7, 2, "unsupported: the header declares 7 bits per sample"),
        (7, 1, "unsupported: the header declares 7 bits per sample"),
        (9, 1, "unsupported: the header declares 9 bits per sample with a block align of 1"),
        (24, 2, "unsupported: the header declares 24 bits per sample with a block align of 2"),
    ],
)
def test_a_wav_whose_header_misstates_its_sample_width_is_refused(tmp_path, bits, block_align, reason) -> None:
    hit = (drum_hit("tone", 0.3) * 32767).astype(np.int16)
    path = tmp_path / "x.wav"
    path.write_bytes(declaring(bits, block_align, hit))
    with pytest.raises(BadAudio) as raised:
        load_sound(path, get_preset("default").audio)
    assert str(raised.value) == reason


def test_a_wav_of_12_bits_in_16_bit_samples_is_read_as_16_bit(tmp_path) -> None:
    hit = (drum_hit("tone", 0.3) * 32767).astype(np.int16) & ~0xF  # 12 significant bits, left-justified
    twelve, sixteen = tmp_path / "twelve.wav", tmp_path / "sixteen.wav"
    twelve.write_bytes(declaring(12, 2, hit))
    sixteen.write_bytes(declaring(16, 2, hit))
    config = get_preset("default").audio
    np.testing.assert_array_equal(load_sound(twelve, config)[0], load_sound(sixteen, config)[0])


@pytest.mark.parametrize("name", ["x.wav", "x.flac"])
def test_load_sound_refuses_a_fifo_without_opening_it(tmp_path, fifo_readers, name) -> None:
    readers = fifo_readers(tmp_path / name)
    with pytest.raises(BadAudio, match="^not a regular file$"):
        load_sound(tmp_path / name, get_preset("default").audio)
    assert readers.count == 0
