"""hailwhale's ``Hail``: counts queued now and applied later (``dump_now``), so
that a request never waits for the counting.

The queue is a Redis list under the store's prefix; each entry is checked when
it is queued (a bad primary key, dimension or metric fails at once, not when
the queue is flushed), and ``dump_now`` takes entries off the queue only as
it applies them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from porpoise_django.compat.hailwhale.whale import (
    Whale,
    dimensions_of,
    increments_of,
    names_of,
)
from porpoise_django.engine import check_metric_name, dimension_paths, validate_name

#: Entries applied per round trip by ``dump_now``.
BATCH = 500


class Hail:
    """``Hail.count(pk, dimensions, metrics, at)`` queues; ``Hail.dump_now()`` counts."""

    @classmethod
    def _queue(cls) -> str:
        return f"{Whale.store().keys.prefix}:hw:hail"

    @classmethod
    def count(cls, pk: Any, dimensions: Any = "_", metrics: Any = None, at: Any = False) -> str:
        """Queue a count for ``Whale.count_now``; answers ``"OK"`` as hailwhale."""
        names = names_of(pk)
        for name in names:
            validate_name(name, what="metric name")
        values = increments_of(metrics)
        for metric in values:
            check_metric_name(metric)
        dims = dimensions_of(dimensions)
        dimension_paths(dims)
        when = at.timestamp() if isinstance(at, dt.datetime) else at or None
        entry = json.dumps([names[-1].split("/"), dims, values, when])
        Whale.store().client.rpush(cls._queue(), entry)
        return "OK"

    @classmethod
    def count_decided(cls, pk_base: Any, decision: Any, option: Any, **kwargs: Any) -> str:
        base = pk_base if isinstance(pk_base, list) else [pk_base]
        return cls.count([*base, decision, option], **kwargs)

    @classmethod
    def pending(cls) -> int:
        return int(Whale.store().client.llen(cls._queue()))

    @classmethod
    def dump_now(cls) -> int:
        """Apply every queued count; returns how many were applied."""
        client = Whale.store().client
        done = 0
        while True:
            entries = client.lrange(cls._queue(), 0, BATCH - 1)
            if not entries:
                return done
            for raw in entries:
                pk, dims, values, when = json.loads(raw)
                at = dt.datetime.fromtimestamp(when, dt.UTC) if when else None
                Whale.count_now(pk, dims, values, at)
            client.ltrim(cls._queue(), len(entries), -1)
            done += len(entries)
