"""An exclusive lock on a folder, so two processes never write it at once (``flock`` on a lock file in it).

The kernel drops an ``flock`` lock when the last descriptor of its holder closes, however the holder
ends (even SIGKILL), so a killed run never leaves a folder locked. The lock file is never removed:
deleting it while another process waits on it would let a third one lock a new file beside them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dkvae.core.errors import DkvaeError

log = logging.getLogger(__name__)

#: The lock file inside a locked folder.
LOCK_NAME = ".lock"
#: How long a second process waits for the lock before it gives up, in seconds.
WAIT_SECONDS = 600.0
#: How often a waiting process tries the lock again, in seconds.
POLL_SECONDS = 0.1


@contextmanager
def exclusive_lock(directory: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `directory` for the block; `what` names it in messages.

    A process that finds the lock held says it waits, then waits up to `WAIT_SECONDS` before
    raising `DkvaeError`.
    """
    descriptor = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _try_lock(descriptor):
            log.warning("waiting for another dkvae process on %s", what)
            deadline = time.monotonic() + WAIT_SECONDS
            while not _try_lock(descriptor):
                if time.monotonic() >= deadline:
                    raise DkvaeError(
                        f"another dkvae process is still working on {what} after {WAIT_SECONDS:g} s; "
                        "try again once it has finished"
                    )
                time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(descriptor)  # closing the last descriptor releases the lock


def _try_lock(descriptor: int) -> bool:
    """Take the exclusive lock without blocking; False when another process holds it."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
