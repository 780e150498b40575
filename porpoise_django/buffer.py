"""A bounded in-process buffer of writes that could not reach Redis.

Writes wait here while Redis is unreachable (or answers errors such as OOM or
READONLY) and are replayed, oldest first, once it answers again. Marks are
idempotent, so a replay after a half-applied pipeline is harmless. When the
buffer is full the oldest writes are dropped, counted and logged: never lost
silently.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("porpoise_django")


@dataclass(frozen=True)
class PendingWrite:
    """One validated mark or count, with its time fixed when it happened."""

    kind: str  # "mark", "unmark" or "count"
    row: tuple[Any, ...]
    granularities: tuple[str, ...] | None = None
    track_unique: bool = False
    #: Counts: applied at most once under this token, even if sent again after
    #: a partial failure (marks are idempotent and need none).
    token: str | None = None


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
