"""A durable local spool of writes that Redis refused.

Why SQLite (standard library) in WAL mode: a write is one small transaction
that survives the process being killed (``kill -9``) as soon as it returns,
readers and the writer do not block each other, rows are deleted only after
Redis confirmed them, and a file of one dead process can be opened and
drained by any other. An append-only log would need its own framing,
truncation and compaction to do the same.

Each process owns one file, ``spool-<host>-<pid>-<start>.sqlite3`` (mode
0600) in its project's folder (:mod:`.folder`), and holds an exclusive
``flock`` on that very file while it lives: no side file that a cleaner could
delete. A file whose lock can be taken belongs to a process that is gone:
:func:`orphans` hands it to whoever claims it (a worker's replay timer, or
``manage.py porpoise_replay``), which replays it oldest first and deletes it
once empty. Every row names its target (key prefix and Redis server); rows of
another target are never replayed by this one.

Rows the engine refuses (a name or granularity the deploy no longer accepts,
a key of the wrong type...) move to the ``dead`` table of the same file, in
the same transaction: kept, counted, shown by ``porpoise_stats``, sent again
by ``porpoise_replay --dead-letters``.

Appending costs the same whatever the spool holds: its rows and bytes are
running totals, never a ``SUM`` or ``COUNT`` under the lock.

Example::

    spool = Spool.open(folder, target="pp redis://r:6379/0")
    spool.append([write])
    [row] = spool.oldest(100)
    spool.delete([row])
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from porpoise_django.delivery.outage import log_limited
from porpoise_django.delivery.pending import PendingWrite

logger = logging.getLogger("porpoise_django")

PREFIX = "spool-"
SUFFIX = ".sqlite3"
#: What a row costs besides its payload (ids, time, target, page overhead).
ROW_OVERHEAD = 32
#: The share of ``max_bytes`` rows from the public tracking endpoint may take:
#: a flood of them never pushes out the writes of the server's own code.
PUBLIC_SHARE = 0.5

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS targets (id INTEGER PRIMARY KEY, target TEXT UNIQUE NOT NULL)",
    "CREATE TABLE IF NOT EXISTS writes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at REAL NOT NULL, payload TEXT NOT NULL, target INTEGER NOT NULL,"
    " public INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS writes_by_class ON writes (public, id)",
    "CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at REAL NOT NULL, payload TEXT NOT NULL, target INTEGER NOT NULL,"
    " public INTEGER NOT NULL DEFAULT 0, failed_at REAL NOT NULL, error TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 1)",
)


class SpoolError(Exception):
    """The spool file could not be read or written (disk full, I/O error...);
    the message is SQLite's own."""


@dataclass(frozen=True)
class Row:
    """One spooled write: its row id, the write, when it was first tried (epoch
    seconds) and what it costs in the spool."""

    id: int
    write: PendingWrite
    at: float
    size: int


def encode(write: PendingWrite) -> str:
    return json.dumps(
        [write.kind, list(write.row), write.granularities, write.track_unique, write.token],
        separators=(",", ":"),
    )


def decode(text: str, public: bool) -> PendingWrite:
    kind, row, granularities, track_unique, token = json.loads(text)
    return PendingWrite(
        kind,
        tuple(row),
        None if granularities is None else tuple(granularities),
        bool(track_unique),
        token,
        public,
    )


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection to a spool file, its tables created if missing."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=2.0)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a committed row survives the process's death;
    # only an OS crash can lose the last transactions.
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in _SCHEMA:
        db.execute(statement)
    return db


