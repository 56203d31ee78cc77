"""A bounded worker pool: blocking model work off the event loop, refused (`Busy`) beyond its queue."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the queue is full: the request is refused (HTTP 503) rather than left waiting."""


class WorkerPool:
    """Runs jobs on `workers` threads with at most `queue` more waiting; one slow client cannot stall the rest."""

    def __init__(self, workers: int, queue: int) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a pool needs at least one worker and a queue of zero or more")
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="dkvae-web")
        self._slots = threading.BoundedSemaphore(workers + queue)

    def submit(self, job: Callable[..., T], *args: object) -> Future[T]:
        """Start `job(*args)` on a worker (or queue it); raises `Busy` when `workers + queue` jobs are under way."""
        if not self._slots.acquire(blocking=False):
            raise Busy("the server is busy; try again in a moment")
        try:
            future = self._executor.submit(job, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    async def run(self, job: Callable[..., T], *args: object) -> T:
        """`job(*args)` on a worker, awaited without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(job, *args))

    def shutdown(self) -> None:
        """Stop taking jobs; let running ones finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)
