"""Is a file a single drum hit? A cheap envelope test run before the drum classifier, which knows no "not a drum".

A drum hit rises once and dies away. Three things it does not do, measured on a 20 ms envelope:
end within 3 dB of its peak (waveforms, loops and cut-off sounds do), stay within 10 dB of its peak
for more than 2.1 s (the longest ride in Hydrogen's kits stays 2.0 s; organs, strings and crowds stay
longer), or rise again by 30 dB after falling (loops and phrases do; a tambourine's jingles rise
about 20 dB). The thresholds were read off LMMS's sample folder and Hydrogen's kits; what they
still let through is in docs/data.md ("Sorting a messy library").
"""

from __future__ import annotations

import os

import numpy as np

from dkvae.core.errors import DkvaeError
from dkvae.sound.audio import rms_envelope, to_mono
from dkvae.sound.files import read_sound_file

ENVELOPE_SECONDS = 0.02
END_NEAR_PEAK_DB = 3.0
NEAR_PEAK_DB = 10.0
MAX_NEAR_PEAK_SECONDS = 2.1
NEW_HIT_RISE_DB = 30.0


def envelope_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS level of ``(samples,)`` audio in `ENVELOPE_SECONDS` frames, in dB relative to its loudest frame."""
    rms = rms_envelope(audio, sample_rate, ENVELOPE_SECONDS)
    return 20 * np.log10(np.maximum(rms, 1e-12) / max(rms.max(initial=0.0), 1e-12))


def one_shot_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the sound in `path` is not a single drum hit, or None when it may be one.

    An unreadable file is None too: reading it for the classifier reports why.
    """
    try:
        audio, rate = read_sound_file(path)
    except DkvaeError:
        return None
    level = envelope_db(to_mono(audio), rate)
    if len(level) < 2:
        return None
    after_peak = level[int(np.argmax(level)) :]
    if level[-1] > -END_NEAR_PEAK_DB:
        return f"does not die away: it ends within {END_NEAR_PEAK_DB:g} dB of its peak (a loop, a waveform or a cut)"
    near = np.count_nonzero(after_peak > -NEAR_PEAK_DB) * ENVELOPE_SECONDS
    if near > MAX_NEAR_PEAK_SECONDS:
        return f"sustained: {near:.1f} s within {NEAR_PEAK_DB:g} dB of its peak"
    from_onset = level[int(np.argmax(level > -NEAR_PEAK_DB)) :]
    rise = float((from_onset - np.minimum.accumulate(from_onset)).max())
    if rise >= NEW_HIT_RISE_DB:
        return f"more than one hit: it rises again by {rise:.0f} dB (a loop or a phrase)"
    return None
