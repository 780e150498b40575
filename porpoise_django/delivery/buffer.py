"""Where writes that could not reach Redis wait: the durable spool, and a
bounded memory buffer used only when the spool cannot be written.

Replay is per row: a batch Redis takes is deleted; a batch the engine refuses
(a value it no longer accepts, ``WRONGTYPE``...) is split until the refused
rows are alone, and those go to the dead letters while the others go on; an
outage (:func:`.outage.is_outage`) stops the replay, everything stays.
Marks are idempotent and counts carry a token, so sending a row again is
harmless while its token lives: a count older than that
(``IDEMPOTENCY_TTL``) is never sent again automatically, it becomes a dead
letter marked ``expired``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from porpoise_django.delivery.outage import is_outage, log_limited
from porpoise_django.delivery.pending import PendingWrite
from porpoise_django.delivery.spool import PUBLIC_SHARE, Row, Spool, SpoolError
from porpoise_django.delivery.spool import orphans as find_orphans

logger = logging.getLogger("porpoise_django")

#: The start of a dead letter's reason when it was never refused, only too old.
EXPIRED = "expired"

Submit = Callable[[list[PendingWrite]], Any]


@dataclass
class BufferStats:
    buffered: int = 0
    replayed: int = 0
    dropped: int = 0
    failures: int = 0
    #: Rows this process moved to the dead letters (refused, or expired counts).
    dead: int = 0
    #: Replays tried (each turn of the timer, a flush, the exit).
    attempts: int = 0
    last_error: str = field(default="")
    #: The last error of the spool file itself (SQLite's own message).
    spool_error: str = field(default="")


class ReplayBuffer:
    """Thread-safe FIFO of :class:`PendingWrite` with a maximum size; public
    rows (``POST track/``) take at most half of it and are dropped first."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._server: deque[tuple[float, PendingWrite]] = deque()
        self._public: deque[tuple[float, PendingWrite]] = deque()
        self._lock = threading.Lock()
        #: Rows taken out for a replay and not yet settled: still waiting.
        self._in_flight = 0
        self.stats = BufferStats()
        #: Rows refused while only in memory: (write, reason), the newest kept.
        self.dead: deque[tuple[PendingWrite, str]] = deque(maxlen=10_000)

    def __len__(self) -> int:
        return len(self._server) + len(self._public)

    def waiting(self) -> int:
        """Rows held, counting those a replay has taken out and not yet settled
        (a reader during a replay must not see them as gone)."""
        with self._lock:
            return len(self) + self._in_flight

    def add(self, writes: Iterable[PendingWrite], at: float | None = None) -> None:
        """Keep ``writes`` for a later replay (first tried at ``at``, default now);
        drop the oldest beyond ``max_size``. (The failure that sent them here is
        counted by :meth:`DurableBuffer.add`.)"""
        stamp = time.time() if at is None else at
        items = [(stamp, w) for w in writes]
        with self._lock:
            for item in items:
                (self._public if item[1].public else self._server).append(item)
            self.stats.buffered += len(items)
            overflow = self._trim()
        self._log_drops(overflow)

    def take(self) -> list[tuple[float, PendingWrite]]:
        """Remove and return everything buffered; they count as waiting until
        :meth:`restore` settles them (putting back those not sent)."""
        with self._lock:
            items = [*self._server, *self._public]
            self._server.clear()
            self._public.clear()
            self._in_flight += len(items)
            return items

    def restore(self, items: Sequence[tuple[float, PendingWrite]], *, taken: int = 0) -> None:
        """Put back writes taken for a replay that failed, ahead of newer ones;
        ``taken`` rows of the last :meth:`take` are settled at the same moment."""
        with self._lock:
            self._server.extendleft(reversed([i for i in items if not i[1].public]))
            self._public.extendleft(reversed([i for i in items if i[1].public]))
            self._in_flight -= taken
            overflow = self._trim()
        self._log_drops(overflow)

    def _trim(self) -> int:
        """Drop the oldest public writes beyond their share, then the oldest
        writes beyond ``max_size``, public ones first (lock held); how many went."""
        overflow = 0
        public_cap = int(self.max_size * PUBLIC_SHARE)
        while self._public and (len(self._public) > public_cap or len(self) > self.max_size):
            self._public.popleft()
            overflow += 1
        while len(self._server) > self.max_size:
            self._server.popleft()
            overflow += 1
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


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def send_rows(
    rows: Sequence[Row],
    submit: Submit,
    confirm: Callable[[Sequence[Row]], None],
    refuse: Callable[[Sequence[tuple[Row, str]]], None],
) -> None:
    """Send ``rows``; if the engine refuses them, halve until each refused row
    is alone (``refuse``d, with the reason). An outage error stops everything
    (raised); ``confirm`` gets every part Redis took, as soon as it took it."""
    try:
        submit([r.write for r in rows])
    except Exception as exc:
        if is_outage(exc):
            raise
        if len(rows) == 1:
            refuse([(rows[0], describe(exc))])
            return
        middle = len(rows) // 2
        send_rows(rows[:middle], submit, confirm, refuse)
        send_rows(rows[middle:], submit, confirm, refuse)
        return
    confirm(rows)


