"""Read single rows of packed ``.npy`` arrays with plain file reads, without memory maps.

A memory map keeps every page it has touched mapped into the process, so reading a large bank
through one makes the process look as large as the bank. Reading rows by offset keeps a process's
memory flat however large the array; the operating system's page cache still makes re-reads fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Self

import numpy as np


def read_header(handle: BinaryIO) -> tuple[int, tuple[int, ...], bool, np.dtype]:
    """``(format major version, shape, fortran_order, dtype)`` of the ``.npy`` open in `handle`, left at its data.

    Raises ValueError when it is not an ``.npy`` file.
    """
    major, _ = np.lib.format.read_magic(handle)
    read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(handle)
    return major, tuple(shape), fortran_order, dtype


class PackedRows:
    """Rows of ``.npy`` files by index, keeping at most `max_open` files open (reopened lazily after pickling)."""

    def __init__(self, max_open: int = 64) -> None:
        self.max_open = max_open
        self.open: dict[Path, tuple[BinaryIO, int, tuple[int, ...], np.dtype]] = {}

    def _file(self, path: Path) -> tuple[BinaryIO, int, tuple[int, ...], np.dtype]:
        """The open handle, data offset, row shape and dtype of `path`."""
        if path not in self.open:
            if len(self.open) >= self.max_open:
                self.close()
            handle = open(path, "rb")  # noqa: SIM115 (kept open in the cache; `close` closes it)
            _, shape, fortran_order, dtype = read_header(handle)
            if fortran_order or not shape:
                handle.close()
                raise OSError(f"{path} is not a C-ordered array of rows")
            self.open[path] = (handle, handle.tell(), tuple(shape[1:]), dtype)
        return self.open[path]

    def read_bytes(self, path: Path, row: int, count: int = 1) -> bytes:
        """The raw bytes of `count` rows of the array in `path`, from row `row` on."""
        handle, offset, shape, dtype = self._file(path)
        row_size = int(np.prod(shape)) * dtype.itemsize
        size = row_size * count
        handle.seek(offset + row * row_size)
        data = handle.read(size)
        if len(data) != size:
            raise OSError(f"{path} is shorter than its header says")
        return data

    def read(self, path: Path, row: int) -> np.ndarray:
        """Row `row` of the array in `path`, as a new array of the row's shape and dtype."""
        _, _, shape, dtype = self._file(path)
        return np.frombuffer(self.read_bytes(path, row), dtype=dtype).reshape(shape)

    def row_shape(self, path: Path) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype of one row of `path`."""
        _, _, shape, dtype = self._file(path)
        return shape, dtype

    def close(self) -> None:
        """Close every open file."""
        for handle, *_ in self.open.values():
            handle.close()
        self.open.clear()

    def __getstate__(self) -> dict[str, object]:
        return {"max_open": self.max_open, "open": {}}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PackedArray:
    """Some rows of a packed ``.npy`` array, indexed like an array (``array[positions]``) but read by offset.

    For passes over a whole split (fitting the latent prior) that must not map the bank into the process.
    """

    def __init__(self, path: Path, rows: np.ndarray) -> None:
        self.path = path
        self.rows = np.asarray(rows, dtype=np.int64)
        self.reader = PackedRows(max_open=1)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions: np.ndarray) -> np.ndarray:
        """Rows ``rows[positions]`` of the array, stacked ``(len(positions), *row shape)``."""
        return np.stack([self.reader.read(self.path, int(row)) for row in self.rows[np.asarray(positions)]])
