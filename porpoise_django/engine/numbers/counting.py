"""Writing counter increments: validate a batch and queue it for one pipeline.

Increments of one key are added up before sending (one ``INCRBYFLOAT`` or
``ZINCRBY`` per key). With idempotency tokens, each row is guarded by a
marker in the counter's slot instead (a ``COUNT_ONCE`` Lua call per row), so
a batch sent again after a partial failure does not count twice. A token
``<batch>#<n>`` is bit ``n`` of one marker per batch and counter (a few bytes
a row); any other token is a marker key of its own (about 100 bytes).

Example::

    writer = CountWriter(keys, policy, buckets, slots)
    submit(client, [writer.prepare([("signups", None, 1, None)])])   # 1 row written
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from porpoise_django.engine.names import validate_name
from porpoise_django.engine.numbers.counters import check_amount, check_member
from porpoise_django.engine.storage.buckets import BucketRegistry, Entry
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.policy import Policy
from porpoise_django.engine.storage.scripts import COUNT_ONCE
from porpoise_django.engine.storage.writes import Prepared, submit
from porpoise_django.engine.time.periods import UTC, Period, When, period_of
from porpoise_django.engine.time.slots import SlotPeriods

CountRow = tuple[str, object, float, When]
#: A validated increment: (counter, id or None, amount, epoch seconds).
Checked = tuple[str, str | None, float, float]


class CountWriter:
    """Validates and prepares counter increments of one store."""

    def __init__(
        self, keys: KeyScheme, policy: Policy, buckets: BucketRegistry, slots: SlotPeriods
    ) -> None:
        self.keys = keys
        self.policy = policy
        self.buckets = buckets
        self.slots = slots

    def check(
        self, counter: object, id: object, by: object, when: object = None, now: float | None = None
    ) -> Checked:
        """Validate one counter increment: ``(name, id or None, by, epoch seconds)``."""
        return (
            validate_name(counter, what="counter name"),
            check_member(id),
            check_amount(by, self.policy.max_increment),
            self.policy.stamp(when, now=now),
        )

    def prepare(
        self,
        rows: Iterable[CountRow],
        *,
        granularities: Sequence[str] | None = None,
        tokens: Sequence[str] | None = None,
        token_ttl: int = 86_400,
    ) -> Prepared | None:
        """Validate increments; raises on the first bad row, before anything is sent.

        With ``tokens`` (one per row), each row is applied at most once.
        """
        grans = self.policy.count_granularities(granularities)
        now_ts = self.policy.clock().timestamp()
        checked: list[Checked] = []
        for number, row in enumerate(rows):
            try:
                name, member, amount, when = row
            except (TypeError, ValueError):
                raise ValueError(f"row {number}: expected (counter, id, by, when)") from None
            try:
                checked.append(self.check(name, member, amount, when, now=now_ts))
            except ValueError as exc:
                raise type(exc)(f"row {number}: {exc}") from None
        if not checked:
            return None
        batch = _CountBatch(self.keys, now_ts, token_ttl)
        for number, increment in enumerate(checked):
            writable = self.policy.writable(self._periods(increment[3], grans), now_ts)
            registry = self.buckets.key("k", increment[0])
            batch.registry += [(registry, p.member, e) for p, e in writable]
            batch.add(increment, writable, None if tokens is None else tokens[number])
        return Prepared(batch.build, lambda replies: None, len(checked))

    def _periods(self, stamp: float, grans: tuple[str, ...]) -> Sequence[Period]:
        if "minute" in grans:  # finer than the 15-minute slots
            moment = dt.datetime.fromtimestamp(stamp, UTC)
            return [period_of(g, moment, self.policy.tz) for g in grans]
        return self.slots.periods(self.slots.number(int(stamp // 900), grans))


#: The largest row number of a batch token (``<batch>#<n>``).
_MAX_BATCH_ROW = 2**20


def _marker(token: str) -> tuple[str, int | None]:
    """A token's marker, and its bit in it for a batch token ``<batch>#<n>``."""
    batch, sep, number = token.rpartition("#")
    if sep and batch and number.isascii() and number.isdigit() and int(number) < _MAX_BATCH_ROW:
        return batch, int(number)
    return token, None


