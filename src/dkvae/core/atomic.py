"""Write files under a temporary name and rename, so an interrupted job never leaves half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _new_file_mode() -> int:
    """The mode `open` gives a new file under this process's umask (mkstemp's own 0600 would hide shared kits)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_NEW_FILE_MODE = _new_file_mode()


@contextmanager
def atomic_path(path: str | os.PathLike[str], durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    On any exception the temporary file is removed and `path` is left as it was. `durable` flushes
    the data to disk before the rename, so even a power cut cannot leave a renamed but empty file;
    a cache that is cheap to rebuild may skip it.

    >>> with atomic_path("out.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    with atomic_paths(path, durable=durable) as (tmp,):
        yield tmp


@contextmanager
def atomic_paths(*paths: str | os.PathLike[str], durable: bool = True) -> Iterator[list[Path]]:
    """Yield a temporary path beside each of `paths`; on success all are flushed, then renamed in order.

    Files that belong together (a model's weights and the config naming their digest) are all
    written in full before the first rename, so a failure while writing (a full disk) changes none
    of them; only the renames themselves, one after another, could be cut between.
    """
    targets = [Path(path) for path in paths]
    temporaries = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.fchmod(fd, _NEW_FILE_MODE)
            os.close(fd)
            temporaries.append(Path(name))
        with _naming(targets[0] if len(targets) == 1 else None):
            yield list(temporaries)
        for tmp, target in zip(temporaries, targets):
            if durable:
                with open(tmp, "rb+") as handle, _naming(target):
                    os.fsync(handle.fileno())
        for tmp, target in zip(temporaries, targets):
            os.replace(tmp, target)
    finally:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)


@contextmanager
def _naming(target: Path | None) -> Iterator[None]:
    """Re-raise an OSError that names no file (a full disk while writing) as one naming `target`, the user's file."""
    try:
        yield
    except OSError as error:
        if target is not None and error.filename is None and error.errno is not None:
            raise OSError(error.errno, error.strerror, str(target)) from error
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
