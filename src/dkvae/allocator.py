"""glibc's malloc told to map large blocks on their own, so a long pass after training gives them back when freed."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from collections.abc import Iterator
from contextlib import contextmanager

#: ``M_MMAP_THRESHOLD`` in glibc's malloc.h: the size from which a block is mapped on its own.
_M_MMAP_THRESHOLD = -3
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
    latent prior, in batches of another size) are carved from a heap that fragments and grows: up
    to 2.7 GiB at the peak of a 12,000-sound fit after 150 training steps, where a fresh process
    peaks near 1.0 GiB. Training itself keeps the default: with every block over 1 MiB mapped anew,
    its page faults made 150 steps take 38% longer. On other C libraries nothing changes.
    """
    if platform.libc_ver()[0] != "glibc":
        yield False
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    changed = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    try:
        yield changed
    finally:
        if changed:
            libc.mallopt(_M_MMAP_THRESHOLD, DEFAULT_MAX_THRESHOLD_BYTES)
