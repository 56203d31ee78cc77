"""A user's sound file read safely: a clear error for anything libsndfile cannot read, and a bounded length."""

from __future__ import annotations

import math
import os
from typing import BinaryIO

import numpy as np
import soundfile as sf

from dkvae.core.config import MAX_LEAD_IN_SECONDS
from dkvae.core.errors import DkvaeError

#: A user's file is read up to this long (seconds); a drum sound is far shorter, the rest is ignored.
MAX_INPUT_SECONDS = MAX_LEAD_IN_SECONDS + 10.0


def read_sound_file(path: str | os.PathLike[str] | BinaryIO) -> tuple[np.ndarray, int]:
    """A user's sound file as float32 ``(samples, channels)`` and its rate (the first `MAX_INPUT_SECONDS`).

    `path` may also be an open binary file. A missing path and a folder are named as such, where
    libsndfile would say "System error" and "Format not recognised".
    """
    if isinstance(path, (str, os.PathLike)):
        if os.path.isdir(path):
            raise DkvaeError(f"cannot read {path}: it is a folder, not a sound file")
        if not os.path.exists(path):
            raise DkvaeError(f"cannot read {path}: no such file")
    try:
        with sf.SoundFile(path) as handle:
            frames = min(handle.frames, math.ceil(MAX_INPUT_SECONDS * handle.samplerate))
            audio = handle.read(frames, dtype="float32", always_2d=True)
            return audio, handle.samplerate
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DkvaeError(f"cannot read {path}: {message}") from None
