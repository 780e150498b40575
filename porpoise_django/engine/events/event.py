"""A handle on one event name: its bitmaps per period, series and unions over ranges."""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

from porpoise_django.engine.events.bitmaps import (
    Bitmap,
    EventBitmap,
    counts_by,
    counts_over,
    union,
)
from porpoise_django.engine.time.periods import Period, PeriodRange, When, check_granularity

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store


class Event(EventBitmap):
    """Event ``name`` with no period yet.

    Pick a period with :meth:`at` or the shortcuts (offsets count buckets from
    the current one), or use it unbound inside an expression template::

        active = pp.event("active")
        len(active.day())                      # today
        active.week(-1)                        # last ISO week
        active.counts(pp.range("day", -29))    # 30-day series, one round trip
        active.union(pp.range("day", -6))      # active in the last 7 days
        (pp.event("login") & pp.event("song:played")).bind(pp.period("day"))
    """

    def __init__(self, store: Store, name: str) -> None:
        super().__init__(store, name, None)

    def at(self, granularity: str, when: int | When = None) -> EventBitmap:
        """The bitmap of this event for the ``granularity`` bucket holding ``when``.

        Raises :class:`InvalidGranularity` if ``granularity`` is not tracked.
        """
        self.store.check_tracked(check_granularity(granularity))
        return EventBitmap(self.store, self.name, self.store.period(granularity, when))

    def hour(self, when: int | When = None) -> EventBitmap:
        return self.at("hour", when)

    def day(self, when: int | When = None) -> EventBitmap:
        return self.at("day", when)

    def week(self, when: int | When = None) -> EventBitmap:
        return self.at("week", when)

    def month(self, when: int | When = None) -> EventBitmap:
        return self.at("month", when)

    def year(self, when: int | When = None) -> EventBitmap:
        return self.at("year", when)

    def over(self, periods: PeriodRange) -> list[EventBitmap]:
        """One bitmap per bucket of ``periods``, oldest first."""
        return [EventBitmap(self.store, self.name, p) for p in periods]

    @overload
    def counts(self, periods: PeriodRange) -> list[tuple[Period, int]]: ...
    @overload
    def counts(
        self, periods: PeriodRange, *, breakdown: str
    ) -> dict[str, list[tuple[Period, int]]]: ...
    def counts(
        self, periods: PeriodRange, *, breakdown: str | None = None
    ) -> list[tuple[Period, int]] | dict[str, list[tuple[Period, int]]]:
        """``(period, count)`` for each bucket, in one round trip; with ``breakdown``,
        such a series per value of that property (``{value: series}``)."""
        if breakdown is not None:
            return counts_by(self, periods, breakdown)
        return counts_over(self, periods)

    def union(self, periods: PeriodRange) -> Bitmap:
        """Ids that did the event in any bucket of ``periods`` (one set)."""
        return union(self.over(periods))
