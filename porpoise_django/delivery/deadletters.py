"""The dead letters of a project's spools: rows the engine refused (or counts
too old to send again safely), kept in the ``dead`` table of each spool file.

Listed and summed by ``porpoise_stats``, sent again, exported as JSON lines
or discarded by ``porpoise_replay``. These functions read every spool file of
the folder, those of live processes too: a live process only adds dead
letters, it never sends them.

>>> from porpoise_django.delivery import deadletters, folder
>>> from porpoise_django import delivery
>>> deadletters.summary(delivery.spool_dir(), folder.target())
{'count': 0, 'files': 0, 'oldest': None, 'reasons': {}}
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from porpoise_django.delivery.buffer import EXPIRED, Submit, send_rows
from porpoise_django.delivery.spool import Row, connect, decode, owned_file, spool_files

logger = logging.getLogger("porpoise_django")

_SELECT = (
    "SELECT d.id, d.at, d.payload, d.public, d.failed_at, d.error, d.attempts"
    " FROM dead d JOIN targets t ON t.id = d.target WHERE t.target = ? AND d.id > ?"
    " ORDER BY d.id LIMIT ?"
)


class Output(Protocol):
    def write(self, text: str, /) -> Any: ...


@dataclass(frozen=True)
class DeadLetter:
    path: Path
    row: Row
    failed_at: float
    error: str
    attempts: int

    @property
    def expired(self) -> bool:
        return self.error.startswith(EXPIRED)

    def as_json(self) -> dict[str, Any]:
        write = self.row.write
        return {
            "file": self.path.name,
            "id": self.row.id,
            "at": self.row.at,
            "failed_at": self.failed_at,
            "error": self.error,
            "attempts": self.attempts,
            "kind": write.kind,
            "row": list(write.row),
            "granularities": write.granularities,
            "track_unique": write.track_unique,
            "token": write.token,
            "public": write.public,
        }


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[sqlite3.Connection]:
    db = connect(path)
    try:
        yield db
    finally:
        db.close()


def _files(folder: str | Path) -> list[Path]:
    return [path for path in spool_files(folder) if owned_file(path) is None]


def _batches(
    db: sqlite3.Connection, path: Path, target: str, size: int
) -> Iterator[list[DeadLetter]]:
    last = 0
    while True:
        found = db.execute(_SELECT, (target, last, size)).fetchall()
        if not found:
            return
        last = found[-1][0]
        yield [
            DeadLetter(
                path, Row(i, decode(payload, bool(public)), at, len(payload)), failed, error, tries
            )
            for i, at, payload, public, failed, error, tries in found
        ]


def letters(folder: str | Path, target: str) -> Iterator[DeadLetter]:
    """Every dead letter of ``target`` in the spools of ``folder``, oldest file first."""
    for path in _files(folder):
        with _opened(path) as db:
            for batch in _batches(db, path, target, 1000):
                yield from batch


def summary(folder: str | Path, target: str) -> dict[str, Any]:
    """How many dead letters, in how many files, the oldest, and per reason."""
    count, files, oldest = 0, 0, None
    reasons: dict[str, int] = {}
    for path in _files(folder):
        with _opened(path) as db:
            found = db.execute(
                "SELECT d.error, d.at FROM dead d JOIN targets t ON t.id = d.target"
                " WHERE t.target = ?",
                (target,),
            ).fetchall()
        files += bool(found)
        for error, at in found:
            count += 1
            oldest = at if oldest is None else min(oldest, at)
            reason = error.split(":", 1)[0]
            reasons[reason] = reasons.get(reason, 0) + 1
    return {"count": count, "files": files, "oldest": oldest, "reasons": reasons}


def export(folder: str | Path, target: str, out: Output) -> int:
    """Write every dead letter as one JSON line; how many."""
    written = 0
    for letter in letters(folder, target):
        out.write(json.dumps(letter.as_json(), separators=(",", ":")) + "\n")
        written += 1
    return written


def resend(
    folder: str | Path, target: str, submit: Submit, *, expired: bool = False
) -> dict[str, int]:
    """Send the dead letters again, row by row: those Redis takes are deleted,
    those refused again stay (with the new reason). Expired counts only with
    ``expired`` (they may count twice). Raises an outage error of ``submit``."""
    outcome = {"sent": 0, "refused": 0, "expired": 0}
    for path in _files(folder):
        with _opened(path) as db:
            for batch in _batches(db, path, target, 500):
                chosen = [letter for letter in batch if expired or not letter.expired]
                outcome["expired"] += len(batch) - len(chosen)
                _resend_batch(db, chosen, submit, outcome)
    return outcome


def _resend_batch(
    db: sqlite3.Connection, chosen: Sequence[DeadLetter], submit: Submit, outcome: dict[str, int]
) -> None:
    def confirm(rows: Sequence[Row]) -> None:
        db.executemany("DELETE FROM dead WHERE id = ?", [(r.id,) for r in rows])
        outcome["sent"] += len(rows)

    def refuse(rows: Sequence[tuple[Row, str]]) -> None:
        now = time.time()
        db.executemany(
            "UPDATE dead SET error = ?, failed_at = ?, attempts = attempts + 1 WHERE id = ?",
            [(reason[:2000], now, r.id) for r, reason in rows],
        )
        outcome["refused"] += len(rows)

    if chosen:
        send_rows([letter.row for letter in chosen], submit, confirm, refuse)


def discard(folder: str | Path, target: str, *, expired_only: bool = False) -> int:
    """Delete the dead letters (all, or only the expired counts); how many."""
    gone = 0
    for path in _files(folder):
        with _opened(path) as db:
            where = " AND error LIKE 'expired%'" if expired_only else ""
            cursor = db.execute(
                "DELETE FROM dead WHERE target IN (SELECT id FROM targets WHERE target = ?)"
                + where,
                (target,),
            )
            gone += cursor.rowcount
    return gone