class Spool:
    """One SQLite file of pending writes of one target, bounded in bytes; thread-safe.

    ``max_bytes`` bounds the writes waiting (the oldest public ones make room
    first, then the oldest of all), ``dead_max_bytes`` the dead letters.
    """

    def __init__(
        self,
        path: Path,
        *,
        target: str,
        max_bytes: int,
        dead_max_bytes: int,
        lock_fd: int | None,
    ) -> None:
        self.path = path
        self.target = target
        self.max_bytes = max_bytes
        self.dead_max_bytes = dead_max_bytes
        self._lock_fd = lock_fd
        self._mutex = threading.Lock()
        self.dropped = 0
        self.dead_dropped = 0
        #: Rows Redis confirmed whose DELETE failed: never sent again by this
        #: process; deleted at the next chance.
        self._confirmed: set[int] = set()
        try:
            self._db = connect(path)
            self._db.execute("INSERT OR IGNORE INTO targets (target) VALUES (?)", (target,))
            (self._target_id,) = self._db.execute(
                "SELECT id FROM targets WHERE target = ?", (target,)
            ).fetchone()
            rows, size, public_rows, public_size = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) + COUNT(*) * {ROW_OVERHEAD},"
                " COALESCE(SUM(public), 0),"
                f" COALESCE(SUM(CASE WHEN public THEN LENGTH(payload) + {ROW_OVERHEAD} END), 0)"
                " FROM writes"
            ).fetchone()
        except sqlite3.Error as exc:
            raise SpoolError(f"spool {path.name}: {exc}") from exc
        # Running totals (all targets): appending never scans the table.
        self._rows, self._bytes = int(rows), int(size)
        self._public_rows, self._public_bytes = int(public_rows), int(public_size)

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        target: str,
        max_bytes: int = 100 << 20,
        dead_max_bytes: int = 16 << 20,
    ) -> Spool:
        """This process's own spool in ``folder`` (which must exist), locked while it lives."""
        name = f"{PREFIX}{socket.gethostname()}-{os.getpid()}-{time.time_ns()}{SUFFIX}"
        path = Path(folder) / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return cls(
                path, target=target, max_bytes=max_bytes, dead_max_bytes=dead_max_bytes, lock_fd=fd
            )
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise

    def close(self, *, remove_if_empty: bool = True) -> None:
        """Close the file (deleted when it holds nothing) and release its lock."""
        with self._mutex:
            try:
                dead = self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0]
            except sqlite3.Error:
                dead = 1  # unreadable: keep the file
            empty = self._rows == 0 and dead == 0
            self._db.close()
            if empty and remove_if_empty:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            # The lock goes last: SQLite's own (POSIX) locks of this process on
            # the file end when any descriptor of it is closed.
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def detached(self) -> bool:
        """True if the file at :attr:`path` is no longer this spool's (deleted)."""
        if self._lock_fd is None:
            return False
        try:
            return os.stat(self.path).st_ino != os.fstat(self._lock_fd).st_ino
        except FileNotFoundError:
            return True

    # -- writing ---------------------------------------------------------------------------
    def append(self, writes: Iterable[PendingWrite], at: float | None = None) -> int:
        """Store ``writes`` durably (one transaction); returns how many. Beyond
        ``max_bytes`` the oldest rows make room (counted in :attr:`dropped`)."""
        stamp = time.time() if at is None else at
        rows = [(stamp, encode(w), self._target_id, int(w.public)) for w in writes]
        if not rows:
            return 0
        added = sum(len(r[1]) + ROW_OVERHEAD for r in rows)
        added_public = sum(len(r[1]) + ROW_OVERHEAD for r in rows if r[3])
        public_rows = sum(r[3] for r in rows)
        with self._mutex:
            totals = (self._rows, self._bytes, self._public_rows, self._public_bytes)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO writes (at, payload, target, public) VALUES (?, ?, ?, ?)", rows
                )
                self._rows += len(rows)
                self._bytes += added
                self._public_rows += public_rows
                self._public_bytes += added_public
                dropped = self._trim()
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rows, self._bytes, self._public_rows, self._public_bytes = totals
                self._rollback()
                raise SpoolError(f"spool {self.path.name}: {exc}") from exc
        if dropped:
            self.dropped += dropped
            log_limited(
                f"spool full {self.path.name}",
                logging.ERROR,
                "porpoise: spool %s over %d bytes: dropped its oldest writes (%d in all)",
                self.path.name,
                self.max_bytes,
                self.dropped,
            )
        return len(rows)

    def _rollback(self) -> None:
        # SQLite may have rolled back already (disk full): a ROLLBACK then
        # fails with "no transaction is active" and would hide the real error.
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _trim(self) -> int:
        """Drop the oldest public rows beyond their share, then the oldest rows
        beyond ``max_bytes`` (public ones first); how many went."""
        dropped = 0
        public_cap = int(self.max_bytes * PUBLIC_SHARE)
        if self._public_bytes > public_cap:
            dropped += self._drop(True, self._public_bytes - public_cap)
        if self._bytes > self.max_bytes and self._public_rows:
            dropped += self._drop(True, self._bytes - self.max_bytes)
        if self._bytes > self.max_bytes:
            dropped += self._drop(False, self._bytes - self.max_bytes)
        return dropped

    def _drop(self, public: bool, excess: int) -> int:
        # A tenth more than needed: the next appends do not trim again at once.
        goal = excess + self.max_bytes // 10
        found = self._db.execute(
            f"SELECT id, LENGTH(payload) + {ROW_OVERHEAD} FROM writes WHERE public = ?"
            " ORDER BY id LIMIT ?",
            (int(public), max(1, self._rows)),
        )
        freed = count = last = 0
        for rowid, size in found:
            if freed >= goal:
                break
            freed += size
            count += 1
            last = rowid
        found.close()
        if not count:
            return 0
        self._db.execute("DELETE FROM writes WHERE public = ? AND id <= ?", (int(public), last))
        self._rows -= count
        self._bytes -= freed
        if public:
            self._public_rows -= count
            self._public_bytes -= freed
        return count

    # -- reading and confirming ----------------------------------------------------------
    def oldest(self, limit: int) -> list[Row]:
        """Up to ``limit`` rows of this spool's target, oldest first (rows Redis
        already confirmed are left out)."""
        with self._mutex:
            try:
                found = self._db.execute(
                    "SELECT id, payload, at, public FROM writes WHERE target = ?"
                    " ORDER BY id LIMIT ?",
                    (self._target_id, limit + len(self._confirmed)),
                ).fetchall()
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path.name}: {exc}") from exc
        rows = [
            Row(int(i), decode(p, bool(pub)), float(at), len(p) + ROW_OVERHEAD)
            for i, p, at, pub in found
            if i not in self._confirmed
        ]
        return rows[:limit]

    def delete(self, rows: Sequence[Row]) -> None:
        """Forget rows that Redis confirmed. If SQLite fails, they are still
        never sent again by this process (and deleted at the next chance)."""
        with self._mutex:
            self._confirmed.update(r.id for r in rows)
            self._delete_confirmed()

    def retry_deletes(self) -> None:
        """Delete the confirmed rows a failed DELETE left (raises :class:`SpoolError`)."""
        with self._mutex:
            if self._confirmed:
                self._delete_confirmed()

    def _delete_confirmed(self) -> None:
        ids = sorted(self._confirmed)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            gone = self._remove(ids)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise SpoolError(
                f"spool {self.path.name}: {exc} ({len(ids)} rows Redis confirmed stay in the "
                "file; this process will not send them again)"
            ) from exc
        self._forget(gone)
        self._confirmed.clear()

    def _remove(self, ids: list[int]) -> list[tuple[int, int]]:
        """Delete rows by id (transaction open); their (size, public)."""
        gone: list[tuple[int, int]] = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            gone += self._db.execute(
                f"SELECT LENGTH(payload) + {ROW_OVERHEAD}, public FROM writes"
                f" WHERE id IN ({marks})",
                part,
            ).fetchall()
            self._db.execute(f"DELETE FROM writes WHERE id IN ({marks})", part)
        return gone

    def _forget(self, gone: list[tuple[int, int]]) -> None:
        self._rows -= len(gone)
        self._bytes -= sum(size for size, _ in gone)
        self._public_rows -= sum(1 for _, public in gone if public)
        self._public_bytes -= sum(size for size, public in gone if public)

    def bury(self, rows: Sequence[tuple[Row, str]]) -> None:
        """Move rows the engine refused to the dead letters, with the reason."""
        if not rows:
            return
        now = time.time()
        with self._mutex:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for row, error in rows:
                    self._db.execute(
                        "INSERT INTO dead (at, payload, target, public, failed_at, error)"
                        " SELECT at, payload, target, public, ?, ? FROM writes WHERE id = ?",
                        (now, error[:2000], row.id),
                    )
                gone = self._remove([row.id for row, _ in rows])
                dropped = trim_dead(self._db, self.dead_max_bytes)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(f"spool {self.path.name}: {exc}") from exc
            self._forget(gone)
        if dropped:
            self.dead_dropped += dropped
            logger.error(
                "porpoise: dead letters of %s over %d bytes: dropped the %d oldest",
                self.path.name,
                self.dead_max_bytes,
                dropped,
            )

    # -- figures --------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._rows

    @property
    def waiting(self) -> int:
        """Rows still to send (running total: no disk access)."""
        return self._rows - len(self._confirmed)

    def stats(self) -> dict[str, Any]:
        """Rows, bytes, the time of the oldest row (epoch seconds, or None), drops
        and dead letters."""
        with self._mutex:
            try:
                oldest = self._db.execute("SELECT MIN(at) FROM writes").fetchone()[0]
                dead = self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0]
            except sqlite3.Error:
                oldest, dead = None, None
        return {
            "rows": self._rows,
            "bytes": self._bytes,
            "public_rows": self._public_rows,
            "oldest": oldest,
            "dropped": self.dropped,
            "dead_letters": dead,
        }


