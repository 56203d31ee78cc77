"""A user's sound file read safely: a clear error for anything libsndfile cannot read, and a bounded length."""

from __future__ import annotations

import math
import os
import stat
from typing import BinaryIO

import numpy as np
import soundfile as sf

from dkvae.core.config import MAX_LEAD_IN_SECONDS
from dkvae.core.errors import DkvaeError
from dkvae.sound.wav import sample_width_problem

#: A user's file is read up to this long (seconds); a drum sound is far shorter, the rest is ignored.
MAX_INPUT_SECONDS = MAX_LEAD_IN_SECONDS + 10.0


def read_sound_file(path: str | os.PathLike[str] | BinaryIO) -> tuple[np.ndarray, int]:
    """A user's sound file as float32 ``(samples, channels)`` and its rate (the first `MAX_INPUT_SECONDS`).

    `path` may also be an open binary file. A missing path and a folder are named as such, where
    libsndfile would say "System error" and "Format not recognised"; anything else but a regular file is
    refused unopened (a FIFO would block the read for ever, a device never end it). A WAV whose header
    misstates its sample width is refused as `dkvae.sound.audio.load_sound` refuses it: libsndfile would
    read it as full-scale noise.
    """
    if isinstance(path, (str, os.PathLike)):
        _check_regular_file(path)
    try:
        with sf.SoundFile(path) as handle:
            problem = sample_width_problem(handle.extra_info, handle.format, handle.subtype, handle.channels)
            if problem is not None:
                raise DkvaeError(f"cannot read {path}: {problem}")
            frames = min(handle.frames, math.ceil(MAX_INPUT_SECONDS * handle.samplerate))
            audio = handle.read(frames, dtype="float32", always_2d=True)
            return audio, handle.samplerate
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DkvaeError(f"cannot read {path}: {message}") from None


def _check_regular_file(path: str | os.PathLike[str]) -> None:
    """Refuse a `path` that is missing, a folder or not a regular file, naming which."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DkvaeError(f"cannot read {path}: no such file") from None
    except (OSError, ValueError) as error:
        raise DkvaeError(f"cannot read {path}: {error.strerror if isinstance(error, OSError) else error}") from None
    if stat.S_ISDIR(mode):
        raise DkvaeError(f"cannot read {path}: it is a folder, not a sound file")
    if not stat.S_ISREG(mode):
        raise DkvaeError(f"cannot read {path}: not a regular file")
