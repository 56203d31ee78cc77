"""Tests for the parallel preprocessor: chunking, batching, and rows that stay with their files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dkvae.core.config import get_preset
from dkvae.data import preprocess
from dkvae.data.preprocess import (
    BATCH_SIZE,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    SourceFile,
    chunk_size,
    process_files,
    read_parts,
    run_parts,
)
from dkvae.sound.audio import load_sound, log_spectrogram, normalize

from ..conftest import drum_hit

CONFIG = get_preset("seed").audio


def source(path: Path) -> SourceFile:
    stat = path.stat()
    return SourceFile(path.name, str(path), stat.st_size, stat.st_mtime_ns)


@pytest.fixture
def files(tmp_path: Path) -> list[SourceFile]:
    """More sounds than one STFT batch, with unreadable and silent files among them."""
    paths = []
    for i in range(BATCH_SIZE + 7):
        path = tmp_path / f"hit_{i:02d}.wav"
        if i in (3, BATCH_SIZE + 2):
            path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
        elif i == BATCH_SIZE - 1:
            sf.write(path, np.zeros(4000, np.float32), 44100)
        else:
            sf.write(path, drum_hit("tone" if i % 2 else "noise", 0.3, seed=i), 44100)
        paths.append(path)
    return [source(path) for path in paths]


@pytest.mark.parametrize(
    ("files", "workers", "expected"),
    [(0, 2, MIN_CHUNK_SIZE), (700, 2, 44), (10_000, 2, MAX_CHUNK_SIZE), (10_000, 64, MIN_CHUNK_SIZE), (5000, 1, 128)],
)
def test_chunk_size_gives_each_worker_several_chunks_within_the_bounds(files, workers, expected) -> None:
    assert chunk_size(files, workers) == expected


def test_rows_across_batches_are_each_files_own_spectrogram(files: list[SourceFile]) -> None:
    array, outcomes = process_files(files, CONFIG)
    kept = [o for o in outcomes if o.kept]
    assert [o.original_path for o in outcomes] == [f.original_path for f in files]
    assert len(kept) == len(files) - 3 and len(array) == len(kept)
    assert {o.reason.split(":")[0] for o in outcomes if not o.kept} == {"cannot decode", "silent"}
    for outcome in kept:
        sound, _ = load_sound(os.path.join(os.path.dirname(files[0].absolute_path), outcome.original_path), CONFIG)
        expected, low, high = normalize(log_spectrogram(sound, CONFIG.n_fft, CONFIG.hop_length).numpy(), CONFIG)
        np.testing.assert_allclose(array[outcome.row].astype(np.float32), expected, atol=1e-3)
        assert (outcome.min_value, outcome.max_value) == pytest.approx((low, high), abs=1e-4)


def test_storage_is_numpys_float16_rounding_of_the_normalized_values(files: list[SourceFile]) -> None:
    array, outcomes = process_files(files[:5], CONFIG)
    first = next(o for o in outcomes if o.kept)
    sound, _ = load_sound(files[0].absolute_path, CONFIG)
    normalized = normalize(log_spectrogram(sound[None], CONFIG.n_fft, CONFIG.hop_length)[0].numpy(), CONFIG)[0]
    assert array.dtype == np.float16
    np.testing.assert_array_equal(array[first.row], normalized.astype(np.float16))


def test_parts_hold_every_file_once_whatever_the_chunking(files: list[SourceFile], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(preprocess, "MIN_CHUNK_SIZE", 4)
    outcomes = run_parts(tmp_path / "parts", files, CONFIG, workers=2)
    assert sorted(o.original_path for o in outcomes) == sorted(f.original_path for f in files)
    on_disk = read_parts(tmp_path / "parts")
    assert set(on_disk) == {f.key for f in files}
    assert len(list((tmp_path / "parts").glob("part-*.json"))) == -(-len(files) // 4)


def test_a_record_whose_staging_array_is_gone_is_not_reused(files: list[SourceFile], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(preprocess, "MIN_CHUNK_SIZE", 4)
    outcomes = run_parts(tmp_path / "parts", files, CONFIG, workers=1)
    (stage,) = {o.part for o in outcomes if o.kept}
    assert set(read_parts(tmp_path / "parts")) == {f.key for f in files}
    (tmp_path / "parts" / f"{stage}.npy").unlink()  # as when a finish moved it away, or it was lost
    assert read_parts(tmp_path / "parts") == {}  # every chunk of 4 here kept a row, so none can be trusted


def test_a_run_that_fails_before_recording_anything_leaves_no_staging_array(files, tmp_path: Path, monkeypatch) -> None:
    def failing(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(preprocess.staging, "write_rows", failing)
    with pytest.raises(OSError, match="No space left"):
        run_parts(tmp_path / "parts", files, CONFIG, workers=1)
    assert list((tmp_path / "parts").iterdir()) == []


def test_pool_workers_keep_the_memory_they_free(files: list[SourceFile], tmp_path: Path, monkeypatch) -> None:
    marks = tmp_path / "kept"
    marks.mkdir()
    monkeypatch.setattr(preprocess, "keep_freed_memory", lambda: (marks / str(os.getpid())).touch())
    outcomes = run_parts(tmp_path / "parts", files, CONFIG, workers=2)
    assert len(outcomes) == len(files)
    workers = {int(mark.name) for mark in marks.iterdir()}
    assert len(workers) == 2 and os.getpid() not in workers