def trim_dead(db: sqlite3.Connection, max_bytes: int) -> int:
    """Drop the oldest dead letters beyond ``max_bytes`` (transaction open); how many."""
    (size,) = db.execute(
        f"SELECT COALESCE(SUM(LENGTH(payload) + LENGTH(error)), 0) + COUNT(*) * {ROW_OVERHEAD}"
        " FROM dead"
    ).fetchone()
    if size <= max_bytes:
        return 0
    freed = count = last = 0
    for rowid, cost in db.execute(
        f"SELECT id, LENGTH(payload) + LENGTH(error) + {ROW_OVERHEAD} FROM dead ORDER BY id"
    ):
        if size - freed <= max_bytes:
            break
        freed += cost
        count += 1
        last = rowid
    db.execute("DELETE FROM dead WHERE id <= ?", (last,))
    return count


def owned_file(path: Path) -> str | None:
    """Why the file at ``path`` must not be replayed here (None: it may)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "gone"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != os.geteuid():
        return f"owned by uid {info.st_uid}, not {os.geteuid()}"
    if info.st_mode & 0o022:
        return f"writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def spool_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The spool files of ``folder``, oldest first."""
    directory = Path(folder)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"{PREFIX}*{SUFFIX}"):
        try:
            found.append((path.stat().st_mtime, path))
        except FileNotFoundError:
            continue
    return [path for _, path in sorted(found)]


def _claim(path: Path) -> int | None:
    """An exclusive lock on the spool file itself (a descriptor), or None if its
    owner lives, another claimer has it, or it is gone."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Drained and removed by a claimer while we waited for the lock?
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def orphans(
    folder: str | os.PathLike[str],
    *,
    target: str,
    max_bytes: int = 100 << 20,
    dead_max_bytes: int = 16 << 20,
    skip: Path | None = None,
) -> Iterator[Spool]:
    """Spools in ``folder`` whose process is gone, each locked for the caller,
    oldest first. Spools of live processes (their lock is held), files of
    another user or writable by others are skipped."""
    for path in spool_files(folder):
        if skip is not None and path == skip:
            continue
        refused = owned_file(path)
        if refused is not None:
            if refused != "gone":
                logger.error("porpoise: spool %s not replayed: %s", path, refused)
            continue
        fd = _claim(path)
        if fd is None:
            continue
        try:
            spool = Spool(
                path, target=target, max_bytes=max_bytes, dead_max_bytes=dead_max_bytes, lock_fd=fd
            )
        except SpoolError as exc:
            os.close(fd)
            logger.error("porpoise: spool %s unreadable (%s); left in place", path.name, exc)
            continue
        yield spool
