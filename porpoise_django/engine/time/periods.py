"""Time buckets (periods) and ranges of them, computed in an explicit time zone.

A :class:`Period` is one bucket of one granularity: the hour 2026-11-22 13:00,
the day 2026-11-22, ISO week 2026-W47, the month 2026-11, the year 2026. Its
``key`` is the suffix used in Redis keys. Buckets are local to the configured
time zone and DST-correct: a local day may last 23 or 25 hours, and the hour
repeated when clocks go back gets a bucket of its own (key suffix ``b``).

>>> from zoneinfo import ZoneInfo
>>> from datetime import datetime
>>> p = period_of("week", datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("UTC")), ZoneInfo("UTC"))
>>> p.key, p.label
('2026W01', '2026-W01')
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache, total_ordering
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from porpoise_django.engine.errors import InvalidGranularity, InvalidTime

UTC = dt.UTC

#: Granularities from finest to coarsest, with the short code used in keys.
GRANULARITY_CODES: dict[str, str] = {
    "minute": "mi",
    "hour": "h",
    "day": "d",
    "week": "w",
    "month": "m",
    "year": "y",
}
GRANULARITIES: tuple[str, ...] = tuple(GRANULARITY_CODES)
#: Granularities that events (bitmaps) may track.
EVENT_GRANULARITIES: tuple[str, ...] = ("hour", "day", "week", "month", "year")
_SUB_DAY = {"minute": 60, "hour": 3600}
#: Buckets are computed for years 1970 to 9998: nothing can be written before
#: 1970, and the end leaves room for a year's arithmetic before datetime's 9999.
EARLIEST_YEAR, LATEST_YEAR = 1970, 9998
#: The latest instant a read may name (epoch seconds of 9998-12-31).
LATEST_READ = dt.datetime(LATEST_YEAR, 12, 31, tzinfo=dt.UTC).timestamp()

When = dt.datetime | dt.date | None


def check_granularity(granularity: object, allowed: Sequence[str] = GRANULARITIES) -> str:
    """Return ``granularity`` if it is one of ``allowed``, else raise with the allowed values."""
    if not isinstance(granularity, str) or granularity not in allowed:
        raise InvalidGranularity(
            f"unknown granularity {granularity!r}; allowed: {', '.join(allowed)}"
        )
    return granularity


def get_timezone(tz: object) -> dt.tzinfo:
    """Turn a time zone name (``"Europe/Paris"``) or tzinfo into a tzinfo."""
    if isinstance(tz, dt.tzinfo):
        return tz
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        # OSError: with tzdata installed, "America" is a folder of its zones and a
        # 10,000-character name is too long for a file name.
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise InvalidTime(f"unknown time zone {tz!r}: use an IANA name such as 'UTC'") from exc
    raise InvalidTime(f"time zone must be an IANA name or a tzinfo, got {type(tz).__name__}")


def require_aware(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        raise InvalidTime(
            f"naive datetime {when.isoformat()} is ambiguous: pass an aware datetime "
            "(e.g. django.utils.timezone.now() or datetime.now(tz=...)) or a date"
        )
    return when


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    # A round trip through UTC turns a non-existent local midnight (DST starting
    # at 00:00 in some zones) into the real first instant of that day.
    naive = dt.datetime.combine(day, dt.time())
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def _offset_at(tz: dt.tzinfo, instant: float) -> dt.timedelta | None:
    return dt.datetime.fromtimestamp(instant, UTC).astimezone(tz).utcoffset()


def _offset_began(tz: dt.tzinfo, offset: dt.timedelta | None, low: int, high: int) -> int:
    """The first whole second in ``(low, high]`` at ``offset``, given ``low`` is not
    and ``high`` is (zones change offset on whole seconds)."""
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(tz, middle) == offset:
            high = middle
        else:
            low = middle
    return high


def _sub_day_start(unit: int, local: dt.datetime) -> dt.datetime:
    """Start of the minute or hour bucket holding ``local``.

    A bucket is a run of real time in which the wall clock shows the same hour
    (minute) at the same UTC offset. It usually starts on the hour; when the
    offset changed within the hour (Australia/Lord_Howe moves by 30 minutes,
    some zones change at :30), it starts at the change. Computed from the
    instant, never by truncating the wall clock: ``01:40`` of the second pass
    of a half-hour fall-back truncates to ``01:00``, which is not ambiguous, so
    a ``fold=1`` kept on it named the first pass's hour and the bucket lasted 0 s.
    """
    tz = local.tzinfo
    assert tz is not None
    offset = local.utcoffset()
    assert offset is not None
    instant = local.timestamp()
    wall = instant + offset.total_seconds()
    start = instant - wall % unit
    if _offset_at(tz, start) != offset:
        start = _offset_began(tz, offset, math.floor(start), math.floor(instant))
    return dt.datetime.fromtimestamp(start, UTC).astimezone(tz)


def _sub_day_end(unit: int, start: dt.datetime) -> dt.datetime:
    """First instant after the minute or hour bucket that begins at ``start``."""
    tz = start.tzinfo
    assert tz is not None
    offset = start.utcoffset()
    assert offset is not None
    begin = start.timestamp()
    end = begin - (begin + offset.total_seconds()) % unit + unit
    if _offset_at(tz, end - 1) != offset:
        # The offset changes before the wall clock's next hour: the bucket ends there.
        end = _offset_began_after(tz, offset, math.floor(begin), math.floor(end - 1))
    return dt.datetime.fromtimestamp(end, UTC).astimezone(tz)


def _offset_began_after(tz: dt.tzinfo, offset: dt.timedelta, low: int, high: int) -> int:
    """The first whole second in ``(low, high]`` not at ``offset``, given ``low`` is."""
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(tz, middle) != offset:
            high = middle
        else:
            low = middle
    return high


def _truncate(granularity: str, local: dt.datetime) -> dt.datetime:
    """Start of the bucket holding the aware local datetime ``local``."""
    tz = local.tzinfo
    assert tz is not None
    if granularity in _SUB_DAY:
        return _sub_day_start(_SUB_DAY[granularity], local)
    day = local.date()
    if granularity == "week":
        day -= dt.timedelta(days=day.weekday())
    elif granularity == "month":
        day = day.replace(day=1)
    elif granularity == "year":
        day = day.replace(month=1, day=1)
    return _local_midnight(day, tz)


#: Per granularity, the format of its key suffix and of its label (ISO weeks
#: are formatted from the ISO calendar, the others with strftime).
_FORMATS = {
    "minute": ("%Y%m%d%H%M", "%Y-%m-%d %H:%M"),
    "hour": ("%Y%m%d%H", "%Y-%m-%d %H:00"),
    "day": ("%Y%m%d", "%Y-%m-%d"),
    "week": ("{year}W{week:02d}", "{year}-W{week:02d}"),
    "month": ("%Y%m", "%Y-%m"),
    "year": ("%Y", "%Y"),
}


@total_ordering
@dataclass(frozen=True, eq=False)
class Period:
    """One time bucket: a granularity and the aware local datetime where it starts."""

    granularity: str
    start: dt.datetime

    # -- identity ------------------------------------------------------------
    @property
    def code(self) -> str:
        """Short code of the granularity used in keys (``d`` for day...)."""
        return GRANULARITY_CODES[self.granularity]

    @cached_property
    def key(self) -> str:
        """Bucket suffix used in Redis keys, e.g. ``20261122`` or ``2026W47``."""
        return self._format(0)

    @property
    def member(self) -> str:
        """``code:key`` (``d:20261122``): the bucket as the last parts of its keys."""
        return f"{self.code}:{self.key}"

    @cached_property
    def label(self) -> str:
        """Human label: ``2026-11-22``, ``2026-W47`` (ISO week), ``2026-11``..."""
        return self._format(1)

    def _format(self, which: int) -> str:
        """The key (``which=0``) or the label (1) from :data:`_FORMATS`."""
        fmt = _FORMATS[self.granularity][which]
        if self.granularity == "week":
            year, week, _ = self.start.date().isocalendar()
            return fmt.format(year=year, week=week)
        text = self.start.strftime(fmt)
        if self.start.fold and self.granularity in _SUB_DAY:
            # The hour repeated when clocks go back is a different real hour.
            text += ("b", " (2nd)")[which]
        return text

    @cached_property
    def _ident(self) -> tuple[str, float]:
        return (self.granularity, self.start.timestamp())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._ident == other._ident

    def __lt__(self, other: Period) -> bool:
        return self._ident < other._ident

    def __hash__(self) -> int:
        return hash(self._ident)

    def __repr__(self) -> str:
        return f"Period({self.granularity!r}, {self.label!r})"

    # -- navigation ----------------------------------------------------------
    def delta(self, steps: int) -> Period:
        """The bucket ``steps`` buckets later (negative: earlier).

        Raises :class:`InvalidTime` past the years 1970 to 9998.
        """
        if steps == 0:
            return self
        try:
            moved = self._moved(steps)
        except (OverflowError, ValueError):
            moved = None
        if moved is None or not EARLIEST_YEAR - 1 <= moved.start.year <= LATEST_YEAR + 1:
            raise InvalidTime(
                f"{steps} {self.granularity}s from {self.label} is out of range: times run "
                f"from {EARLIEST_YEAR} to {LATEST_YEAR}"
            )
        return moved

    def _moved(self, steps: int) -> Period:
        tz = self.start.tzinfo
        assert tz is not None
        g = self.granularity
        if g in _SUB_DAY:
            return self._moved_sub_day(steps)
        day = self.start.date()
        if g == "day":
            return Period(g, _local_midnight(day + dt.timedelta(days=steps), tz))
        if g == "week":
            return Period(g, _local_midnight(day + dt.timedelta(weeks=steps), tz))
        if g == "month":
            index = day.year * 12 + (day.month - 1) + steps
            return Period(g, _local_midnight(dt.date(index // 12, index % 12 + 1, 1), tz))
        return Period(g, _local_midnight(dt.date(day.year + steps, 1, 1), tz))

    def _adjacent(self, step: int) -> Period:
        """The minute or hour bucket just after (``step=1``) or before (-1) this one."""
        unit = _SUB_DAY[self.granularity]
        if step > 0:
            return Period(self.granularity, _sub_day_end(unit, self.start))
        tz = self.start.tzinfo
        before = dt.datetime.fromtimestamp(self.start.timestamp() - 1, UTC).astimezone(tz)
        return Period(self.granularity, _sub_day_start(unit, before))

    def _moved_sub_day(self, steps: int) -> Period:
        """Hours and minutes are counted, not measured: a bucket lasts less than
        its unit where a zone changes offset off the hour (30 minutes on
        Lord Howe), so a jump in real time is corrected by the exact count."""
        if abs(steps) == 1:
            return self._adjacent(steps)
        g, tz = self.granularity, self.start.tzinfo
        instant = self.start.timestamp() + _SUB_DAY[g] * steps
        moved = Period(g, _truncate(g, dt.datetime.fromtimestamp(instant, UTC).astimezone(tz)))
        counted = _count_between(self, moved)
        while counted != steps:
            step = 1 if counted < steps else -1
            moved, counted = moved._adjacent(step), counted + step
        return moved

    def next(self) -> Period:
        """The following bucket."""
        return self.delta(1)

    def prev(self) -> Period:
        """The preceding bucket."""
        return self.delta(-1)

    def period_start(self) -> dt.datetime:
        """First instant of the bucket (aware, in the configured time zone)."""
        return self.start

    def period_end(self) -> dt.datetime:
        """First instant after the bucket (exclusive end)."""
        return self.next().start

    def contains(self, when: dt.datetime) -> bool:
        """Whether the aware datetime ``when`` falls in this bucket.

        Instants are compared, not wall-clock times: within one zone Python
        compares datetimes by their wall clock and ignores ``fold``, so the two
        01:30 of an autumn night would both fall in the first 01:00 bucket.
        """
        instant = require_aware(when).timestamp()
        return self.start.timestamp() <= instant < self.period_end().timestamp()


def period_of(
    granularity: str, when: When, tz: dt.tzinfo, now: dt.datetime | None = None
) -> Period:
    """The bucket of ``granularity`` that holds ``when`` (default: now) in ``tz``.

    ``when`` is an aware datetime, or a date (its local midnight); a naive
    datetime raises :class:`InvalidTime`.
    """
    if when is None:
        when = now if now is not None else dt.datetime.now(UTC)
    if not isinstance(granularity, str):
        return _period_of(granularity, when, tz)
    # Dashboards and series ask for the same periods again and again. A
    # datetime is cached by its instant: aware datetimes that differ only by
    # ``fold`` (the repeated autumn hour) hash and compare equal in one zone.
    if isinstance(when, dt.datetime):
        require_aware(when)
        return _cached_period_at(granularity, when.timestamp(), tz)
    if isinstance(when, dt.date):
        return _cached_period_of(granularity, when, tz)
    return _period_of(granularity, when, tz)


@lru_cache(maxsize=4096)
def _cached_period_of(granularity: str, when: dt.date, tz: dt.tzinfo) -> Period:
    return _period_of(granularity, when, tz)


@lru_cache(maxsize=4096)
def _cached_period_at(granularity: str, instant: float, tz: dt.tzinfo) -> Period:
    return _period_of(granularity, dt.datetime.fromtimestamp(instant, UTC), tz)


def _period_of(granularity: str, when: object, tz: dt.tzinfo) -> Period:
    check_granularity(granularity)
    if not isinstance(when, dt.date):
        raise InvalidTime(f"expected an aware datetime or a date, got {type(when).__name__}")
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        raise InvalidTime(
            f"{when.isoformat()} is out of range: times run from {EARLIEST_YEAR} to {LATEST_YEAR}"
        )
    try:
        if isinstance(when, dt.datetime):
            local = require_aware(when).astimezone(tz)
        else:
            local = _local_midnight(when, tz)
        return Period(granularity, _truncate(granularity, local))
    except OverflowError:
        raise InvalidTime(f"{when.isoformat()} is out of range") from None


@dataclass(frozen=True)
class PeriodRange:
    """Consecutive buckets of one granularity, ``first`` to ``last`` inclusive."""

    first: Period
    last: Period
    size: int

    @property
    def granularity(self) -> str:
        return self.first.granularity

    def __iter__(self) -> Iterator[Period]:
        period = self.first
        for _ in range(self.size):
            yield period
            period = period.next()

    def __len__(self) -> int:
        return self.size

    def periods(self) -> list[Period]:
        """The buckets as a list, oldest first."""
        return list(self)


#: Zones change offset at most twice in this many seconds (a week).
_CHANGE_SPACING = 7 * 86400


def _offset_changes(tz: dt.tzinfo, low: int, high: int) -> list[int]:
    """The whole seconds in ``(low, high]`` where ``tz`` takes a new UTC offset."""
    before, after = _offset_at(tz, low), _offset_at(tz, high)
    if before == after and high - low <= _CHANGE_SPACING:
        return []
    if high - low <= 1:
        return [high]
    middle = (low + high) // 2
    return _offset_changes(tz, low, middle) + _offset_changes(tz, middle, high)


@lru_cache(maxsize=4096)
def _sub_day_count(unit: int, low: int, high: int, tz: dt.tzinfo) -> int:
    """How many minute or hour buckets start in ``[low, high)`` (both bucket starts).

    Within a stretch of one UTC offset a bucket starts on each hour of the wall
    clock; each change of offset starts one more wherever it falls.
    """
    bounds = [low, *_offset_changes(tz, low, high), high]
    count = 0
    for start, end in itertools.pairwise(bounds):
        if end <= start:
            continue
        offset = _offset_at(tz, start)
        assert offset is not None
        shift = int(offset.total_seconds())
        count += 1 + (end - 1 + shift) // unit - (start + shift) // unit
    return count


def _count_between(first: Period, last: Period) -> int:
    g = first.granularity
    a, b = first.start, last.start
    if g in _SUB_DAY:
        tz = a.tzinfo
        assert tz is not None
        low, high = int(a.timestamp()), int(b.timestamp())
        if high < low:
            return -_sub_day_count(_SUB_DAY[g], high, low, tz)
        return _sub_day_count(_SUB_DAY[g], low, high, tz)
    if g == "day":
        return (b.date() - a.date()).days
    if g == "week":
        return (b.date() - a.date()).days // 7
    if g == "month":
        return (b.year - a.year) * 12 + b.month - a.month
    return b.year - a.year


def period_range(
    granularity: str,
    start: int | When,
    end: int | When = 0,
    *,
    tz: dt.tzinfo,
    now: dt.datetime | None = None,
    max_buckets: int = 10_000,
) -> PeriodRange:
    """Buckets from ``start`` to ``end``, both inclusive.

    Each bound is an integer offset in buckets from the current one (``0`` is
    the current bucket, ``-1`` the one before) or an absolute aware datetime or
    date. ``period_range("day", -6)`` is the last seven days including today;
    ``period_range("week", -2, -1)`` the two weeks before this one.

    Raises :class:`InvalidTime` for an inverted range or one of more than
    ``max_buckets`` buckets.
    """
    check_granularity(granularity)
    current = period_of(granularity, None, tz, now)

    def resolve(bound: int | When, name: str) -> Period:
        if isinstance(bound, bool):
            raise InvalidTime(f"range {name} must be an int offset, a datetime or a date")
        if isinstance(bound, int):
            if abs(bound) > max_buckets * 2:
                raise InvalidTime(
                    f"range {name} offset {bound} is too far: at most {max_buckets} buckets"
                )
            return current.delta(bound)
        if bound is None:
            return current
        return period_of(granularity, bound, tz, now)

    first = resolve(start, "start")
    last = resolve(end, "end")
    if last < first:
        raise InvalidTime(f"inverted range: start {first.label} is after end {last.label}")
    size = _count_between(first, last) + 1
    if size > max_buckets:
        raise InvalidTime(
            f"range of {size} {granularity} buckets is larger than the cap of {max_buckets}"
        )
    return PeriodRange(first, last, size)


def cover(
    periods: PeriodRange,
    tracked: Sequence[str],
    now: dt.datetime,
    tz: dt.tzinfo | None = None,
) -> list[Period] | None:
    """The fewest tracked buckets that add up to exactly ``periods`` (None if impossible).

    The buckets are those of ``tz`` (the zone the data was written in; by
    default the range's own). A range in another zone is covered where the
    boundaries meet: a day of UTC-05:00 is 24 hourly buckets of a UTC store,
    a day of UTC+05:30 needs minutes.

    The coarsest bucket that starts where the cover has reached and does not
    pass the range's end is taken each time; a bucket may run past the end
    when the range reaches the present, since nothing has been counted after
    now. So "the last 24 hours" is 24 hourly buckets, "yesterday" one daily
    bucket, "mtd" one monthly bucket.

    Positions are instants (epoch seconds): wall-clock datetimes of one zone
    compare equal across the repeated autumn hour, which once made this walk
    stand still.
    """
    order = sorted(tracked, key=GRANULARITIES.index, reverse=True)
    end = periods.last.period_end().timestamp()
    open_ended = end >= now.timestamp()
    position = periods.first.start
    tz = tz or position.tzinfo
    assert tz is not None
    chosen: list[Period] = []
    while position.timestamp() < end:
        for granularity in order:
            candidate = period_of(granularity, position, tz)
            reaches = candidate.period_end()
            if candidate.start.timestamp() == position.timestamp() and (
                reaches.timestamp() <= end or open_ended
            ):
                chosen.append(candidate)
                position = reaches
                break
        else:
            return None
    return chosen


def dense_unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for int64 values; without a
    sort when they span a range no wider than a few times their number (the
    slots of an import: a few thousand over millions of timestamps)."""
    if len(values) == 0:
        return values, np.zeros(0, dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    if high - low > 4 * len(values) + 1024:
        return np.unique(values, return_inverse=True)
    shifted = values - low
    present = np.zeros(high - low + 1, dtype=np.bool_)
    present[shifted] = True
    unique = np.flatnonzero(present)
    position = np.cumsum(present, dtype=np.int64) - 1
    return unique + low, position[shifted]


def bucket_keys(
    granularity: str,
    epoch_seconds: np.ndarray,
    tz: dt.tzinfo,
    *,
    slots: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[list[Period], np.ndarray]:
    """Vectorised bucketing for bulk imports.

    Returns the distinct periods and, for each timestamp, the index of its
    period in that list. One datetime conversion is made per distinct
    15-minute slot (offsets since 1970 are multiples of 15 minutes nearly
    everywhere), so a million timestamps over a month cost about 3,000
    conversions; a slot that a bucket boundary cuts (Africa/Monrovia's
    -00:44:30 until 1972) has each of its timestamps converted. ``slots``:
    ``dense_unique`` of the 15-minute slots, when the caller has them already.
    """
    check_granularity(granularity)
    seconds = epoch_seconds.astype(np.int64)
    slot_seconds = 60 if granularity == "minute" else 900
    if slots is None or slot_seconds != 900:
        slots = dense_unique(np.floor_divide(seconds, slot_seconds))
    unique_slots, slot_index = slots
    periods: list[Period] = []
    position: dict[Period, int] = {}

    def index_of(instant: int) -> int:
        period = period_of(granularity, dt.datetime.fromtimestamp(instant, UTC), tz)
        index = position.get(period)
        if index is None:
            index = position[period] = len(periods)
            periods.append(period)
        return index

    slot_to_period = np.empty(len(unique_slots), dtype=np.int64)
    ends: list[float] = []
    cut: list[int] = []
    # A slot wholly inside the last period found is in it: no conversion.
    inside_from, inside_to, inside = 0.0, -1.0, -1
    for i, slot in enumerate(unique_slots.tolist()):
        begin = slot * slot_seconds
        if inside_from <= begin and begin + slot_seconds <= inside_to:
            slot_to_period[i] = inside
            continue
        index = slot_to_period[i] = index_of(begin)
        if index == len(ends):
            ends.append(periods[index].period_end().timestamp())
        if ends[index] < begin + slot_seconds:
            cut.append(i)
        else:
            inside_from, inside_to, inside = periods[index].start.timestamp(), ends[index], index
    indexes = slot_to_period[slot_index]
    for i in cut:
        for at in np.flatnonzero(slot_index == i).tolist():
            indexes[at] = index_of(int(seconds[at]))
    return periods, indexes
