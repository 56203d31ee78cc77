"""glibc's malloc tuned for two patterns: a long pass after training (map large blocks on their own, so they
are given back when freed) and preprocessing workers (keep what is freed, so it is not faulted in again)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform
from collections.abc import Iterator
from contextlib import contextmanager

#: ``M_MMAP_THRESHOLD`` in glibc's malloc.h: the size from which a block is mapped on its own.
_M_MMAP_THRESHOLD = -3
#: ``M_TRIM_THRESHOLD``: free memory at the heap's top beyond this size is given back to the kernel.
_M_TRIM_THRESHOLD = -1
#: The trim threshold `keep_freed_memory` sets: more than a preprocessing worker ever frees at once.
KEEP_TRIM_THRESHOLD_BYTES = 1 << 30
#: Blocks of this size and more are mapped when allocated and unmapped when freed, inside `large_blocks_mapped`.
MMAP_THRESHOLD_BYTES = 1 << 20
#: The threshold left afterwards: glibc's cap for its own moving threshold on 64-bit systems, where
#: a process that has freed large blocks (as training does every step) keeps it.
DEFAULT_MAX_THRESHOLD_BYTES = 32 << 20


@contextmanager
def large_blocks_mapped() -> Iterator[bool]:
    """Within the block, glibc maps every block of `MMAP_THRESHOLD_BYTES` or more on its own; yields whether it could.

    glibc raises the threshold, up to 32 MiB, each time the process frees a large block, so after a
    training loop has freed its activations, the batch-sized arrays of the next pass (fitting the
    latent prior, in batches of another size) are carved from a heap that fragments and grows, to
    well over the peak a fresh process reaches for the same fit. Training itself keeps the default:
    with every block over 1 MiB mapped anew, its page faults made training steps markedly slower
    (bench/train_memory.py measures training's peak memory, bench/train.py its speed). On other C
    libraries nothing changes.
    """
    libc = _glibc()
    if libc is None:
        yield False
        return
    changed = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    try:
        yield changed
    finally:
        if changed:
            libc.mallopt(_M_MMAP_THRESHOLD, DEFAULT_MAX_THRESHOLD_BYTES)


def keep_freed_memory() -> bool:
    """From now on this process's glibc keeps the memory it frees for reuse; returns whether it could.

    A preprocessing worker allocates and frees the same arrays of a few MiB for every batch of files.
    By default glibc maps the largest on their own and trims the heap's top when they are freed, so
    the kernel hands the same memory back page by page: dozens of page faults a file, each costly in
    a virtual machine (bench/preprocess.py; docs/performance.md, "Why preprocessing is fast"). With
    blocks up to 32 MiB carved from the heap and its top kept, a worker faults only while its heap
    first grows. For short-lived worker processes: the memory stays with the process until it exits.
    On other C libraries nothing changes.
    """
    libc = _glibc()
    if libc is None:
        return False
    mapped = bool(libc.mallopt(_M_MMAP_THRESHOLD, DEFAULT_MAX_THRESHOLD_BYTES))
    return bool(libc.mallopt(_M_TRIM_THRESHOLD, KEEP_TRIM_THRESHOLD_BYTES)) and mapped


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (whose ``mallopt`` this module uses), else None."""
    if platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c"))
