"""Lifecycle of an event's users per period (stickiness: :mod:`.stickiness`).

Lifecycle (PostHog's definitions), per period ``t`` of an event:

- **new**: did it in ``t`` for the first time ever;
- **returning**: did it in ``t`` and in ``t - 1``;
- **resurrecting**: did it in ``t``, not in ``t - 1``, but at some time before;
- **dormant**: did it in ``t - 1`` but not in ``t`` (a loss, reported negative).

Decisions (hailwhale's ``decide``) live in :mod:`.decisions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from porpoise_django.engine.analyses.cohorts import history_before, history_start
from porpoise_django.engine.events.bitmaps import Bitmap
from porpoise_django.engine.events.event import Event
from porpoise_django.engine.names import validate_name
from porpoise_django.engine.time.periods import Period, PeriodRange

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

LIFECYCLE_STATES = ("new", "returning", "resurrecting", "dormant")


@dataclass(frozen=True)
class Lifecycle:
    periods: list[Period]
    new: list[int]
    returning: list[int]
    resurrecting: list[int]
    dormant: list[int]  # negative: users lost

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"period": p.label, "new": n, "returning": r, "resurrecting": s, "dormant": d}
            for p, n, r, s, d in zip(
                self.periods, self.new, self.returning, self.resurrecting, self.dormant, strict=True
            )
        ]


def lifecycle(pp: Store, event: str | Bitmap, periods: PeriodRange) -> Lifecycle:
    """New / returning / resurrecting / dormant users per bucket of ``periods``, one round trip."""
    pp.check_tracked(periods.granularity)
    template = Event(pp, validate_name(event)) if isinstance(event, str) else event
    buckets = periods.periods()
    begin = history_start(pp, template, buckets[0].prev())
    bitmaps: list[Bitmap] = []
    slots: list[list[int | None]] = []  # per period: index in bitmaps per state
    for period in buckets:
        now_set = template.bind(period)
        before = template.bind(period.prev())
        history = history_before(pp, template, begin, period)
        states: list[Bitmap | None] = [
            now_set if history is None else now_set - history,  # new
            now_set & before,  # returning
            None if history is None else (now_set & history) - before,  # resurrecting
            before - now_set,  # dormant
        ]
        row: list[int | None] = []
        for state in states:
            row.append(None if state is None else len(bitmaps))
            if state is not None:
                bitmaps.append(state)
        slots.append(row)
    counts = pp.count_bitmaps(bitmaps)
    columns = [[0 if i is None else counts[i] for i in (row[s] for row in slots)] for s in range(4)]
    return Lifecycle(
        periods=buckets,
        new=columns[0],
        returning=columns[1],
        resurrecting=columns[2],
        dormant=[-v for v in columns[3]],
    )
