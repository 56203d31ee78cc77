"""The staging array: one ``.npy`` that preprocessing workers write rows into by slot, finished in place.

A run gives each of its files a slot, in pack order, in one array file sized for all of them, and
each worker writes its kept rows straight into their slots. When a run's kept rows are the whole
bank (a first run), the staging array becomes the packed array without a copy (330 MB for 10k files):
renamed as it is when no file was skipped, compacted in place first when some were. Copying the
rows into a new file was most of what packing cost (the kernel allocating page-cache pages).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import io
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from dkvae.core.atomic import atomic_path
from dkvae.data.packed import read_header

#: Rows moved at a time while compacting: a few MiB, however large the bank.
MOVE_ROWS = 128
#: ``SYNC_FILE_RANGE_WRITE`` in Linux's fcntl.h: start writing a range's dirty pages, without waiting.
_SYNC_FILE_RANGE_WRITE = 2


def header_bytes(rows: int, row_shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """The ``.npy`` header of a C-ordered ``(rows, *row_shape)`` array (numpy pads it so the row count can grow in place)."""
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (rows, *row_shape)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def create(path: Path, rows: int, row_shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Make `path` an array of `rows` rows, unwritten (sparse); an existing one of that shape is kept as it is."""
    header = header_bytes(rows, row_shape, dtype)
    size = len(header) + rows * _row_bytes(row_shape, dtype)
    if path.exists() and path.stat().st_size == size:
        with open(path, "rb") as handle:
            if handle.read(len(header)) == header:
                return
    with atomic_path(path, durable=False) as tmp, open(tmp, "r+b") as handle:
        handle.write(header)
        handle.truncate(size)


def write_rows(path: Path, slots: Sequence[int], rows: np.ndarray) -> None:
    """Write ``rows[i]`` into slot ``slots[i]`` of the staging array at `path`, runs of consecutive slots at once."""
    if not len(slots):
        return
    rows = np.ascontiguousarray(rows)
    row_bytes = rows[0].nbytes
    fd = os.open(path, os.O_RDWR)
    try:
        offset = _data_offset(fd, path)
        for start, end in _runs(slots):
            at = offset + slots[start] * row_bytes
            _write_all(fd, memoryview(rows[start:end]).cast("B"), at, path)
            _start_writeback(fd, at, (end - start) * row_bytes)
    finally:
        os.close(fd)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing a range of `fd` to disk now, without waiting (Linux; elsewhere nothing).

    The packed array is flushed to disk before it is renamed into place. Started by each worker as
    it writes, the flush leaves little for the end of the run (bench/preprocess.py times whole runs;
    docs/performance.md, "Why preprocessing is fast").
    """
    sync_file_range = _sync_file_range()
    if sync_file_range is not None:
        sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # a hint: a failure changes nothing


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """The C library's ``sync_file_range``, or None where there is none."""
    try:
        function = ctypes.CDLL(None).sync_file_range
    except (OSError, TypeError, AttributeError):  # no C library loadable by name None, or no such function
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


def finish_in_place(staging: Path, target: Path, slots: Sequence[int], row_shape: tuple[int, ...], dtype: np.dtype) -> bool:
    """Turn `staging` into the array `target` holding its rows `slots` in that order; False (nothing done) when it cannot.

    It can when `slots` only rise: the rows after each skipped slot move down, the header is rewritten
    and the file is cut to length. The staging file first moves to a temporary name beside `target`, so
    an interruption leaves no staging file that claims rows it no longer holds (those files are processed
    again), and the target appears only when whole (flushed to disk, then renamed).
    """
    total = _rows_in(staging, row_shape, dtype)
    header = header_bytes(len(slots), row_shape, dtype)
    rising = all(b > a for a, b in itertools.pairwise(slots))
    if total is None or not rising or (slots and not 0 <= slots[0] <= slots[-1] < total):
        return False
    if len(header) != len(header_bytes(total, row_shape, dtype)):
        return False
    if staging.stat().st_dev != target.parent.stat().st_dev:  # a rename cannot cross filesystems
        return False
    row_bytes = _row_bytes(row_shape, dtype)
    with atomic_path(target) as tmp:
        os.replace(staging, tmp)
        with open(tmp, "r+b") as handle:
            _compact(handle.fileno(), slots, len(header), row_bytes, tmp)
            handle.write(header)
            if len(slots) < total:  # (ext4 flushes a file it truncates, so only when rows were dropped)
                handle.truncate(len(header) + len(slots) * row_bytes)
    return True


def _compact(fd: int, slots: Sequence[int], offset: int, row_bytes: int, path: Path) -> None:
    """Move row ``slots[i]`` to row ``i`` for every i (slots rising, so a row only ever moves down)."""
    for start, end in _runs(slots, MOVE_ROWS):
        if slots[start] == start:
            continue
        size = (end - start) * row_bytes
        data = os.pread(fd, size, offset + slots[start] * row_bytes)
        if len(data) != size:
            raise OSError(errno.EIO, "staging array shorter than its header says", str(path))
        _write_all(fd, memoryview(data), offset + start * row_bytes, path)


def _runs(slots: Sequence[int], longest: int | None = None) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each run ``slots[start:end]`` of consecutive slots, at most `longest` long."""
    start = 0
    for end in range(1, len(slots) + 1):
        if end == len(slots) or slots[end] != slots[start] + end - start or end - start == longest:
            yield start, end
            start = end


def _rows_in(path: Path, row_shape: tuple[int, ...], dtype: np.dtype) -> int | None:
    """The row count of the staging array at `path`, or None unless it is one of `row_shape` and `dtype` in full."""
    try:
        with open(path, "rb") as handle:
            major, shape, fortran_order, found = read_header(handle)
            offset = handle.tell()
        size = path.stat().st_size
    except (OSError, ValueError):
        return None
    if major != 1 or fortran_order or found != np.dtype(dtype) or shape[1:] != tuple(row_shape):
        return None
    if size != offset + shape[0] * _row_bytes(row_shape, dtype):
        return None
    return int(shape[0])


def _data_offset(fd: int, path: Path) -> int:
    """Where the rows of the open ``.npy`` `fd` begin (after its header)."""
    with open(fd, "rb", closefd=False) as handle:
        try:
            read_header(handle)
        except ValueError as error:
            raise OSError(errno.EINVAL, f"not a staging array: {error}", str(path)) from None
        return handle.tell()


def _row_bytes(row_shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Bytes in one row."""
    return int(np.prod(row_shape)) * np.dtype(dtype).itemsize


def _write_all(fd: int, data: memoryview, offset: int, path: Path) -> None:
    """``pwrite`` all of `data` at `offset`; a full disk raises an OSError naming `path`."""
    while len(data):
        try:
            written = os.pwrite(fd, data, offset)
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(path)) from None
        if written == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        data, offset = data[written:], offset + written
