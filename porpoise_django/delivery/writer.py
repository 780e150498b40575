"""Background writing: requests hand their marks to a thread that writes them.

With ``PORPOISE["WRITE_MODE"] = "background"`` (the default) the request
thread only appends to a queue; one writer thread per process sends what has
accumulated in one pipeline, so a response never waits on Redis and writes of
concurrent requests share round trips. ``"sync"`` writes at the end of each
request instead (handy in tests: marks are visible as soon as the response is).
Queued writes are flushed at exit; Redis failures are handled by
``services.record`` (buffer and replay).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable

from porpoise_django.delivery.outage import log_limited
from porpoise_django.delivery.pending import PendingWrite
from porpoise_django.delivery.recording import record

logger = logging.getLogger("porpoise_django")


class BackgroundWriter:
    """A queue drained by one daemon thread (started lazily, again after a fork)."""

    def __init__(
        self,
        record: Callable[[list[PendingWrite]], bool],
        max_batch: int = 10_000,
        linger: float = 0.05,
        max_queue: int = 100_000,
    ) -> None:
        self._record = record
        self._max_batch = max_batch
        # Memory stays bounded when requests queue faster than the writer
        # sends (a flood of track/ rows in an outage): beyond this, a request
        # writes its own rows (see _overflow).
        self._max_queue = max_queue
        self.overflowed = 0
        # Waiting a moment before writing lets the marks of many requests share
        # one pipeline: the writer's CPU cost per request (redis-py packing,
        # under the GIL) then nearly vanishes.
        self._linger = linger
        self._setup()

    def _setup(self) -> None:
        self._queue: deque[PendingWrite] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._hurry = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(self, writes: Iterable[PendingWrite]) -> None:
        if self._pid != os.getpid():  # forked without the hook below (should not happen)
            with _lock:
                if self._pid != os.getpid():
                    self._setup()
        items = list(writes)
        if len(self._queue) + len(items) > self._max_queue:
            self._overflow(items)
            return
        with self._cond:
            was_empty = not self._queue
            self._queue.extend(items)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="porpoise-writer", daemon=True
                )
                self._thread.start()
            # Wake the writer only when it may be asleep: fewer thread switches.
            if was_empty or len(self._queue) >= self._max_batch:
                self._cond.notify()

    def _overflow(self, items: list[PendingWrite]) -> None:
        """The queue is full: write ``items`` now, in the caller's thread (to
        Redis, or the spool): memory stays bounded, nothing is dropped, and a
        flood slows its own requests down, no one else's."""
        self.overflowed += len(items)
        log_limited(
            "writer full",
            logging.WARNING,
            "porpoise: writer queue full (%d writes): %d written by the request itself",
            self._max_queue,
            self.overflowed,
        )
        self._record(items)

    def _run(self) -> None:
        while True:
            try:
                self._drain_once()
            except Exception:  # the writer thread must never die
                logger.exception("porpoise: background writer error")

    def _drain_once(self) -> None:
        with self._cond:
            while not self._queue:
                self._cond.wait()
            full = len(self._queue) >= self._max_batch
        if not full and not self._hurry.is_set():
            self._hurry.wait(self._linger)
        with self._cond:
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            self._busy = True
        try:
            self._record(batch)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was handed to Redis (or the buffer)."""
        self._hurry.set()
        try:
            with self._cond:
                return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)
        finally:
            self._hurry.clear()

    def pending(self) -> int:
        return len(self._queue)


_writer: BackgroundWriter | None = None
_lock = threading.Lock()


def get_writer() -> BackgroundWriter:
    global _writer
    if _writer is None:
        with _lock:
            if _writer is None:
                _writer = BackgroundWriter(record)
                atexit.register(_writer.flush)
    return _writer


def _after_fork_in_child() -> None:
    # The child starts with one thread: its writer is set up anew here, before
    # any of its threads can race to do it (gunicorn --preload forks workers).
    global _lock
    _lock = threading.Lock()
    if _writer is not None:
        _writer._setup()


os.register_at_fork(after_in_child=_after_fork_in_child)
