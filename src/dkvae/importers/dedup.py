"""Find and drop duplicate sounds in an imported bank: exact copies and near-copies such as gain-only velocity layers.

Kits reuse the same samples (GM SoundFonts share them across presets; Hydrogen kits copy each
other's), and the velocity layers of one key are often one recording at several gains. Left in, they
over-weight a few sounds and leak test sounds into training. Two checks, both on the decoded audio:

- *exact*: the SHA-256 of the decoded mono samples (so a WAV and a FLAC of one recording match);
- *near*: a cheap fingerprint — the onset-aligned, peak-normalized log-magnitude spectrum pooled
  into `FINGERPRINT_BANDS` log-spaced bands × `FINGERPRINT_FRAMES` frames — within
  `NEAR_DUPLICATE_DB` mean absolute dB of a sound already kept.

The first sound in manifest order is kept; later copies are removed from the bank (a symbolic link
is removed, never the file it points to) and listed in ``BANK/duplicates.csv`` with what they copy.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from dkvae.core.atomic import atomic_path
from dkvae.core.progress import Progress
from dkvae.core.threads import torch_threads
from dkvae.data.layout import MANIFEST_NAME
from dkvae.sound.audio import find_onset, log_spectrogram, resample, to_mono

#: Every fingerprint is taken at this rate (Hz), so sounds of any rate compare.
FINGERPRINT_SAMPLE_RATE = 22050
#: The fingerprint covers this much of each sound after its onset (seconds).
FINGERPRINT_SECONDS = 0.5
#: STFT size and hop of the fingerprint's spectrum (samples at `FINGERPRINT_SAMPLE_RATE`).
FINGERPRINT_N_FFT = 1024
FINGERPRINT_HOP = 256
#: Log-spaced frequency bands and time frames the spectrum is averaged into.
FINGERPRINT_BANDS = 24
FINGERPRINT_FRAMES = 12
#: Lowest band edge (Hz).
FINGERPRINT_LOW_HZ = 30.0
#: Levels below this (dB under the sound's peak band) count as equal: noise floors do not differ sounds.
FINGERPRINT_FLOOR_DB = -60.0
#: Where the sound starts: first sample within this many dB of its peak.
ONSET_DB = -40.0
#: Two fingerprints closer than this mean absolute difference (dB) are near-duplicates. On the
#: Hydrogen kits, 66 sounds lie under 0.05 dB from their nearest neighbour (gain copies), 2 at
#: 0.1-0.2 dB, then none below 0.4 dB, where distinct recordings of one instrument begin.
NEAR_DUPLICATE_DB = 0.3
#: Manifest order is the keep order; this file lists what was dropped.
DUPLICATES_NAME = "duplicates.csv"
DUPLICATE_COLUMNS = ["file", "duplicate_of", "kind", "distance_db"]

#: Full scale of 16-bit samples.
PCM_SCALE = 32768.0


@dataclass(frozen=True)
class Duplicate:
    """A file that copies an earlier one: `kind` is "exact" or "near", `distance_db` the fingerprint distance."""

    file: str
    duplicate_of: str
    kind: str
    distance_db: float


def _band_edges(n_fft: int, sample_rate: int) -> np.ndarray:
    """FFT bin index where each of the `FINGERPRINT_BANDS` log-spaced bands starts (plus the end)."""
    hertz = np.geomspace(FINGERPRINT_LOW_HZ, sample_rate / 2, FINGERPRINT_BANDS + 1)
    edges = np.round(hertz / sample_rate * n_fft).astype(int)
    return np.maximum.accumulate(np.maximum(edges, np.arange(len(edges)) + 1))


_EDGES = _band_edges(FINGERPRINT_N_FFT, FINGERPRINT_SAMPLE_RATE)


def fingerprint(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Fingerprint ``(FINGERPRINT_BANDS * FINGERPRINT_FRAMES,)`` in dB below the peak band of ``(samples[, channels])`` audio.

    Gain does not change it (levels are relative to the sound's own peak), nor do leading silence,
    channel count or sample rate.
    """
    mono = to_mono(np.asarray(audio, dtype=np.float32))
    if sample_rate != FINGERPRINT_SAMPLE_RATE:
        mono = resample(mono, sample_rate, FINGERPRINT_SAMPLE_RATE)
    start = find_onset(mono, ONSET_DB)
    length = round(FINGERPRINT_SECONDS * FINGERPRINT_SAMPLE_RATE)
    window = np.zeros(length, dtype=np.float32)
    piece = mono[start : start + length]
    window[: len(piece)] = piece
    power = 10.0 ** (log_spectrogram(window, FINGERPRINT_N_FFT, FINGERPRINT_HOP).numpy().astype(np.float64) / 10.0)
    bands = np.add.reduceat(power[: _EDGES[-1]], _EDGES[:-1], axis=0)
    frames = np.array_split(np.arange(bands.shape[1]), FINGERPRINT_FRAMES)
    pooled = np.stack([bands[:, index].mean(axis=1) for index in frames], axis=1)
    level = 10.0 * np.log10(np.maximum(pooled, 1e-20))
    return np.maximum(level - level.max(), FINGERPRINT_FLOOR_DB).ravel().astype(np.float32)


