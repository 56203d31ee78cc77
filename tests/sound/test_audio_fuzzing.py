"""Fuzzing the loader with malformed audio: every input is read or refused with a reason, never a crash, a hang or a huge allocation.

The WAV files are built field by field (format tag, channels, sample rate, bit depth, chunk sizes,
payload) so that headers lie in every way a broken or hostile file can: absurd rates and channel
counts, declared lengths of gigabytes, truncated data, NaN and infinite floats.
"""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dkvae import Bank
from dkvae.core.config import get_preset
from dkvae.sound.audio import BadAudio, load_sound

AUDIO = get_preset("default").audio
#: What loading one file may allocate at most, whatever its header says (bytes).
MEMORY_LIMIT = 256 * 2**20

u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)


FIELDS = ("format_tag", "channels", "sample_rate", "bits", "block_align", "data_size", "riff_size", "cut", "samples")
ENCODINGS = {(1, 8): "u1", (1, 16): "<i2", (1, 32): "<i4", (3, 32): "<f4", (3, 64): "<f8"}


@st.composite
def wav_files(draw: st.DrawFn) -> bytes:
    """A valid WAV file of a decaying tone, then up to three of its header fields or its samples made to lie.

    Starting from a valid file keeps the fuzzing deep: a lie in one field reaches the code that
    trusts the others, where a file of random bytes would stop at the first check.
    """
    lies = draw(st.sets(st.sampled_from(FIELDS), max_size=3))
    format_tag, bits = draw(st.sampled_from(sorted(ENCODINGS)))
    channels = draw(st.integers(1, 3))
    sample_rate = draw(st.sampled_from([8000, 22050, 44100, 48000, 96000]))
    frames = draw(st.integers(0, 6000))
    t = np.arange(frames) / sample_rate
    tone = np.sin(2 * np.pi * draw(st.floats(30, 8000)) * t) * np.exp(-t / draw(st.floats(0.005, 0.5)))
    audio = np.repeat((draw(st.floats(0, 1)) * tone)[:, None], channels, axis=1)
    if "samples" in lies and format_tag == 3 and audio.size:
        audio.flat[draw(st.integers(0, audio.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e30]))
    dtype = ENCODINGS[(format_tag, bits)]
    if dtype == "u1":
        payload = np.round(audio * 127 + 128).clip(0, 255).astype(dtype).tobytes()
    elif dtype.startswith("<i"):
        scale = 2 ** (bits - 1) - 1
        payload = np.round(np.nan_to_num(audio) * scale).clip(-scale, scale).astype(dtype).tobytes()
    else:
        payload = audio.astype(dtype).tobytes()
    if "samples" in lies and format_tag == 1:
        payload = draw(st.binary(min_size=len(payload), max_size=len(payload)))
    block_align = channels * bits // 8
    header = {
        "format_tag": format_tag, "channels": channels, "sample_rate": sample_rate, "bits": bits,
        "block_align": block_align, "data_size": len(payload),
    }  # fmt: skip
    for field in lies & {"format_tag", "channels", "bits", "block_align"}:
        header[field] = draw(u16)
    for field in lies & {"sample_rate", "data_size"}:
        header[field] = draw(u32 | st.sampled_from([0, 1, 2**31, 2**32 - 1]))
    fmt = struct.pack(
        "<HHIIHH", header["format_tag"], header["channels"], header["sample_rate"],
        header["sample_rate"] * header["block_align"] % 2**32, header["block_align"], header["bits"],
    )  # fmt: skip
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", header["data_size"]) + payload
    riff_size = draw(u32) if "riff_size" in lies else len(body)
    whole = b"RIFF" + struct.pack("<I", riff_size) + body
    return whole[: draw(st.integers(0, len(whole)))] if "cut" in lies else whole


def load_within_limits(path) -> None:
    """`load_sound` must return a finite sound of the configured length or raise BadAudio, allocating little."""
    tracemalloc.start()
    try:
        audio, info = load_sound(path, AUDIO)
        assert audio.shape == (AUDIO.num_samples,) and np.isfinite(audio).all()
        assert info.source_sample_rate > 0 and info.channels > 0
    except BadAudio as reason:
        assert str(reason)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"loading allocated {peak / 2**20:.0f} MiB"


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=wav_files())
def test_any_wav_file_is_read_or_refused_with_a_reason(data, tmp_path) -> None:
    path = tmp_path / "fuzzed.wav"
    path.write_bytes(data)
    load_within_limits(path)


def test_a_header_declaring_gigabytes_allocates_nothing_of_the_kind(tmp_path) -> None:
    samples = (0.5 * np.sin(np.arange(4410) / 5.0) * np.exp(-np.arange(4410) / 800)).astype("<i2")
    for channels, rate in ((1, 44100), (65535, 44100), (2, 2**31 - 1), (1, 1)):
        fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels % 2**32, 2 * channels % 2**16, 16)
        payload = (samples * 20000).astype("<i2").tobytes()
        body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 2**31) + payload
        path = tmp_path / f"huge_{channels}_{rate}.wav"
        path.write_bytes(b"RIFF" + struct.pack("<I", 2**32 - 1) + body)
        load_within_limits(path)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(broken=st.lists(wav_files(), min_size=1, max_size=4))
def test_a_bank_keeps_every_good_file_and_skips_every_broken_one_with_a_reason(broken, tmp_path_factory) -> None:
    root = tmp_path_factory.mktemp("bank")
    (root / "kick").mkdir()
    t = np.arange(22050) / 44100
    sf.write(root / "kick" / "good.wav", (0.8 * np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.1)).astype(np.float32), 44100)
    for index, data in enumerate(broken):
        (root / "kick" / f"fuzzed_{index}.wav").write_bytes(data)
    bank = Bank(root, workers=1)
    kept = set(bank.data["original_path"])
    skipped = bank.read_skipped()
    assert "kick/good.wav" in kept
    assert kept | set(skipped["file"]) == {"kick/good.wav", *(f"kick/fuzzed_{i}.wav" for i in range(len(broken)))}
    assert skipped["reason"].str.len().gt(0).all()
