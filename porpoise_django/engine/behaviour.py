"""Analyses the peers lack: lifecycle and stickiness.

Lifecycle (PostHog's definitions), per period ``t`` of an event:

- **new**: did it in ``t`` for the first time ever;
- **returning**: did it in ``t`` and in ``t - 1``;
- **resurrecting**: did it in ``t``, not in ``t - 1``, but at some time before;
- **dormant**: did it in ``t - 1`` but not in ``t`` (a loss, reported negative).

Stickiness: of the users who did an event in a week or month, how many did
it on exactly (and on at least) ``n`` of its days.

Decisions (hailwhale's ``decide``) live in :mod:`.decisions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .bitmaps import Bitmap
from .cohorts import history_before, history_start
from .errors import InvalidGranularity
from .events import Event
from .names import validate_name
from .periods import Period, PeriodRange

if TYPE_CHECKING:
    from .store import Store

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


@dataclass(frozen=True)
class Stickiness:
    period: Period
    days: int
    exactly: list[int]  # exactly[k - 1]: users active on exactly k days

    @property
    def at_least(self) -> list[int]:
        """``at_least[k - 1]``: users active on k days or more."""
        return [int(v) for v in np.cumsum(self.exactly[::-1])[::-1]]

    @property
    def users(self) -> int:
        return sum(self.exactly)


def stickiness(pp: Store, event: str, period: Period) -> Stickiness:
    """Of the users who did ``event`` in ``period`` (a week or month), how many did it on
    exactly / at least n of its days. Day bitmaps are fetched in one round trip and
    summed per user with numpy."""
    if period.granularity not in ("week", "month"):
        raise InvalidGranularity("stickiness is per week or month; allowed: week, month")
    if "day" not in pp.granularities:
        raise InvalidGranularity("stickiness counts days: track 'day' (GRANULARITIES)")
    days = []
    day = pp.period("day", period.start)
    while day.start < period.period_end():
        days.append(day)
        day = day.next()
    template = Event(pp, validate_name(event))
    bitmaps = [template.bind(d) for d in days]
    chunks = pp.chunks()
    rows = pp.read_chunks(bitmaps, chunks, lambda pipe, key, _c: pipe.get(key))
    histogram = np.zeros(len(days) + 1, dtype=np.int64)
    for c in range(len(chunks)):
        per_day = [np.frombuffer(rows[d][c] or b"", dtype=np.uint8) for d in range(len(days))]
        width = max((len(a) for a in per_day), default=0)
        if width == 0:
            continue
        totals = np.zeros(width * 8, dtype=np.uint8)
        for array in per_day:
            if len(array):
                totals[: len(array) * 8] += np.unpackbits(array)
        histogram += np.bincount(totals, minlength=len(days) + 1)[: len(days) + 1]
    return Stickiness(period, len(days), [int(v) for v in histogram[1:]])