def audio_digest(pcm: np.ndarray) -> str:
    """SHA-256 of 16-bit audio ``(samples[, channels])`` mixed to mono: equal for copies of one recording in any container.

    Decode with ``dtype="int16"``: libsndfile scales floats differently per container, integers not.
    """
    mono = np.round(to_mono(np.asarray(pcm, dtype=np.float32))).astype("<i2")
    return hashlib.sha256(mono.tobytes()).hexdigest()


def find_duplicates(
    paths: list[Path], names: list[str] | None = None, progress: Progress | None = None
) -> tuple[list[Duplicate], list[tuple[str, str]]]:
    """Which of `paths` copy an earlier one, and which could not be read: ``(duplicates, [(name, reason)])``.

    `names` label the files in the result (default: the paths). Files are compared in order; a later
    file matching any kept one is a duplicate of the first it matches.
    """
    labels = [str(path) for path in paths] if names is None else names
    digests: dict[str, str] = {}
    kept_names: list[str] = []
    kept_prints: list[np.ndarray] = []
    duplicates: list[Duplicate] = []
    unreadable: list[tuple[str, str]] = []
    with torch_threads(1):  # thousands of tiny STFTs: thread start-up would cost more than they do
        for done, (path, name) in enumerate(zip(paths, labels), start=1):
            if progress:
                progress(done, len(paths))
            try:
                pcm, sample_rate = sf.read(path, dtype="int16", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, OSError) as error:
                unreadable.append((name, f"cannot decode: {error}"))
                continue
            if len(pcm) == 0:
                unreadable.append((name, "empty"))
                continue
            digest = audio_digest(pcm)
            if digest in digests:
                duplicates.append(Duplicate(name, digests[digest], "exact", 0.0))
                continue
            digests[digest] = name
            signature = fingerprint(pcm.astype(np.float32) / PCM_SCALE, sample_rate)
            if kept_prints:
                distances = np.abs(np.stack(kept_prints) - signature).mean(axis=1)
                nearest = int(distances.argmin())
                if distances[nearest] < NEAR_DUPLICATE_DB:
                    duplicates.append(Duplicate(name, kept_names[nearest], "near", float(distances[nearest])))
                    continue
            kept_names.append(name)
            kept_prints.append(signature)
    return duplicates, unreadable


def remove_duplicates(bank: str | os.PathLike[str], progress: Progress | None = None) -> list[Duplicate]:
    """Drop the duplicate files of an imported bank (see the module doc); returns them.

    The manifest is rewritten without their rows and ``BANK/duplicates.csv`` lists them (merged with
    earlier runs). Files that cannot be decoded are left for the preprocessor to report.
    """
    root = Path(bank)
    manifest = pd.read_csv(root / MANIFEST_NAME, dtype=str, keep_default_na=False)
    names = list(manifest["original_path"])
    duplicates, _ = find_duplicates([root / name for name in names], names, progress)
    dropped = {duplicate.file for duplicate in duplicates}
    with atomic_path(root / MANIFEST_NAME) as tmp:
        manifest[~manifest["original_path"].isin(dropped)].to_csv(tmp, index=False)
    listing = root / DUPLICATES_NAME
    earlier = pd.read_csv(listing, dtype=str, keep_default_na=False) if listing.exists() else None
    rows = pd.DataFrame([vars(duplicate) for duplicate in duplicates], columns=DUPLICATE_COLUMNS)
    if earlier is not None:
        rows = pd.concat([earlier[~earlier["file"].isin(dropped)], rows.astype(str)], ignore_index=True)
    with atomic_path(listing) as tmp:
        rows.to_csv(tmp, index=False)
    for name in sorted(dropped):
        (root / name).unlink(missing_ok=True)
    return duplicates
