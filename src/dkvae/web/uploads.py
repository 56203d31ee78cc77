"""A user's dropped sound: read from the request body under a byte cap, decoded in memory, never written to disk."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from dkvae.core.errors import DkvaeError
from dkvae.sound.files import MAX_INPUT_SECONDS, read_sound_file

#: Largest upload accepted, in bytes (a 20 s stereo 24-bit 96 kHz WAV is 11.5 MB).
MAX_UPLOAD_BYTES = 16 * 2**20
#: Longest sound accepted, in seconds: what `read_sound_file` reads of a user's file at most.
MAX_UPLOAD_SECONDS = MAX_INPUT_SECONDS
#: Highest sample rate and channel count accepted, so a short header cannot ask for a huge decode.
MAX_UPLOAD_RATE = 384_000
MAX_UPLOAD_CHANNELS = 8


class TooLong(DkvaeError):
    """An upload whose sound lasts longer than `MAX_UPLOAD_SECONDS` (HTTP 413)."""


def decode_upload(data: bytes) -> tuple[np.ndarray, int]:
    """The sound in `data` as float32 ``(samples, channels)`` and its rate, with the project's own reader.

    Raises `TooLong` beyond `MAX_UPLOAD_SECONDS`, DkvaeError for anything that is not a readable sound.
    """
    if not data:
        raise DkvaeError("the upload is empty; send the bytes of a WAV, FLAC, AIFF or OGG file")
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        raise DkvaeError("not a sound file this server can read; send a WAV, FLAC, AIFF or OGG file") from None
    if info.samplerate > MAX_UPLOAD_RATE or info.channels > MAX_UPLOAD_CHANNELS:
        raise DkvaeError(f"sounds up to {MAX_UPLOAD_RATE} Hz and {MAX_UPLOAD_CHANNELS} channels are accepted")
    if info.frames > MAX_UPLOAD_SECONDS * info.samplerate:
        raise TooLong(
            f"the sound lasts {info.frames / info.samplerate:.1f} s; at most {MAX_UPLOAD_SECONDS:g} s is accepted"
        )
    try:
        return read_sound_file(io.BytesIO(data))
    except DkvaeError as error:
        reason = str(error).split(": ", 1)[-1]
        raise DkvaeError(f"cannot read the uploaded sound: {reason}") from None
