"""WAV files: the bit depths dkvae writes, a check of declared sample widths, and a fast reader of plain WAVs.

The reader gives libsndfile's values in a fraction of its time.

Parsing a short 16-bit WAV's header here and reading its samples with one ``pread`` takes a fraction
of the time libsndfile (soundfile) takes to open and read it, a difference that counts on a bank of
short WAVs (bench/preprocess.py; docs/performance.md, "Why preprocessing is fast"). Only the plain
case is read here: a RIFF ``WAVE`` file whose ``fmt `` chunk comes before its ``data`` chunk, 16- or
32-bit integer PCM or 32-bit float, every data byte present. `open_plain_wav` returns None for
anything else, and the caller opens the file with libsndfile, so unusual and broken files meet the
library's own checks and messages.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import numpy as np

from dkvae.core.errors import DkvaeError

#: WAV sample formats `save_wav` writes, by bit depth.
WAV_SUBTYPES = {16: "PCM_16", 24: "PCM_24"}


def check_bit_depth(bit_depth: int) -> None:
    """Refuse a WAV bit depth `save_wav` cannot write (before anything is written)."""
    if bit_depth not in WAV_SUBTYPES:
        raise DkvaeError(f"bit depth must be one of {sorted(WAV_SUBTYPES)}, got {bit_depth}")


#: Bytes read for the chunks before the samples: a plain header is 44, Broadcast WAV's ``bext`` 602 more.
HEADER_BYTES = 4096
#: Sample rates and channel counts read here; others go to libsndfile, which has its own limits.
RATE_RANGE = (1000, 384_000)
MAX_CHANNELS = 64

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
#: The 14 bytes after the format tag in an extensible header's sub-format GUID.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
#: libsndfile's integer subtypes -> (sample dtype, the scale its float read applies: an exact power of two).
INTEGER_SCALES: dict[str, tuple[np.dtype, float]] = {
    "PCM_16": (np.dtype("<i2"), 2.0**-15),
    "PCM_32": (np.dtype("<i4"), 2.0**-31),
}
#: (format tag, bits) -> (sample dtype, scale) of the formats read here.
_SAMPLES: dict[tuple[int, int], tuple[np.dtype, float]] = {
    (_PCM, 16): INTEGER_SCALES["PCM_16"],
    (_PCM, 32): INTEGER_SCALES["PCM_32"],
    (_FLOAT, 32): (np.dtype("<f4"), 1.0),
}


@dataclass
class PlainWav:
    """An open plain WAV file: its format, where its samples start, and the descriptor to read them from."""

    fd: int
    samplerate: int
    channels: int
    frames: int
    data_offset: int
    dtype: np.dtype
    scale: float

    def read(self, start: int, count: int) -> np.ndarray:
        """Frames from `start`, `count` at most, as float32 ``(frames, channels)``; fewer when the file ends early."""
        count = max(0, min(count, self.frames - start))
        width = self.channels * self.dtype.itemsize
        buffer = bytearray(count * width)
        received, offset = 0, self.data_offset + start * width
        while received < len(buffer):  # a read may stop short (a signal); only the file's end stops this
            step = os.preadv(self.fd, [memoryview(buffer)[received:]], offset + received)
            if step == 0:
                break
            received += step
        samples = np.frombuffer(buffer, self.dtype, count=received // width * self.channels)
        if self.dtype.kind == "f":
            return samples.astype(np.float32, copy=False).reshape(-1, self.channels)
        return (samples.astype(np.float32) * np.float32(self.scale)).reshape(-1, self.channels)

    def close(self) -> None:
        """Close the file."""
        os.close(self.fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def open_plain_wav(path: str | os.PathLike[str]) -> PlainWav | None:
    """`path` open as a `PlainWav`, or None when it is not a plain WAV file (or cannot be opened).

    Opened without blocking: a FIFO put in a file's place gives None at once instead of waiting for a writer.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except (OSError, ValueError):
        return None
    try:
        wav = _parse(fd)
    except OSError:
        wav = None
    if wav is None:
        os.close(fd)
    return wav


def _parse(fd: int) -> PlainWav | None:
    """Walk the chunks in the first `HEADER_BYTES` of the file open as `fd` up to ``data``."""
    size = os.fstat(fd).st_size
    head = os.pread(fd, HEADER_BYTES, 0)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    sample_format = None
    position = 12
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        chunk_size = int.from_bytes(head[position + 4 : position + 8], "little")
        body = position + 8
        if chunk_id == b"data":
            if sample_format is None:
                return None
            dtype, scale, channels, rate = sample_format
            width = channels * dtype.itemsize
            if chunk_size == 0 or chunk_size % width or body + chunk_size > size:
                return None
            return PlainWav(fd, rate, channels, chunk_size // width, body, dtype, scale)
        if chunk_id == b"fmt ":
            if sample_format is not None or body + chunk_size > len(head):
                return None
            sample_format = _sample_format(head[body : body + chunk_size])
            if sample_format is None:
                return None
        elif not (chunk_id.isascii() and chunk_id.decode("ascii").isprintable()):
            return None
        position = body + chunk_size + (chunk_size & 1)
    return None


def _sample_format(fmt: bytes) -> tuple[np.dtype, float, int, int] | None:
    """``(dtype, scale, channels, rate)`` from a ``fmt `` chunk's body, or None unless it is a plain format."""
    if len(fmt) < 16:
        return None
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _EXTENSIBLE:
        if len(fmt) < 40 or fmt[26:40] != _GUID_TAIL or struct.unpack_from("<H", fmt, 18)[0] != bits:
            return None
        tag = int.from_bytes(fmt[24:26], "little")
    sample = _SAMPLES.get((tag, bits))
    if sample is None or not 1 <= channels <= MAX_CHANNELS or not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        return None
    if block_align != channels * sample[0].itemsize:
        return None
    return sample[0], sample[1], channels, rate


#: libsndfile's formats whose header is a WAV ``fmt `` chunk (its log of them names the same fields).
WAV_FORMATS = frozenset({"WAV", "WAVEX", "W64", "RF64"})
#: Bits in each sample's container, for the integer and float subtypes libsndfile reads from those formats.
CONTAINER_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64}


def sample_width_problem(log: str, file_format: str, subtype: str, channels: int) -> str | None:
    """Why a WAV-family file's declared sample width does not fit the samples libsndfile reads, or None when it fits.

    libsndfile reads ``ceil(bits / 8)`` bytes a sample whatever block size the header gives, so a header
    claiming 7 bits of a 16-bit file has its samples read as bytes: full-scale noise. Fewer than 8 bits, a
    container that is not the declared width's whole bytes, and a block align (bytes per frame) other
    than the channels' containers are refused; 12 bits in 16 (left-justified, as the format says) fit.
    `log` is libsndfile's log of the header (``SoundFile.extra_info``).
    """
    container = CONTAINER_BITS.get(subtype)
    bits = _logged_number(log, "Bit Width")
    if file_format not in WAV_FORMATS or container is None or bits is None:
        return None
    if bits < 8 or -(-bits // 8) * 8 != container:
        return f"unsupported: the header declares {bits} bits per sample"
    block_align = _logged_number(log, "Block Align")
    if block_align is not None and block_align != channels * container // 8:
        return f"unsupported: the header declares {bits} bits per sample with a block align of {block_align}"
    return None


def _logged_number(log: str, field: str) -> int | None:
    """The number after ``field :`` on a line of libsndfile's log, or None when no line names it."""
    found = re.search(rf"^\s*{re.escape(field)}\s*:\s*(\d+)", log, re.MULTILINE)
    return int(found.group(1)) if found else None
