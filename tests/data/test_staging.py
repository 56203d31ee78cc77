"""Tests for the staging array: rows written by slot, and finished in place into the packed array."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from dkvae.data import staging

ROW_SHAPE = (5, 3)
DTYPE = np.dtype(np.float16)


def rows(count: int, first: int = 0) -> np.ndarray:
    """Rows that differ from each other: row i is filled with i + first."""
    return np.stack([np.full(ROW_SHAPE, i + first, DTYPE) for i in range(count)])


def made(path: Path, count: int) -> np.ndarray:
    """A staging array of `count` rows at `path`, every slot written (slot i holds rows(count)[i])."""
    staging.create(path, count, ROW_SHAPE, DTYPE)
    written = rows(count)
    staging.write_rows(path, list(range(0, count, 2)), written[::2])
    staging.write_rows(path, list(range(1, count, 2)), written[1::2])
    return written


def test_rows_written_by_slot_read_back_as_an_array(tmp_path: Path) -> None:
    path = tmp_path / "stage.npy"
    written = made(path, 7)
    np.testing.assert_array_equal(np.load(path), written)


def test_each_run_of_written_rows_is_sent_to_disk_at_once(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "stage.npy"
    staging.create(path, 10, ROW_SHAPE, DTYPE)
    started = []
    monkeypatch.setattr(staging, "_start_writeback", lambda fd, offset, length: started.append((offset, length)))
    staging.write_rows(path, [2, 3, 4, 7, 8], rows(5))
    header, row = len(staging.header_bytes(10, ROW_SHAPE, DTYPE)), DTYPE.itemsize * 15
    assert started == [(header + 2 * row, 3 * row), (header + 7 * row, 2 * row)]


@pytest.mark.skipif(sys.platform != "linux", reason="sync_file_range is Linux's")
def test_starting_writeback_for_real_keeps_the_rows(tmp_path: Path) -> None:
    assert staging._sync_file_range() is not None
    path = tmp_path / "stage.npy"
    written = made(path, 9)
    np.testing.assert_array_equal(np.load(path), written)


def test_unwritten_slots_read_as_zeros_and_cost_no_disk(tmp_path: Path) -> None:
    path = tmp_path / "stage.npy"
    staging.create(path, 1000, (256, 64), DTYPE)
    staging.write_rows(path, [3], np.ones((1, 256, 64), DTYPE))
    array = np.load(path, mmap_mode="r")
    assert array.shape == (1000, 256, 64)
    assert float(array[3].min()) == 1 and not array[2].any()
    assert path.stat().st_blocks * 512 < array.nbytes / 10  # sparse: 32 MiB declared, one row stored


def test_finishing_with_every_slot_renames_the_file_unchanged(tmp_path: Path) -> None:
    path, target = tmp_path / "stage.npy", tmp_path / "packed.npy"
    written = made(path, 6)
    inode = path.stat().st_ino
    assert staging.finish_in_place(path, target, list(range(6)), ROW_SHAPE, DTYPE)
    assert not path.exists() and target.stat().st_ino == inode  # no copy
    np.testing.assert_array_equal(np.load(target), written)


@pytest.mark.parametrize("move_rows", [1, 2, 128])
def test_finishing_with_skipped_slots_closes_the_gaps_in_order(tmp_path: Path, monkeypatch, move_rows: int) -> None:
    monkeypatch.setattr(staging, "MOVE_ROWS", move_rows)
    path, target = tmp_path / "stage.npy", tmp_path / "packed.npy"
    written = made(path, 12)
    kept = [1, 2, 3, 5, 6, 7, 8, 11]
    assert staging.finish_in_place(path, target, kept, ROW_SHAPE, DTYPE)
    packed = np.load(target)
    assert packed.shape == (8, *ROW_SHAPE)
    np.testing.assert_array_equal(packed, written[kept])
    assert target.stat().st_size == len(staging.header_bytes(8, ROW_SHAPE, DTYPE)) + packed.nbytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["packed.npy"]


def test_finishing_with_no_kept_row_gives_an_empty_array(tmp_path: Path) -> None:
    path, target = tmp_path / "stage.npy", tmp_path / "packed.npy"
    made(path, 3)
    assert staging.finish_in_place(path, target, [], ROW_SHAPE, DTYPE)
    assert np.load(target).shape == (0, *ROW_SHAPE)


@pytest.mark.parametrize(
    ("slots", "row_shape"), [([2, 1], ROW_SHAPE), ([0, 0], ROW_SHAPE), ([0, 7], ROW_SHAPE), ([0, 1], (5, 4))]
)
def test_finishing_refuses_what_it_cannot_do_in_place_and_changes_nothing(tmp_path: Path, slots, row_shape) -> None:
    path, target = tmp_path / "stage.npy", tmp_path / "packed.npy"
    made(path, 4)
    before = path.read_bytes()
    assert not staging.finish_in_place(path, target, slots, row_shape, DTYPE)
    assert path.read_bytes() == before and not target.exists()


def test_an_interrupted_finish_leaves_neither_the_target_nor_a_staging_file_claiming_rows(tmp_path: Path, monkeypatch) -> None:
    path, target = tmp_path / "stage.npy", tmp_path / "packed.npy"
    made(path, 6)

    def stopped(*args: object) -> None:
        raise KeyboardInterrupt("stopped while compacting")

    monkeypatch.setattr(staging, "_compact", stopped)
    with pytest.raises(KeyboardInterrupt):
        staging.finish_in_place(path, target, [0, 2, 4], ROW_SHAPE, DTYPE)
    assert list(tmp_path.iterdir()) == []  # its rows are gone with it, so a rerun processes them again


def test_creating_again_keeps_a_staging_file_of_the_same_shape_and_replaces_another(tmp_path: Path) -> None:
    path = tmp_path / "stage.npy"
    written = made(path, 4)
    staging.create(path, 4, ROW_SHAPE, DTYPE)
    np.testing.assert_array_equal(np.load(path), written)  # a resumed run keeps what was written
    staging.create(path, 5, ROW_SHAPE, DTYPE)
    assert np.load(path).shape == (5, *ROW_SHAPE) and not np.load(path).any()


def test_a_write_past_a_full_disk_names_the_staging_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "stage.npy"
    staging.create(path, 2, ROW_SHAPE, DTYPE)
    monkeypatch.setattr(staging.os, "pwrite", lambda fd, data, offset: 0)  # as a full disk's short write
    with pytest.raises(OSError, match="No space left on device") as raised:
        staging.write_rows(path, [0], rows(1))
    assert raised.value.filename == str(path)


def test_finishing_refuses_a_target_on_another_filesystem(tmp_path: Path, monkeypatch) -> None:
    path, target = tmp_path / "parts" / "stage.npy", tmp_path / "elsewhere" / "packed.npy"
    path.parent.mkdir()
    target.parent.mkdir()
    made(path, 3)
    real_stat = Path.stat

    def stat(self: Path, **kwargs: object) -> os.stat_result:
        found = real_stat(self, **kwargs)
        if self == target.parent:  # as a mount point there would report
            return os.stat_result((found.st_mode, found.st_ino, found.st_dev + 1, *tuple(found)[3:]))
        return found

    monkeypatch.setattr(Path, "stat", stat)
    assert not staging.finish_in_place(path, target, [0, 1, 2], ROW_SHAPE, DTYPE)
    assert path.exists() and not target.exists()
