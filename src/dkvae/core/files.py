"""Optional files of a model directory: present, absent, or something that must not be read."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def regular_file_present(path: Path) -> bool:
    """True for a regular file, False when there is none; ValueError for anything else (a FIFO would block
    its read, a folder is not the file the directory promises)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(mode):
        raise ValueError(f"{Path(path).name} is not a regular file")
    return True
