"""Turn audio files into normalized spectrograms in parallel, in resumable parts on disk.

Files are processed in chunks; each finished chunk is written as a *part* (an ``.npy`` array plus a
``.json`` record list, the JSON written last as the part's commit). After an interruption the parts
already on disk are reused, so a rerun redoes at most the chunks that were in flight.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .audio import BadAudio, SoundInfo, load_sound, log_spectrogram, normalize_many
from .config import AudioConfig
from .progress import Progress

#: Spectrograms are stored as float16 in [0, 1]: a step of at most 0.0005, under 0.06 dB of a 120 dB range.
STORAGE_DTYPE = np.float16
#: Sounds per STFT batch: enough to amortise the transform's calls, few enough to stay small at 44.1 kHz.
BATCH_SIZE = 32
#: Files per chunk (one part on disk) at least and at most: each part costs a few file creations,
#: renames and removals, and an interrupted run redoes the chunks in flight.
MIN_CHUNK_SIZE, MAX_CHUNK_SIZE = 32, 128
#: Chunks per worker a bank is split into when it is large enough, for an even load and a smooth progress bar.
CHUNKS_PER_WORKER = 8


@dataclass(frozen=True)
class SourceFile:
    """One audio file of a bank, identified by its path inside the bank and its size and mtime."""

    original_path: str
    absolute_path: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> tuple[str, int, int]:
        """Identity for change detection: a file with another size or mtime is processed again."""
        return (self.original_path, self.size, self.mtime_ns)


@dataclass(frozen=True)
class Outcome:
    """What processing one file gave: a row of a part's array, or a reason it was skipped."""

    original_path: str
    size: int
    mtime_ns: int
    part: str = ""
    row: int = -1
    min_value: float = 0.0
    max_value: float = 0.0
    source_sample_rate: int = 0
    channels: int = 0
    source_frames: int = 0
    peak_db: float = 0.0
    lead_in: float = 0.0
    reason: str = ""

    @property
    def key(self) -> tuple[str, int, int]:
        """Same identity as `SourceFile.key`."""
        return (self.original_path, self.size, self.mtime_ns)

    @property
    def kept(self) -> bool:
        """True when the file gave a spectrogram."""
        return not self.reason


def process_files(files: Sequence[SourceFile], config: AudioConfig) -> tuple[np.ndarray, list[Outcome]]:
    """Spectrograms of `files` as ``(kept, freq, frames)`` `STORAGE_DTYPE`, and one outcome per file.

    Row ``i`` of the array belongs to the ``i``-th kept outcome (its ``row`` field).
    """
    sounds: list[np.ndarray] = []
    loaded: list[tuple[SourceFile, SoundInfo | str]] = []
    for file in files:
        try:
            audio, info = load_sound(file.absolute_path, config)
        except BadAudio as reason:
            loaded.append((file, str(reason)))
            continue
        loaded.append((file, info))
        sounds.append(audio)
    array = np.empty((len(sounds), *config.shape), dtype=STORAGE_DTYPE)
    ranges: list[tuple[float, float]] = []
    for start in range(0, len(sounds), BATCH_SIZE):
        batch = np.stack(sounds[start : start + BATCH_SIZE])
        normalized, lows, highs = normalize_many(log_spectrogram(batch, config.n_fft, config.hop_length), config)
        # (torch converts to float16 about 20 times as fast as numpy)
        torch.from_numpy(array[start : start + len(batch)]).copy_(normalized)
        ranges += zip(lows.tolist(), highs.tolist())
    outcomes = []
    rows = iter(range(len(sounds)))
    for file, info in loaded:
        if isinstance(info, str):
            outcomes.append(Outcome(file.original_path, file.size, file.mtime_ns, reason=info))
            continue
        row = next(rows)
        low, high = ranges[row]
        found = {"min_value": low, "max_value": high, **vars(info)}
        outcomes.append(Outcome(file.original_path, file.size, file.mtime_ns, row=row, **found))
    return array, outcomes


def chunk_size(files: int, workers: int) -> int:
    """Files per chunk for `files` files on `workers` processes: `CHUNKS_PER_WORKER` chunks each, within the bounds."""
    return min(MAX_CHUNK_SIZE, max(MIN_CHUNK_SIZE, math.ceil(files / (workers * CHUNKS_PER_WORKER))))


def chunk_name(files: Sequence[SourceFile]) -> str:
    """A part's name: a hash of its files' identities, so the same chunk always gets the same name."""
    digest = hashlib.blake2b(digest_size=10)
    for file in files:
        digest.update(repr(file.key).encode())
    return f"part-{digest.hexdigest()}"


def write_part(parts_dir: Path, files: Sequence[SourceFile], config: AudioConfig) -> list[Outcome]:
    """Process one chunk and write it as a part (array first, then the JSON record list)."""
    name = chunk_name(files)
    array, outcomes = process_files(files, config)
    outcomes = [replace(o, part=name) if o.kept else o for o in outcomes]
    encoded = io.BytesIO()
    np.save(encoded, array)  # in memory: ndarray.tofile's short write on a full disk carries no errno
    with atomic_path(parts_dir / f"{name}.npy", durable=False) as tmp:
        tmp.write_bytes(encoded.getbuffer())
    with atomic_path(parts_dir / f"{name}.json", durable=False) as tmp:
        tmp.write_text(json.dumps([vars(o) for o in outcomes]), encoding="utf-8")  # flat fields: no deep copy
    return outcomes


def read_parts(parts_dir: Path) -> dict[tuple[str, int, int], Outcome]:
    """Outcomes of every complete part in `parts_dir`, keyed by file identity."""
    found: dict[tuple[str, int, int], Outcome] = {}
    for record in sorted(parts_dir.glob("part-*.json")):
        if not record.with_suffix(".npy").exists():
            continue
        try:
            outcomes = [Outcome(**entry) for entry in json.loads(record.read_text(encoding="utf-8"))]
        except (ValueError, TypeError):
            continue
        found.update((outcome.key, outcome) for outcome in outcomes)
    return found


def run_parts(
    parts_dir: Path,
    files: Sequence[SourceFile],
    config: AudioConfig,
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Process `files` into parts under `parts_dir`, in parallel over `workers` processes (default: cores).

    `progress(done, total)` is called as chunks finish. Returns every file's outcome.
    """
    parts_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, workers or os.cpu_count() or 1)
    size = chunk_size(len(files), workers)
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    workers = min(workers, max(1, len(chunks)))
    outcomes: list[Outcome] = []
    done = 0
    for chunk_outcomes in _map_chunks(parts_dir, chunks, config, workers):
        outcomes.extend(chunk_outcomes)
        done += len(chunk_outcomes)
        if progress:
            progress(done, len(files))
    return outcomes


def _map_chunks(
    parts_dir: Path, chunks: list[Sequence[SourceFile]], config: AudioConfig, workers: int
) -> Iterator[list[Outcome]]:
    """Run `write_part` over `chunks`, in this process or in a pool of forked workers."""
    jobs: Iterable[tuple[Path, Sequence[SourceFile], AudioConfig]] = ((parts_dir, c, config) for c in chunks)
    if workers == 1:
        yield from (_write_part_job(job) for job in jobs)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_write_part_job, jobs)


def _init_worker() -> None:
    """Each worker uses one thread: the parallelism is across files."""
    torch.set_num_threads(1)


def _write_part_job(job: tuple[Path, Sequence[SourceFile], AudioConfig]) -> list[Outcome]:
    """`write_part` with its arguments packed, for `Pool.imap_unordered`."""
    return write_part(*job)
