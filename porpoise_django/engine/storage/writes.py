"""Prepared writes, and sending several of them in one round trip.

Writers (:mod:`.marks`, :mod:`.counting`) validate a batch and return a
:class:`Prepared`; :func:`submit` queues any number of them on one pipeline,
so a request's marks and counts cost one round trip together.

Example::

    submit(client, [marks.prepare(rows), counting.prepare(counts)])   # 2 rows written
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from porpoise_django.engine.storage.ids import DirectIds, IdMap
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.policy import Policy
from porpoise_django.engine.storage.registry import Registry
from porpoise_django.engine.storage.scripts import (
    COUNT_ONCE,
    SET_BITS,
    run_pipeline,
)

FollowUp = Callable[[Any], None]


@dataclass(frozen=True)
class Prepared:
    """A validated write, ready to be queued on a pipeline.

    ``done`` receives the replies of the commands ``build`` queued, and may
    return a follow-up to send (registry entries the server turned out to lack).
    """

    build: Callable[[Any], None]
    done: Callable[[list[Any]], FollowUp | None]
    rows: int


class StoreWriter:
    """What the mark writer and the bulk importer share: the connection, the key
    layout, the rules, the registry and the id codec of one store."""

    def __init__(
        self,
        client: Any,
        keys: KeyScheme,
        policy: Policy,
        registry: Registry,
        id_codec: DirectIds | IdMap,
    ) -> None:
        self.client = client
        self.keys = keys
        self.policy = policy
        self.registry = registry
        self.id_codec = id_codec


def submit(client: Any, prepared: Sequence[Prepared | None]) -> int:
    """Send several prepared writes in one round trip; returns their rows."""
    parts = [p for p in prepared if p is not None]
    if not parts:
        return 0
    spans: list[tuple[int, int]] = []

    def build(pipe: Any) -> None:
        spans.clear()
        for part in parts:
            start = len(pipe)
            part.build(pipe)
            spans.append((start, len(pipe)))

    results = run_pipeline(client, build, (SET_BITS, COUNT_ONCE))
    follow_ups = [
        follow
        for part, (start, end) in zip(parts, spans, strict=True)
        if (follow := part.done(results[start:end])) is not None
    ]
    if follow_ups:
        # Rare: the first write after a purge or an empty restart elsewhere.
        def send(pipe: Any) -> None:
            for follow in follow_ups:
                follow(pipe)

        run_pipeline(client, send, ())
    return sum(part.rows for part in parts)