class DurableBuffer:
    """Writes Redis refused, kept until it confirms them: a durable spool on disk
    (:mod:`.spool`, one SQLite file per process), with a bounded in-memory
    :class:`ReplayBuffer` used only when the spool cannot be written (disk
    full, folder refused). Accepted means written, or spooled.

    :meth:`replay` sends the memory front, this process's spool, then the
    spools of dead processes, oldest first, deleting rows only after Redis
    confirmed them.
    """

    def __init__(
        self,
        folder: str,
        *,
        target: str = "",
        max_bytes: int,
        memory_size: int,
        dead_max_bytes: int = 16 << 20,
        token_ttl: float = 86_400,
        batch: int = 5_000,
        problem: str | None = None,
    ) -> None:
        self.folder = folder
        self.target = target
        self.max_bytes = max_bytes
        self.dead_max_bytes = dead_max_bytes
        self.memory = ReplayBuffer(memory_size)
        self.stats = self.memory.stats
        self.batch = batch
        # A count is sent again only while its token surely lives (a margin
        # for the time between its first try and its row's stamp).
        self.max_age = token_ttl - min(60.0, token_ttl * 0.05)
        self._lock = threading.Lock()  # one replay at a time
        self.pid = os.getpid()
        self._spool: Spool | None = None
        self.problem = problem
        if problem is None:
            try:
                self._spool = self._open()
            except (OSError, SpoolError) as exc:
                self.problem = str(exc)
        if self.problem is not None:
            logger.error(
                "porpoise: no spool in %s (%s): outage writes stay in memory", folder, self.problem
            )

    def _open(self) -> Spool:
        return Spool.open(
            self.folder,
            target=self.target,
            max_bytes=self.max_bytes,
            dead_max_bytes=self.dead_max_bytes,
        )

    def __len__(self) -> int:
        return self.memory.waiting() + self.spooled

    @property
    def spooled(self) -> int:
        """Writes waiting in this process's spool file (no disk access)."""
        spool = self._spool
        return spool.waiting if spool is not None else 0

    @property
    def backlog(self) -> bool:
        """Whether anything of this process waits (running totals: no disk access)."""
        return self.memory.waiting() > 0 or self.spooled > 0

    def add(
        self,
        writes: Iterable[PendingWrite],
        error: BaseException | None = None,
        at: float | None = None,
    ) -> None:
        items = list(writes)
        if error is not None:
            self.stats.failures += 1
            self.stats.last_error = describe(error)
        if not items:
            return
        spool = self._spool
        if spool is not None:
            try:
                spool.append(items, at=at)
                self.stats.buffered += len(items)
                return
            except SpoolError as exc:
                self.stats.spool_error = str(exc)
                log_limited(
                    "spool write",
                    logging.ERROR,
                    "porpoise: spool write failed (%s); %d writes kept in memory",
                    exc,
                    len(items),
                )
        self.memory.add(items, at=at)

    def replay(self, submit: Submit, *, orphans: bool = True) -> bool:
        """Send everything waiting. Raises an outage error of ``submit`` (which stops
        the replay; what was not sent stays) or :class:`SpoolError`; True otherwise."""
        with self._lock:
            self.stats.attempts += 1
            self._replay_memory(submit)
            self._reattach()
            if self._spool is not None:
                self._drain(self._spool, submit)
            if orphans:
                self._drain_orphans(submit)
            return True

    def _reattach(self) -> None:
        """If this process's spool file was deleted (a cleaner), move its rows,
        still readable through the open connection, to a new file."""
        old = self._spool
        if old is None or not old.detached():
            return
        fresh = self._open()
        rows = old.oldest(len(old) + 1)
        for at, group in itertools.groupby(rows, key=lambda row: row.at):
            fresh.append([row.write for row in group], at=at)
        self._spool = fresh
        old.close(remove_if_empty=False)
        logger.error(
            "porpoise: the spool file %s was deleted while in use; its %d writes moved to %s",
            old.path,
            len(rows),
            fresh.path.name,
        )

    def _drain_orphans(self, submit: Submit) -> None:
        own = self._spool.path if self._spool is not None else None
        for spool in find_orphans(
            self.folder,
            target=self.target,
            max_bytes=self.max_bytes,
            dead_max_bytes=self.dead_max_bytes,
            skip=own,
        ):
            try:
                drained = self._drain(spool, submit)
                foreign = len(spool)
            finally:
                spool.close()
            if drained:
                logger.info(
                    "porpoise: replayed %d writes from the spool %s of a process that is gone",
                    drained,
                    spool.path.name,
                )
            if foreign:
                log_limited(
                    f"foreign {spool.path.name}",
                    logging.ERROR,
                    "porpoise: spool %s holds %d writes of another target; not replayed here",
                    spool.path,
                    foreign,
                )

    def _replay_memory(self, submit: Submit) -> None:
        pending = self.memory.take()
        if not pending:
            return
        rows = [Row(number, write, at, 0) for number, (at, write) in enumerate(pending)]
        settled: set[int] = set()

        def confirm(done: Sequence[Row]) -> None:
            settled.update(r.id for r in done)
            self.memory.replayed(len(done))

        def refuse(refused: Sequence[tuple[Row, str]]) -> None:
            settled.update(r.id for r, _ in refused)
            self.memory.dead.extend((r.write, reason) for r, reason in refused)
            self._refused(len(refused), refused[0][1], "memory")

        try:
            send_rows(rows, submit, confirm, refuse)
        except BaseException:
            unsent = [(r.at, r.write) for r in rows if r.id not in settled]
            self.memory.restore(unsent, taken=len(pending))
            raise
        self.memory.restore([], taken=len(pending))

    def _drain(self, spool: Spool, submit: Submit) -> int:
        """Send the rows of ``spool`` (of its target), oldest first; how many were sent."""
        spool.retry_deletes()
        cutoff = time.time() - self.max_age
        done = 0

        def confirm(rows: Sequence[Row]) -> None:
            spool.delete(rows)
            self.memory.replayed(len(rows))

        def refuse(rows: Sequence[tuple[Row, str]]) -> None:
            spool.bury(rows)
            self._refused(len(rows), rows[0][1], str(spool.path))

        while True:
            rows = spool.oldest(self.batch)
            if not rows:
                return done
            expired = [r for r in rows if r.write.kind == "count" and r.at < cutoff]
            if expired:
                reason = (
                    f"{EXPIRED}: spooled more than IDEMPOTENCY_TTL ago; its token may "
                    "have lapsed, so sending it again could count it twice"
                )
                refuse([(r, reason) for r in expired])
                rows = [r for r in rows if not (r.write.kind == "count" and r.at < cutoff)]
            if rows:
                send_rows(rows, submit, confirm, refuse)
                done += len(rows)

    def _refused(self, count: int, reason: str, where: str) -> None:
        self.stats.dead += count
        log_limited(
            "dead letters",
            logging.ERROR,
            "porpoise: %d write(s) refused, kept as dead letters in %s (%s); "
            "see manage.py porpoise_stats, porpoise_replay --dead-letters",
            count,
            where,
            reason,
        )

    def spill(self) -> int:
        """Move what waits in memory to a spool file (at exit); how many stay in memory."""
        pending = self.memory.take()
        if not pending:
            return 0
        moved = 0
        try:
            if self._spool is None and self.problem is None:
                self._spool = self._open()
            if self._spool is not None:
                for at, group in itertools.groupby(pending, key=lambda item: item[0]):
                    writes = [write for _, write in group]
                    self._spool.append(writes, at=at)
                    moved += len(writes)
        except (OSError, SpoolError) as exc:
            self.stats.spool_error = str(exc)
        self.memory.restore(pending[moved:], taken=len(pending))
        return len(self.memory)

    def spool_stats(self) -> dict[str, Any]:
        stats = (
            self._spool.stats()
            if self._spool is not None
            else {
                "rows": 0,
                "bytes": 0,
                "public_rows": 0,
                "oldest": None,
                "dropped": 0,
                "dead_letters": 0,
            }
        )
        return {
            **stats,
            "memory": self.memory.waiting(),
            "memory_dead_letters": len(self.memory.dead),
            "path": str(self._spool.path) if self._spool is not None else None,
            "folder": self.folder,
            "problem": self.problem,
            "error": self.stats.spool_error or None,
        }

    def close(self) -> None:
        """Release the spool: deleted if empty, else left for the next process."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
