"""Turn audio files into normalized spectrograms in parallel, in resumable parts on disk.

A run's files get slots, in the order given, in one staging array (`dkvae.data.staging`); files are
processed in chunks, and each finished chunk writes its rows into their slots, then a *part* record
(``part-<hash>.json``, the chunk's outcomes) as its commit. After an interruption the recorded parts
are reused, so a rerun redoes at most the chunks that were in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from dkvae.core.allocator import keep_freed_memory
from dkvae.core.atomic import atomic_path
from dkvae.core.config import AudioConfig
from dkvae.core.progress import Progress
from dkvae.data import staging
from dkvae.sound.audio import BadAudio, SoundInfo, load_sound, log_spectrogram, normalize_many

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


#: One chunk's work: the parts folder, the staging array's name, the chunk's first slot, its files, the settings.
Job = tuple[Path, str, int, Sequence[SourceFile], AudioConfig]


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
        # (torch converts to float16 many times faster than numpy)
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


def chunk_name(files: Sequence[SourceFile], prefix: str = "part") -> str:
    """A name made of a hash of `files`' identities, so the same files always get the same name."""
    digest = hashlib.blake2b(digest_size=10)
    for file in files:
        digest.update(repr(file.key).encode())
    return f"{prefix}-{digest.hexdigest()}"


def write_part(parts_dir: Path, stage: str, first_slot: int, files: Sequence[SourceFile], config: AudioConfig) -> list[Outcome]:
    """Process one chunk, whose files hold the slots from `first_slot` on in the staging array `stage`.

    The kept rows go into their slots, then the chunk's outcomes (each kept one naming `stage` and its
    slot) are written as the part's record, which commits it.
    """
    array, outcomes = process_files(files, config)
    slots = [first_slot + index for index, outcome in enumerate(outcomes) if outcome.kept]
    staging.write_rows(parts_dir / f"{stage}.npy", slots, array)
    slot = iter(slots)
    outcomes = [replace(o, part=stage, row=next(slot)) if o.kept else o for o in outcomes]
    with atomic_path(parts_dir / f"{chunk_name(files)}.json", durable=False) as tmp:
        tmp.write_text(json.dumps([vars(o) for o in outcomes]), encoding="utf-8")  # flat fields: no deep copy
    return outcomes


def read_parts(parts_dir: Path) -> dict[tuple[str, int, int], Outcome]:
    """Outcomes of every recorded part in `parts_dir` whose rows are still there, keyed by file identity."""
    found: dict[tuple[str, int, int], Outcome] = {}
    present: dict[str, bool] = {}
    for record in sorted(parts_dir.glob("part-*.json")):
        try:
            outcomes = [Outcome(**entry) for entry in json.loads(record.read_text(encoding="utf-8"))]
        except (ValueError, TypeError):
            continue
        sources = {o.part for o in outcomes if o.kept}
        for source in sources - present.keys():
            present[source] = (parts_dir / f"{source}.npy").exists()
        if all(present[source] for source in sources):
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
    if not files:
        return []
    stage = chunk_name(files, prefix="stage")
    staging.create(parts_dir / f"{stage}.npy", len(files), config.shape, np.dtype(STORAGE_DTYPE))
    workers = max(1, workers or os.cpu_count() or 1)
    size = chunk_size(len(files), workers)
    jobs = [(parts_dir, stage, first, files[first : first + size], config) for first in range(0, len(files), size)]
    workers = min(workers, len(jobs))
    outcomes: list[Outcome] = []
    try:
        for chunk_outcomes in _map_jobs(jobs, workers):
            outcomes.extend(chunk_outcomes)
            if progress:
                progress(len(outcomes), len(files))
    except BaseException:
        with contextlib.suppress(OSError):  # the error that stopped the run is the one to report
            if not any(o.part == stage for o in read_parts(parts_dir).values()):
                (parts_dir / f"{stage}.npy").unlink(missing_ok=True)  # nothing recorded in it: leave no trace
        raise
    return outcomes


def _map_jobs(jobs: list[Job], workers: int) -> Iterator[list[Outcome]]:
    """Run `write_part` over `jobs`, in this process or in a pool of forked workers."""
    if workers == 1:
        yield from (_write_part_job(job) for job in jobs)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_write_part_job, jobs)


def _init_worker() -> None:
    """Each worker uses one thread (the parallelism is across files) and keeps the memory it frees."""
    torch.set_num_threads(1)
    keep_freed_memory()


def _write_part_job(job: Job) -> list[Outcome]:
    """`write_part` with its arguments packed, for `Pool.imap_unordered`."""
    return write_part(*job)
