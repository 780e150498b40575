"""Memory report: bytes per user of each event's bitmaps.

>>> pp.mark_many([("active", i) for i in range(1000)])
1000
>>> day = memory_report(pp.client, pp.policy, pp.registry, ["active"])[1]
>>> day["granularity"], day["period"], day["users"], day["bytes_per_user"] < 1
('day', '2026-11-25', 1000, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from porpoise_django.engine.storage.policy import Policy
from porpoise_django.engine.storage.registry import Registry
from porpoise_django.engine.storage.scripts import run_pipeline
from porpoise_django.engine.time.periods import Period, When


def memory_report(
    client: Any,
    policy: Policy,
    registry: Registry,
    names: Sequence[str] | None = None,
    when: When = None,
) -> list[dict[str, Any]]:
    """Rows (event, granularity, period, users, bytes, bytes_per_user) for the
    periods holding ``when`` of every tracked granularity, in one round trip:
    ``MEMORY USAGE`` and ``BITCOUNT`` of every chunk's key."""
    periods = [policy.period(g, when) for g in policy.granularities]  # validates ``when``
    events = list(names) if names is not None else registry.event_names()
    chunks = registry.chunks()
    keys = registry.keys
    plan = [
        (name, period, keys.event(policy.name(name), period, chunk))
        for name in events
        for period in periods
        for chunk in chunks
    ]

    def build(pipe: Any) -> None:
        for _, _, key in plan:
            pipe.memory_usage(key)
            pipe.bitcount(key)

    replies = run_pipeline(client, build, ()) if plan else []
    totals: dict[tuple[str, Period], list[int]] = {}
    for i, (name, period, _) in enumerate(plan):
        used, users = replies[2 * i] or 0, replies[2 * i + 1] or 0
        entry = totals.setdefault((name, period), [0, 0])
        entry[0] += int(used)
        entry[1] += int(users)
    return [
        {
            "event": name,
            "granularity": period.granularity,
            "period": period.label,
            "users": users,
            "bytes": used,
            "bytes_per_user": used / users if users else None,
        }
        for (name, period), (used, users) in totals.items()
    ]
