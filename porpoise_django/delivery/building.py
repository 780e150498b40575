"""Building writes: a validated mark or count, its time fixed when it is made,
and the engine's prepared writes for a batch of them.

>>> from porpoise_django.delivery import building
>>> write = building.mark("signup", 42)      # raises ValueError on bad input
>>> building.mark("bad name!", 42)
Traceback (most recent call last):
    ...
porpoise_django.engine.errors.InvalidName: ...
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from porpoise_django.conf import porpoise_settings
from porpoise_django.delivery.outage import EngineUnavailable
from porpoise_django.delivery.pending import PendingWrite
from porpoise_django.engine import Analytics, Prepared
from porpoise_django.services import get_analytics


def mark(
    event: str,
    id: Any,
    when: Any = None,
    *,
    granularities: Sequence[str] | None = None,
    track_unique: bool = False,
    public: bool = False,
    properties: Mapping[str, object] | None = None,
) -> PendingWrite:
    """A validated mark, its time fixed now; raises ``ValueError`` on bad input.
    ``public``: it comes from the public tracking endpoint (see
    :attr:`PendingWrite.public`); ``properties``: the event properties it
    carried (``{"source": "ads"}``)."""
    pp = get_analytics()
    stamp: tuple[Any, ...] = pp.check_mark(event, id, when)
    grans = None if granularities is None else tuple(granularities)
    if grans is not None:
        pp.check_event_granularities(grans)
    if properties:
        stamp = (*stamp, pp.check_properties(properties))
    return PendingWrite("mark", stamp, grans, track_unique, public=public)


def count(
    counter: str,
    id: Any = None,
    by: float = 1,
    when: Any = None,
    *,
    granularities: Sequence[str] | None = None,
    public: bool = False,
) -> PendingWrite:
    """A validated counter increment, its time fixed now."""
    pp = get_analytics()
    row = pp.check_count(counter, id, by, when)
    grans = None if granularities is None else tuple(granularities)
    return PendingWrite("count", row, grans, token=uuid.uuid4().hex, public=public)


def prepare(pp: Analytics, writes: Sequence[PendingWrite]) -> list[Prepared | None]:
    """The engine's prepared writes for ``writes``, grouped by kind and options."""
    groups: dict[tuple[str, tuple[str, ...] | None, bool], list[PendingWrite]] = defaultdict(list)
    for write in writes:
        groups[(write.kind, write.granularities, write.track_unique)].append(write)
    prepared: list[Prepared | None] = []
    for (kind, grans, unique), group in groups.items():
        rows = [write.row for write in group]
        if kind == "count":
            prepared.append(
                pp.prepare_counts(
                    rows,
                    granularities=grans,
                    tokens=[write.token or uuid.uuid4().hex for write in group],
                    token_ttl=porpoise_settings.IDEMPOTENCY_TTL,
                )
            )
        else:
            prepared.append(
                pp.prepare_marks(
                    rows,
                    granularities=grans,
                    track_unique=unique,
                    value=0 if kind == "unmark" else 1,
                )
            )
    return prepared


def submit(writes: list[PendingWrite]) -> None:
    """Send ``writes`` in one round trip; raises what Redis raises, what the engine
    raises for a write it refuses (``ValueError``), or
    :class:`~.outage.EngineUnavailable` if the engine cannot be built."""
    try:
        pp = get_analytics()
    except Exception as exc:  # e.g. no cluster node reachable while building the client
        raise EngineUnavailable(f"{type(exc).__name__}: {exc}") from exc
    pp.submit(prepare(pp, writes))


def written_for(write: PendingWrite) -> tuple[Any, float]:
    """The id (or counter member) a write is for, and when it was made."""
    row = write.row
    return row[1], float(row[3] if write.kind == "count" else row[2])


def submit_replayed(writes: list[PendingWrite]) -> None:
    """:func:`submit` for writes replayed from a spool: those for an id that was
    forgotten (``Analytics.forget``) after they were made are dropped, never sent
    (the tombstone check is one round trip more per replayed batch)."""
    try:
        pp = get_analytics()
    except Exception as exc:
        raise EngineUnavailable(f"{type(exc).__name__}: {exc}") from exc
    made = [written_for(w) for w in writes]
    forgotten = pp.forgotten_at([external for external, _ in made])
    if forgotten:
        writes = [
            w
            for w, (external, at) in zip(writes, made, strict=True)
            if external is None or at >= forgotten.get(str(external), float("-inf"))
        ]
    if writes:
        submit(writes)
