"""Counters per id and totals, per time bucket (porpoise's ``count``).

Each counter keeps, per bucket, a sorted set id -> count and a total::

    pp:{k:song:played}:c:h:2026112213     sorted set: song id -> plays that hour
    pp:{k:song:played}:t:h:2026112213     total plays that hour
    pp:reg:counters:first / :last         registry of counter names

All keys of one counter share a hash tag, so a top-N over any range is one
``ZUNIONSTORE`` into a temporary key (single slot on a cluster) followed by
``ZREVRANGE``: computed server-side, in one round trip.

>>> pp.count("song:played", id=42, by=17)
>>> pp.count("song:played", id=7)
>>> pp.counter("song:played").top(pp.range("hour", -23), 10)
[('42', 17), ('7', 1)]
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from porpoise_django.engine.errors import InvalidValue
from porpoise_django.engine.storage.policy import DEFAULT_MAX_INCREMENT
from porpoise_django.engine.time.periods import Period, PeriodRange, cover
from porpoise_django.engine.values import int_in, plain, text

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

MAX_COUNTER_ID_LENGTH = 256


def check_amount(amount: object, limit: float = DEFAULT_MAX_INCREMENT) -> float | int:
    """An increment: a finite int or float within ``[-limit, limit]`` (not a bool).

    Stored values are floats (``INCRBYFLOAT``): an unbounded increment could
    make a total infinite, after which every read of it would fail.
    """
    if not plain(amount, int, float):
        raise InvalidValue(f"increment must be an int or a float, got {_short(amount)}")
    if isinstance(amount, float) and not math.isfinite(amount):
        raise InvalidValue(f"increment must be finite, got {amount!r}")
    if not -limit <= amount <= limit:
        raise InvalidValue(
            f"increment {_short(amount)} is out of range: at most {limit:g} either way "
            "(MAX_INCREMENT)"
        )
    return amount


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text[:60]


def check_member(member: object) -> str | None:
    """A counter id as the string stored in the sorted set (None: no id)."""
    if member is None:
        return None
    if not plain(member, int, str):
        if hasattr(member, "hex") and hasattr(member, "int"):  # uuid.UUID
            return str(member)
        raise InvalidValue(f"counter id must be a string, an integer or a UUID, got {member!r}")
    member_text = str(member)
    if not member_text or len(member_text) > MAX_COUNTER_ID_LENGTH:
        raise InvalidValue(f"counter id must be 1 to {MAX_COUNTER_ID_LENGTH} characters long")
    return member_text


def number(value: Any) -> float | int:
    """A Redis reply as an int when integral, else a float (0 for missing)."""
    if value is None:
        return 0
    result = float(value)
    return int(result) if result.is_integer() else result


class Counter:
    """Counter ``name``: per-bucket counts by id, totals and top-N."""

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self.name = name

    def __repr__(self) -> str:
        return f"<Counter {self.name!r}>"

    def _periods(self, when: Period | PeriodRange | Iterable[Period]) -> list[Period]:
        periods = [when] if isinstance(when, Period) else list(when)
        for granularity in {p.granularity for p in periods}:
            self._store.check_tracked(granularity, "counters")
        return periods

    def _cover(self, when: Period | PeriodRange | Iterable[Period]) -> list[Period]:
        """The fewest stored buckets holding the same counts (a whole day: one key)."""
        if isinstance(when, PeriodRange):
            buckets = cover(when, self._store.counter_granularities, self._store.clock())
            if buckets is not None:
                return buckets
        return self._periods(when)

    def get(self, period: Period) -> dict[str, float | int]:
        """Every id of ``period`` with its count."""
        [period] = self._periods(period)
        pairs = self._store.client.zrange(
            self._store.keys.counter(self.name, period), 0, -1, withscores=True
        )
        return {text(member): number(score) for member, score in pairs}

    def total(self, period: Period) -> float | int:
        """Sum of all increments in ``period`` (with or without ids)."""
        [period] = self._periods(period)
        return number(self._store.client.get(self._store.keys.counter_total(self.name, period)))

    def totals(self, periods: PeriodRange | Iterable[Period]) -> list[tuple[Period, float | int]]:
        """``(period, total)`` for each bucket, zero-filled, in one round trip."""
        period_list = self._periods(periods)
        if not period_list:
            return []
        keys = [self._store.keys.counter_total(self.name, p) for p in period_list]
        values = self._store.client.mget(keys)
        return [(p, number(v)) for p, v in zip(period_list, values, strict=True)]

    def top(
        self, periods: Period | PeriodRange | Iterable[Period], n: int = 10
    ) -> list[tuple[str, float | int]]:
        """The ``n`` ids with the highest counts summed over ``periods``, highest first.

        One round trip: ``ZUNIONSTORE`` of the buckets into a temporary key that
        expires by itself, then ``ZREVRANGE``. A range is first reduced to the
        fewest stored buckets (the 24 hours of a day are its daily bucket).
        """
        if not int_in(n, 1, 10_000):
            raise InvalidValue(f"n must be an int from 1 to 10000, got {n!r}")
        period_list = self._cover(periods)
        if not period_list:
            return []
        keys = [self._store.keys.counter(self.name, p) for p in period_list]
        if len(keys) == 1:
            pairs = self._store.client.zrevrange(keys[0], 0, n - 1, withscores=True)
        else:
            digest = hashlib.sha1("|".join(keys).encode()).hexdigest()[:20]
            temp = self._store.keys.counter_temp(self.name, digest)

            def build(pipe: Any) -> None:
                pipe.execute_command("ZUNIONSTORE", temp, len(keys), *keys)
                pipe.expire(temp, self._store.temp_ttl)
                pipe.zrevrange(temp, 0, n - 1, withscores=True)

            pairs = self._store.run(build, scripts=())[-1]
        return [(text(member), number(score)) for member, score in pairs]

    def delete(self) -> None:
        """Delete every bucket of this counter and its registry entry."""
        self._store.delete_counter(self.name)
