"""The periods holding each 15-minute slot of time, numbered and cached.

Every real UTC offset is a multiple of 15 minutes, so all instants of a slot
share their hour, day, week, month and year. Writers group a batch by slot
number: the 96 slots of a day share one number (unless hours are tracked), so
a batch of marks has one group per event, chunk and distinct set of buckets.

>>> from zoneinfo import ZoneInfo
>>> slots = SlotPeriods(ZoneInfo("Europe/Paris"))
>>> ts = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC).timestamp()
>>> number = slots.number(int(ts // 900), ("day", "week"))
>>> slots.periods(number)
(Period('day', '2026-11-25'), Period('week', '2026-W48'))
"""

from __future__ import annotations

import datetime as dt

from porpoise_django.engine.time.periods import UTC, Period, period_of

#: Sets of periods remembered before the cache starts again (years of slots).
_MAX_SETS = 100_000


class SlotPeriods:
    """Numbers the distinct tuples of periods that 15-minute slots fall in."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self._numbers: dict[tuple[int, tuple[str, ...]], int] = {}
        self._sets: list[tuple[Period, ...]] = []
        self._set_numbers: dict[tuple[Period, ...], int] = {}

    def number(self, slot: int, granularities: tuple[str, ...]) -> int:
        """Number of the tuple of periods holding 15-minute ``slot`` (epoch seconds // 900)."""
        cache_key = (slot, granularities)
        number = self._numbers.get(cache_key)
        if number is None:
            moment = dt.datetime.fromtimestamp(slot * 900, UTC)
            periods = tuple(period_of(g, moment, self.tz) for g in granularities)
            number = self._set_numbers.get(periods)
            if number is None:
                self._sets.append(periods)
                number = self._set_numbers[periods] = len(self._sets) - 1
            self._numbers[cache_key] = number
        return number

    def periods(self, number: int) -> tuple[Period, ...]:
        """The periods of set ``number``."""
        return self._sets[number]

    def trim(self) -> None:
        """Start again if the cache grew past its bound; call between batches only
        (numbers handed out before are invalid afterwards)."""
        if len(self._sets) > _MAX_SETS:
            self._numbers.clear()
            self._sets.clear()
            self._set_numbers.clear()