class _CountBatch:
    """The commands of one batch of increments, added up per key."""

    def __init__(self, keys: KeyScheme, now_ts: float, token_ttl: int) -> None:
        self.keys = keys
        self.now_ts = now_ts
        self.token_ttl = token_ttl
        self.spans: dict[str, tuple[float, float]] = {}
        self.totals: dict[str, float] = defaultdict(float)
        self.members: dict[tuple[str, str], float] = defaultdict(float)
        self.expiry: dict[str, float] = {}
        self.guarded: list[tuple[list[str], list[str], str, float, str, int | None]] = []
        self.registry: list[Entry] = []

    def add(
        self, row: Checked, writable: list[tuple[Period, float | None]], token: str | None
    ) -> None:
        """Add one validated increment to the buckets ``writable``."""
        name, member, amount, stamp = row
        keys = self.keys
        if token is not None:
            marker, bit = _marker(token)
            self.guarded.append(
                (
                    [keys.counter_total(name, p) for p, _ in writable],
                    [keys.counter(name, p) for p, _ in writable] if member is not None else [],
                    member or "",
                    amount,
                    f"{keys.prefix}:{{k:{name}}}:once:{marker}",
                    bit,
                )
            )
        for period, expire_at in writable:
            total = keys.counter_total(name, period)
            if token is None:
                self.totals[total] += amount
                if member is not None:
                    self.members[(keys.counter(name, period), member)] += amount
            if expire_at is not None:
                self.expiry[total] = expire_at
                if member is not None:
                    self.expiry[keys.counter(name, period)] = expire_at
        first, last = self.spans.get(name, (stamp, stamp))
        self.spans[name] = (min(first, stamp), max(last, stamp))

    def build(self, pipe: Any) -> None:
        """Queue the batch on ``pipe``."""
        BucketRegistry.queue(pipe, self.registry, self.now_ts)
        for total_keys, zset_keys, member_text, amount, marker, bit in self.guarded:
            args: list[Any] = [self.token_ttl, amount, member_text, len(total_keys)]
            COUNT_ONCE.queue(
                pipe, [marker, *total_keys, *zset_keys], args if bit is None else [*args, bit]
            )
        for key, amount in self.totals.items():
            pipe.incrbyfloat(key, amount)
        for (key, member), amount in self.members.items():
            pipe.zincrby(key, amount, member)
        for key, expire_at in self.expiry.items():
            pipe.expireat(key, int(expire_at))
        for name, (first, last) in self.spans.items():
            pipe.zadd(self.keys.counters_first, {name: first}, lt=True)
            pipe.zadd(self.keys.counters_last, {name: last}, gt=True)


class Counting:
    """The counter-writing methods of :class:`~.analytics.Analytics` (mixed in)."""

    client: Any
    counting: CountWriter

    def count(
        self,
        counter: str,
        id: object = None,
        by: float = 1,
        when: When = None,
        *,
        granularities: Sequence[str] | None = None,
    ) -> None:
        """Add ``by`` to ``counter`` (for ``id`` if given) at ``when``, in one round trip."""
        self.count_many([(counter, id, by, when)], granularities=granularities)

    def count_many(
        self, rows: Iterable[CountRow], *, granularities: Sequence[str] | None = None
    ) -> int:
        return submit(self.client, [self.prepare_counts(rows, granularities=granularities)])

    def prepare_counts(
        self,
        rows: Iterable[CountRow],
        *,
        granularities: Sequence[str] | None = None,
        tokens: Sequence[str] | None = None,
        token_ttl: int = 86_400,
    ) -> Prepared | None:
        return self.counting.prepare(
            rows, granularities=granularities, tokens=tokens, token_ttl=token_ttl
        )

    def check_count(
        self, counter: object, id: object, by: object, when: object = None, now: float | None = None
    ) -> tuple[str, str | None, float, float]:
        return self.counting.check(counter, id, by, when, now)
