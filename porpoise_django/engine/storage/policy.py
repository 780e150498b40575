"""What a store accepts: tracked granularities, the write window, retention, names.

One :class:`Policy` per store holds its validated options and answers every
"may this be written or read?" question, so the writers (marks, counts, bulk
import) and the readers share one set of rules and one set of messages.

>>> policy = Policy(granularities=("day",), tz="Europe/Paris")
>>> policy.check_tracked("day")
'day'
>>> policy.check_tracked("hour")
Traceback (most recent call last):
...
porpoise_django.engine.errors.InvalidGranularity: hour is not tracked for events; ...
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from porpoise_django.engine.errors import InvalidGranularity, InvalidTime
from porpoise_django.engine.names import validate_event_name
from porpoise_django.engine.time.period_strings import parse_period
from porpoise_django.engine.time.periods import (
    EVENT_GRANULARITIES,
    LATEST_READ,
    UTC,
    Period,
    PeriodRange,
    When,
    check_granularity,
    get_timezone,
    period_of,
    period_range,
    require_aware,
)
from porpoise_django.engine.values import int_in, plain

#: Granularities tracked when nothing else is configured (bitmapist's defaults).
DEFAULT_GRANULARITIES = ("day", "week", "month")
#: Counter granularities when nothing else is configured.
DEFAULT_COUNTER_GRANULARITIES = ("hour", "day", "week", "month")
#: The largest absolute increment unless configured: far above any real
#: count or amount, far below where float sums lose whole units (2**53).
DEFAULT_MAX_INCREMENT = 1e12
#: Names validated lately; a bounded set (names come from callers).
_NAMES_REMEMBERED = 100_000


class Policy:
    """The validated options of a store and the checks derived from them.

    The options are those of :class:`~.analytics.Analytics` of the same name.
    """

    def __init__(
        self,
        *,
        granularities: Sequence[str] = DEFAULT_GRANULARITIES,
        counter_granularities: Sequence[str] = DEFAULT_COUNTER_GRANULARITIES,
        tz: str | dt.tzinfo = "UTC",
        retention: Mapping[str, int] | None = None,
        temp_ttl: int = 300,
        max_range_buckets: int = 10_000,
        clock: Callable[[], dt.datetime] | None = None,
        max_future_seconds: float = 86_400,
        max_increment: float = DEFAULT_MAX_INCREMENT,
    ) -> None:
        self.granularities = self.check_granularities(granularities)
        self.counter_granularities = tuple(check_granularity(g) for g in counter_granularities)
        self.tz = get_timezone(tz)
        self.retention: dict[str, int] = {}
        for granularity, seconds in (retention or {}).items():
            check_granularity(granularity)
            if not int_in(seconds, 1):
                raise ValueError(f"retention for {granularity} must be a positive int of seconds")
            self.retention[granularity] = seconds
        if not int_in(temp_ttl, 1):
            raise ValueError("temp_ttl must be a positive number of seconds")
        self.temp_ttl = temp_ttl
        for option, value in (
            ("max_future_seconds", max_future_seconds),
            ("max_increment", max_increment),
        ):
            if not plain(value, int, float) or not value > 0:
                raise ValueError(f"{option} must be a positive number, got {value!r}")
        self.max_future_seconds = max_future_seconds
        self.max_increment = max_increment
        self.max_range_buckets = max_range_buckets
        self.clock: Callable[[], dt.datetime] = clock or (lambda: dt.datetime.now(UTC))
        self._names_seen: set[str] = set()

    # -- names and granularities -----------------------------------------------------
    def name(self, name: object) -> str:
        """``name`` if it is a valid event name (checked once per process), else raise."""
        if isinstance(name, str) and name in self._names_seen:
            return name
        checked = validate_event_name(name)
        if len(self._names_seen) >= _NAMES_REMEMBERED:
            self._names_seen.clear()
        self._names_seen.add(checked)
        return checked

    @staticmethod
    def check_granularities(granularities: Iterable[str]) -> tuple[str, ...]:
        """Event granularities, checked; at least one."""
        if isinstance(granularities, str):
            granularities = (granularities,)
        checked = tuple(check_granularity(g, EVENT_GRANULARITIES) for g in granularities)
        if not checked:
            raise ValueError(
                f"track at least one granularity among {', '.join(EVENT_GRANULARITIES)}"
            )
        return checked

    def check_tracked(self, granularity: str, kind: str = "events") -> str:
        """``granularity`` if this store tracks it for ``kind`` (``events``, or
        ``counters`` and ``metrics``, which share the counter granularities),
        else :class:`InvalidGranularity` naming what is tracked: an untracked
        bucket was never written, and reading it as empty would lie.
        """
        tracked = self.granularities if kind == "events" else self.counter_granularities
        if granularity not in tracked:
            option = "granularities" if kind == "events" else "counter_granularities"
            raise InvalidGranularity(
                f"{granularity} is not tracked for {kind}; tracked: {', '.join(tracked)} "
                f"(add it to {option} to track it)"
            )
        return granularity

    def event_granularities(self, granularities: Iterable[str] | None) -> tuple[str, ...]:
        """Granularities a mark may use: the tracked ones (None), or some of them."""
        if granularities is None:
            return self.granularities
        return tuple(self.check_tracked(g) for g in self.check_granularities(granularities))

    def count_granularities(self, granularities: Iterable[str] | None) -> tuple[str, ...]:
        """Granularities a counter increment may use: the tracked ones (None), or some."""
        if granularities is None:
            return self.counter_granularities
        return tuple(self.check_tracked(check_granularity(g), "counters") for g in granularities)

    # -- time ------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """The current time from the configured clock, in the configured time zone."""
        return self.clock().astimezone(self.tz)

    def period(self, granularity: str, when: int | When = None) -> Period:
        """The bucket holding ``when``: an aware datetime, a date, or an offset (0 = current)."""
        if isinstance(when, bool):
            raise InvalidTime("when must be an offset, an aware datetime or a date, not a bool")
        if isinstance(when, int):
            return self.range(granularity, when, when).first
        return period_of(granularity, when, self.tz, self.clock())

    def range(self, granularity: str, start: int | When, end: int | When = 0) -> PeriodRange:
        """Buckets from ``start`` to ``end`` inclusive (offsets or absolute times)."""
        return period_range(
            granularity,
            start,
            end,
            tz=self.tz,
            now=self.clock(),
            max_buckets=self.max_range_buckets,
        )

    def period_string(self, text: str) -> PeriodRange:
        """``today``, ``24h``, ``mtd``, ``1d:1mo``, ``2026-01-01:2026-01-31``... as a range."""
        return parse_period(text, tz=self.tz, now=self.clock(), max_buckets=self.max_range_buckets)

    def stamp(self, when: object, *, writing: bool = True, now: float | None = None) -> float:
        """Epoch seconds of a time: ``None`` is now, a date its local midnight.

        A time to write must lie in the write window: from 1970-01-01 UTC to
        now plus ``max_future_seconds`` (a clock a little ahead is fine; 1e15,
        milliseconds by mistake, is not). Reads accept 1970 to 9998. Batches
        pass ``now`` (epoch seconds) so the clock is read once per batch.
        """
        if when is None:
            return self.clock().timestamp() if now is None else now
        try:
            if plain(when, int, float):
                if not math.isfinite(when):
                    raise InvalidTime("a timestamp must be finite")
                ts = float(when)
            elif isinstance(when, dt.datetime):
                # timestamp() of an aware datetime does not depend on its zone.
                ts = require_aware(when).timestamp()
            elif isinstance(when, dt.date):
                ts = period_of("day", when, self.tz).start.timestamp()
            else:
                raise InvalidTime(
                    "expected an aware datetime, a date, epoch seconds or None, "
                    f"got {type(when).__name__}"
                )
        except OverflowError:
            raise InvalidTime(f"time {when!r} is out of range") from None
        self.check_window(ts, writing=writing, now=now)
        return ts

    def latest_write(self, now: float | None = None) -> float:
        """The last epoch second a write may carry: now plus ``max_future_seconds``."""
        return (self.clock().timestamp() if now is None else now) + self.max_future_seconds

    def check_window(self, ts: float, *, writing: bool = True, now: float | None = None) -> None:
        """Raise :class:`InvalidTime` unless epoch seconds ``ts`` may be written (or read)."""
        latest = self.latest_write(now) if writing else LATEST_READ
        if not 0 <= ts <= latest:
            what = "written" if writing else "read"
            limit = (
                f"now + {self.max_future_seconds} s (max_future_seconds)"
                if writing
                else "9998-12-31"
            )
            raise InvalidTime(
                f"time {ts:.15g}{_as_date(ts)} cannot be {what}: times run from 1970-01-01 "
                f"(epoch 0) to {limit}, in seconds (not milliseconds)"
            )

    # -- retention ---------------------------------------------------------------------
    def writable(
        self, periods: Iterable[Period], now_ts: float
    ) -> list[tuple[Period, float | None]]:
        """Periods with their expiry time, dropping those already past their retention."""
        kept: list[tuple[Period, float | None]] = []
        for period in periods:
            seconds = self.retention.get(period.granularity)
            if seconds is None:
                kept.append((period, None))
                continue
            expire_at = period.period_end().timestamp() + seconds
            if expire_at > now_ts:
                kept.append((period, expire_at))
        return kept


def _as_date(ts: float) -> str:
    """`` (0001-01-01T00:00:00Z)``: the instant epoch seconds ``ts`` names, if any."""
    try:
        when = dt.datetime.fromtimestamp(ts, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return ""
    return f" ({when.isoformat(timespec='seconds').replace('+00:00', 'Z')})"
