"""A durable local spool of writes that Redis refused.

Why SQLite (standard library) in WAL mode: a write is one small transaction
that survives the process being killed (``kill -9``) as soon as it returns,
readers and the writer do not block each other, rows are deleted only after
Redis confirmed them, and a file of one dead process can be opened and
drained by any other. An append-only log would need its own framing,
truncation and compaction to do the same.

Each process owns one file, ``spool-<host>-<pid>-<start>.sqlite3`` in
``SPOOL_DIR``, and holds an exclusive ``flock`` on ``<file>.lock`` while it
lives. A file whose lock can be taken belongs to a process that is gone:
:func:`orphans` hands it to whoever claims it (a worker's replay timer, or
``manage.py porpoise_replay``), which replays it oldest first and deletes it
once empty. Counts carry the token they were made with, so a replay counts
them exactly once; marks are idempotent.

>>> spool = Spool.open("/var/tmp/porpoise")                  # doctest: +SKIP
>>> spool.append([write])                                    # doctest: +SKIP
>>> [(rowid, write)] = spool.oldest(100)                     # doctest: +SKIP
>>> spool.delete([rowid])                                    # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from porpoise_django.delivery.pending import PendingWrite

logger = logging.getLogger("porpoise_django")

_PREFIX = "spool-"
_SUFFIX = ".sqlite3"


def _encode(write: PendingWrite) -> str:
    return json.dumps(
        [write.kind, list(write.row), write.granularities, write.track_unique, write.token],
        separators=(",", ":"),
    )


def _decode(text: str) -> PendingWrite:
    kind, row, granularities, track_unique, token = json.loads(text)
    return PendingWrite(
        kind,
        tuple(row),
        None if granularities is None else tuple(granularities),
        bool(track_unique),
        token,
    )


class Spool:
    """One SQLite file of pending writes, bounded in bytes; thread-safe."""

    def __init__(self, path: Path, *, max_bytes: int, lock_fd: int | None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock_fd = lock_fd
        self._mutex = threading.Lock()
        self.dropped = 0
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed row survives the process's death;
        # only an OS crash can lose the last transactions.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS writes ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, payload TEXT NOT NULL)"
        )

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | os.PathLike[str], *, max_bytes: int = 100 << 20) -> Spool:
        """This process's own spool in ``folder`` (created), locked while it lives."""
        directory = Path(folder)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{_PREFIX}{socket.gethostname()}-{os.getpid()}-{time.time_ns()}{_SUFFIX}"
        path = directory / name
        lock_fd = _lock(path)
        if lock_fd is None:  # cannot happen for a fresh name; be safe anyway
            raise RuntimeError(f"spool {path} is locked by another process")
        return cls(path, max_bytes=max_bytes, lock_fd=lock_fd)

    def close(self, *, remove_if_empty: bool = True) -> None:
        """Close the file (deleted when empty) and release its lock."""
        with self._mutex:
            empty = self._count() == 0
            self._db.close()
            if empty and remove_if_empty:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            if self._lock_fd is not None:
                if empty and remove_if_empty:
                    Path(f"{self.path}.lock").unlink(missing_ok=True)
                os.close(self._lock_fd)
                self._lock_fd = None

    # -- writing and reading ---------------------------------------------------------------
    def append(self, writes: Iterable[PendingWrite]) -> int:
        """Store ``writes`` durably (one transaction); returns how many. Beyond
        ``max_bytes`` the oldest rows make room (counted in :attr:`dropped`)."""
        rows = [(time.time(), _encode(w)) for w in writes]
        if not rows:
            return 0
        with self._mutex:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO writes (at, payload) VALUES (?, ?)", rows)
                dropped = self._trim()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if dropped:
            self.dropped += dropped
            logger.error(
                "porpoise: spool %s over %d bytes: dropped its %d oldest writes (%d in all)",
                self.path.name,
                self.max_bytes,
                dropped,
                self.dropped,
            )
        return len(rows)

    def _trim(self) -> int:
        size = self._bytes()
        if size <= self.max_bytes:
            return 0
        count = self._count()
        # Rows are about the same size: drop the share that is over, plus 10%.
        excess = max(1, int(count * (1 - self.max_bytes / size) * 1.1) + 1)
        self._db.execute(
            "DELETE FROM writes WHERE id IN (SELECT id FROM writes ORDER BY id LIMIT ?)",
            (excess,),
        )
        return excess

    def _bytes(self) -> int:
        (total,) = self._db.execute(
            "SELECT COALESCE(SUM(LENGTH(payload)) + COUNT(*) * 24, 0) FROM writes"
        ).fetchone()
        return int(total)

    def _count(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM writes").fetchone()
        return int(count)

    def oldest(self, limit: int) -> list[tuple[int, PendingWrite]]:
        """Up to ``limit`` rows, oldest first: ``(row id, write)``."""
        with self._mutex:
            found = self._db.execute(
                "SELECT id, payload FROM writes ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [(int(rowid), _decode(payload)) for rowid, payload in found]

    def delete(self, rowids: Iterable[int]) -> None:
        """Forget rows that Redis confirmed."""
        ids = [(i,) for i in rowids]
        with self._mutex:
            self._db.executemany("DELETE FROM writes WHERE id = ?", ids)

    def __len__(self) -> int:
        with self._mutex:
            return self._count()

    def stats(self) -> dict[str, Any]:
        """Rows, bytes and the time of the oldest row (epoch seconds, or None)."""
        with self._mutex:
            rows = self._count()
            oldest = self._db.execute("SELECT MIN(at) FROM writes").fetchone()[0]
            size = self._bytes()
        return {"rows": rows, "bytes": size, "oldest": oldest, "dropped": self.dropped}


def _lock(path: Path) -> int | None:
    """An exclusive lock on ``<path>.lock`` (a file descriptor), or None if taken."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def orphans(folder: str | os.PathLike[str], *, max_bytes: int = 100 << 20) -> Iterator[Spool]:
    """Spools in ``folder`` whose process is gone, each locked for the caller,
    oldest first. Spools of live processes (their lock is held) are skipped."""
    directory = Path(folder)
    if not directory.is_dir():
        return
    files = sorted(directory.glob(f"{_PREFIX}*{_SUFFIX}"), key=lambda p: p.stat().st_mtime)
    for path in files:
        fd = _lock(path)
        if fd is None:
            continue  # its process is alive (or another claimer has it)
        if not path.exists():  # drained and removed by a claimer just before us
            os.close(fd)
            continue
        try:
            yield Spool(path, max_bytes=max_bytes, lock_fd=fd)
        except sqlite3.Error as exc:
            os.close(fd)
            logger.error("porpoise: spool %s unreadable (%s); left in place", path.name, exc)
