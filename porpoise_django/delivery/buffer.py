"""A bounded in-process buffer of writes that could not reach Redis.

Writes wait here while Redis is unreachable (or answers errors such as OOM or
READONLY) and are replayed, oldest first, once it answers again. Marks are
idempotent, so a replay after a half-applied pipeline is harmless. When the
buffer is full the oldest writes are dropped, counted and logged: never lost
silently.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from porpoise_django.delivery.pending import PendingWrite
from porpoise_django.delivery.spool import Spool
from porpoise_django.delivery.spool import orphans as find_orphans

logger = logging.getLogger("porpoise_django")


@dataclass
class BufferStats:
    buffered: int = 0
    replayed: int = 0
    dropped: int = 0
    failures: int = 0
    last_error: str = field(default="")


class ReplayBuffer:
    """Thread-safe FIFO of :class:`PendingWrite` with a maximum size."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._items: deque[PendingWrite] = deque()
        self._lock = threading.Lock()
        self.stats = BufferStats()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, writes: Iterable[PendingWrite], error: BaseException | None = None) -> None:
        """Keep ``writes`` for a later replay; drop the oldest beyond ``max_size``."""
        items = list(writes)
        with self._lock:
            if error is not None:
                self.stats.failures += 1
                self.stats.last_error = f"{type(error).__name__}: {error}"
            self._items.extend(items)
            self.stats.buffered += len(items)
            overflow = self._trim()
        self._log_drops(overflow)

    def take(self) -> list[PendingWrite]:
        """Remove and return everything buffered (put it back with :meth:`restore`)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            return items

    def restore(self, items: list[PendingWrite]) -> None:
        """Put back writes taken for a replay that failed, ahead of newer ones."""
        with self._lock:
            self._items.extendleft(reversed(items))
            overflow = self._trim()
        self._log_drops(overflow)

    def _trim(self) -> int:
        """Drop the oldest writes beyond ``max_size`` (lock held); how many went."""
        overflow = max(len(self._items) - self.max_size, 0)
        for _ in range(overflow):
            self._items.popleft()
        self.stats.dropped += overflow
        return overflow

    def _log_drops(self, overflow: int) -> None:
        if overflow:
            logger.error(
                "porpoise: buffer full (%d writes): dropped the %d oldest; %d dropped in all",
                self.max_size,
                overflow,
                self.stats.dropped,
            )

    def replayed(self, count: int) -> None:
        with self._lock:
            self.stats.replayed += count


class DurableBuffer:
    """Writes Redis refused, kept until it confirms them: a durable spool on disk
    (:mod:`.spool`, one SQLite file per process), with a bounded in-memory
    :class:`ReplayBuffer` used only when the spool cannot be written (disk
    full, folder not writable). Accepted means written, or spooled.

    :meth:`replay` sends the memory front, this process's spool, then the
    spools of dead processes, oldest first, deleting rows only after Redis
    confirmed them.
    """

    def __init__(
        self, folder: str, *, max_bytes: int, memory_size: int, batch: int = 5_000
    ) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.memory = ReplayBuffer(memory_size)
        self.stats = self.memory.stats
        self.batch = batch
        self._lock = threading.Lock()  # one replay at a time
        self.pid = os.getpid()
        self._spool: Any = None
        self._backlog = False
        try:
            self._spool = Spool.open(folder, max_bytes=max_bytes)
        except OSError as exc:
            logger.error("porpoise: no spool in %s (%s): outage writes stay in memory", folder, exc)

    def __len__(self) -> int:
        return len(self.memory) + (len(self._spool) if self._spool is not None else 0)

    @property
    def backlog(self) -> bool:
        """Whether anything may be waiting (cheap: no disk access)."""
        return self._backlog or len(self.memory) > 0

    def add(self, writes: Iterable[PendingWrite], error: BaseException | None = None) -> None:
        items = list(writes)
        if error is not None:
            self.stats.failures += 1
            self.stats.last_error = f"{type(error).__name__}: {error}"
        if not items:
            return
        self._backlog = True
        if self._spool is not None:
            try:
                self._spool.append(items)
                self.stats.buffered += len(items)
                return
            except Exception as exc:  # sqlite3.Error, OSError (disk full)
                logger.error("porpoise: spool write failed (%s); kept in memory", exc)
        self.memory.add(items)

    def replay(self, submit: Callable[[list[PendingWrite]], Any], *, orphans: bool = True) -> bool:
        """Send everything waiting (raises nothing but ``submit``'s errors, which stop
        the replay); True if all of it reached Redis."""
        with self._lock:
            pending = self.memory.take()
            if pending:
                try:
                    submit(pending)
                except BaseException:
                    self.memory.restore(pending)
                    raise
                self.memory.replayed(len(pending))
            if self._spool is not None:
                self._drain(self._spool, submit)
            if orphans:
                for spool in find_orphans(self.folder, max_bytes=self.max_bytes):
                    try:
                        drained = self._drain(spool, submit)
                    finally:
                        spool.close()
                    if drained:
                        logger.info(
                            "porpoise: replayed the spool %s of a process that is gone",
                            spool.path.name,
                        )
            self._backlog = False
            return True

    def _drain(self, spool: Any, submit: Callable[[list[PendingWrite]], Any]) -> int:
        done = 0
        while True:
            rows = spool.oldest(self.batch)
            if not rows:
                return done
            submit([write for _, write in rows])
            spool.delete(rowid for rowid, _ in rows)
            self.memory.replayed(len(rows))
            done += len(rows)

    def spool_stats(self) -> dict[str, Any]:
        stats = (
            self._spool.stats()
            if self._spool is not None
            else {"rows": 0, "bytes": 0, "oldest": None, "dropped": 0}
        )
        return {
            **stats,
            "memory": len(self.memory),
            "path": str(self._spool.path) if self._spool is not None else None,
        }

    def close(self) -> None:
        """Release the spool: deleted if empty, else left for the next process."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
