"""Torch's thread count for a block of work: one thread is fastest for the many small tensors of one sound."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with `count` torch intra-op threads (None: leave the setting alone), restored afterwards.

    On a few shared cores a second thread makes one sound's rendering many times slower, not faster
    (bench/generation.py times a render on one thread).
    """
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
