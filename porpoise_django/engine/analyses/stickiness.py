"""Stickiness: of the users who did an event in a week or month, how many did
it on exactly (and on at least) ``n`` of its days.

>>> pp.mark_many([("active", 1), ("active", 2)])
2
>>> pp.mark("active", 1, pp.now() - dt.timedelta(days=1))
>>> s = stickiness(pp, "active", pp.period("week"))
>>> s.exactly[:3], s.at_least[:3]
([1, 1, 0], [2, 1, 0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from porpoise_django.engine.errors import InvalidGranularity
from porpoise_django.engine.events.bitmaps import Bitmap
from porpoise_django.engine.events.event import Event
from porpoise_django.engine.names import validate_name
from porpoise_django.engine.time.periods import Period

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store


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


def days_of(pp: Store, period: Period) -> list[Period]:
    """The days of ``period`` (a week or month) that stickiness counts."""
    if not isinstance(period, Period) or period.granularity not in ("week", "month"):
        raise InvalidGranularity("stickiness is per week or month; allowed: week, month")
    if "day" not in pp.granularities:
        raise InvalidGranularity("stickiness counts days: track 'day' (GRANULARITIES)")
    days = []
    day = pp.period("day", period.start)
    while day.start < period.period_end():
        days.append(day)
        day = day.next()
    return days


def stickiness(pp: Store, event: str | Bitmap, period: Period) -> Stickiness:
    """Of the users who did ``event`` in ``period`` (a week or month), how many did it on
    exactly / at least n of its days. Day bitmaps are fetched in one round trip and
    summed per user with numpy."""
    days = days_of(pp, period)
    template = event if isinstance(event, Bitmap) else Event(pp, validate_name(event))
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
