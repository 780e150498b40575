"""A write accepted from the application, waiting to be sent to Redis.

The unit the writer thread, the durable spool and the replay all pass
around: validated when it was accepted, its time fixed then, so a write sent
late (after an outage) still lands in the buckets of the moment it happened.

>>> write = PendingWrite("mark", ("active", 7, 1764000000.0))
>>> write.kind, write.token
('mark', None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    #: From the public tracking endpoint (``POST track/``): in an outage such
    #: rows never push out the writes of the server's own code (middleware,
    #: decorators, signals, direct calls), which have a spool share of their own.
    public: bool = False
