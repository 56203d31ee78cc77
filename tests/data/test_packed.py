from __future__ import annotations

import pickle

import numpy as np
import pytest

from dkvae.data.packed import PackedArray, PackedRows


def test_rows_read_by_offset_equal_the_arrays_rows(tmp_path) -> None:
    array = np.random.default_rng(0).random((7, 5, 3)).astype(np.float16)
    np.save(tmp_path / "a.npy", array)
    np.save(tmp_path / "b.npy", array[::-1].copy())
    with PackedRows(max_open=1) as rows:
        for index in (0, 3, 6):
            np.testing.assert_array_equal(rows.read(tmp_path / "a.npy", index), array[index])
            np.testing.assert_array_equal(rows.read(tmp_path / "b.npy", index), array[6 - index])
        assert rows.row_shape(tmp_path / "a.npy") == ((5, 3), np.dtype(np.float16))
        assert len(rows.open) == 1


def test_pickling_drops_open_files_and_reading_reopens_them(tmp_path) -> None:
    np.save(tmp_path / "a.npy", np.arange(12, dtype=np.float32).reshape(4, 3))
    rows = PackedRows()
    rows.read(tmp_path / "a.npy", 1)
    copy = pickle.loads(pickle.dumps(rows))
    assert copy.open == {}
    np.testing.assert_array_equal(copy.read(tmp_path / "a.npy", 2), [6, 7, 8])


def test_a_short_file_is_an_error(tmp_path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((4, 100), np.float32))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[: len(data) - 200])
    with pytest.raises(OSError, match="shorter"):
        PackedRows().read(tmp_path / "a.npy", 3)


def test_a_run_of_rows_reads_as_one_block_and_a_run_past_the_end_is_an_error(tmp_path) -> None:
    array = np.random.default_rng(1).random((6, 4, 2)).astype(np.float16)
    np.save(tmp_path / "a.npy", array)
    with PackedRows() as rows:
        assert rows.read_bytes(tmp_path / "a.npy", 2, 3) == array[2:5].tobytes()
        assert rows.read_bytes(tmp_path / "a.npy", 0, 6) == array.tobytes()
        with pytest.raises(OSError, match="shorter than its header"):
            rows.read_bytes(tmp_path / "a.npy", 4, 3)


def test_a_packed_array_reads_the_rows_it_names_by_position(tmp_path) -> None:
    array = np.random.default_rng(2).random((9, 3, 2)).astype(np.float16)
    np.save(tmp_path / "a.npy", array)
    view = PackedArray(tmp_path / "a.npy", np.array([8, 1, 4, 5]))
    assert len(view) == 4
    np.testing.assert_array_equal(view[np.array([0, 2])], array[[8, 4]])
    np.testing.assert_array_equal(view[np.arange(4)], array[[8, 1, 4, 5]])
