"""A user's dropped sound: read from the request body under a byte cap, decoded in memory, never written to disk.

The body is the file's bytes (typed audio/* or application/octet-stream, as the page sends it) or a
multipart form with the file in it (``curl -F file=@kick.wav``). Any other type is refused: a page on
another site may POST text/plain or a url-encoded form without the browser asking the server first.
"""

from __future__ import annotations

import io
from email.parser import BytesParser
from email.policy import HTTP

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
#: Content types an upload may have besides audio/*: the file's bytes as such, or a form holding the file.
UPLOAD_TYPES = ("application/octet-stream", "multipart/form-data")


class TooLong(DkvaeError):
    """An upload whose sound lasts longer than `MAX_UPLOAD_SECONDS` (HTTP 413)."""


class NotASoundType(DkvaeError):
    """An upload whose Content-Type is neither a sound's, raw bytes' nor a multipart form's (HTTP 415)."""


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower case without its parameters ("" for none)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def upload_type(content_type: str | None) -> str:
    """An upload's Content-Type header, checked: `NotASoundType` unless audio/*, application/octet-stream or a form."""
    declared = media_type(content_type)
    if content_type is None or not (declared.startswith("audio/") or declared in UPLOAD_TYPES):
        raise NotASoundType(
            "send the sound as multipart/form-data (curl -F file=@kick.wav), or its bytes typed audio/* or "
            f"application/octet-stream; this upload is {content_type or 'sent with no content type'}"
        )
    return content_type


def sound_bytes(body: bytes, content_type: str) -> bytes:
    """The sound file in an upload's `body`: the body itself, or the first file of a multipart form.

    The form is parsed by the standard library's email parser (a form field is a MIME part; the file is the
    one with a file name). Raises DkvaeError for a form without a file.
    """
    if media_type(content_type) != "multipart/form-data":
        return body
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    form = BytesParser(policy=HTTP).parsebytes(head + body)
    if form.is_multipart():
        for part in form.iter_parts():
            if part.get_filename() is not None:
                return part.get_payload(decode=True) or b""
    raise DkvaeError("no file in the form; send the sound as a file field: curl -F file=@kick.wav")


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
