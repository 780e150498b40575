"""Moving a bitmapist keyspace into a porpoise store.

bitmapist keeps one bitmap per event and UTC period (``trackist_active_2026-11-25``,
``trackist_active_W2026-48``, ``trackist_premium_u``...). :func:`migrate` finds
them with ``SCAN`` (never ``KEYS``), ORs each into the store's chunks (bytes
copied as they are: a bitmapist bit offset is the user id), registers them as
marks would, verifies that every source bit is set in the store, and notes
each bucket done, so that an interrupted run continues where it stopped.

Example::

    from porpoise_django.compat.bitmapist_data import migrate
    report = migrate(redis.Redis.from_url(old_url), pp)
    report.keys, report.events, report.skipped          # (1380, 22000000, {})
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from porpoise_django.engine import Analytics, Period
from porpoise_django.engine.internals import BucketRegistry, text

#: ``trackist_<event>_<suffix>``; the event may hold underscores (split at the last).
_KEY = re.compile(
    r"^trackist_(?P<event>.+)_(?P<suffix>u|W\d{1,4}-\d{1,2}|\d{1,4}-\d{1,2}(?:-\d{1,2}){0,2})$"
)
_GRANULARITY = {1: "month", 2: "day", 3: "hour"}  # dashes in the suffix -> granularity
#: Source keys read per round trip.
_BATCH = 64


@dataclass(frozen=True)
class Target:
    """Where source keys go: an event's bucket, or a unique event (``period`` None)."""

    event: str
    period: Period | None


@dataclass
class Report:
    """What a migration did: keys and set bits moved, keys skipped (with why)."""

    keys: int = 0
    events: int = 0
    buckets: int = 0
    resumed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def target_of(key: str, pp: Analytics) -> Target | str:
    """The bucket of bitmapist key ``key`` in ``pp``, or why it is skipped."""
    if key.startswith("trackist_bitop_"):
        return "bit operation result"
    match = _KEY.match(key)
    if match is None:
        return "not a bitmapist event key"
    event, suffix = match["event"], match["suffix"]
    try:
        name = pp.policy.name(event)
    except ValueError:
        return "event name porpoise refuses"
    if suffix == "u":
        return Target(name, None)
    if suffix.startswith("W"):
        granularity, when = "week", _iso_week(*map(int, suffix[1:].split("-")))
    else:
        parts = [int(p) for p in suffix.split("-")]
        granularity = _GRANULARITY[len(parts) - 1]
        when = _moment(parts)
    if when is None:
        return "not a date"
    if granularity not in pp.granularities:
        return f"{granularity} not tracked"
    try:
        pp.policy.stamp(when, writing=False)  # 1970 to 9998, as every read
        return Target(name, pp.period(granularity, when))
    except (ValueError, OverflowError):
        return "date out of range"


def _moment(parts: list[int]) -> dt.datetime | None:
    """The UTC start of ``[year, month]``, ``[year, month, day]`` or ``[..., hour]``."""
    year, month = parts[0], parts[1]
    day = parts[2] if len(parts) > 2 else 1
    hour = parts[3] if len(parts) > 3 else 0
    try:
        return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)
    except ValueError:
        return None


def _iso_week(year: int, week: int) -> dt.datetime | None:
    """bitmapist names weeks by calendar year and ISO week (``W2027-53`` holds the
    first days of 2027 in ISO week 53 of 2026): the ISO week it means."""
    for iso_year in (year, year - 1):
        try:
            monday = dt.date.fromisocalendar(iso_year, week, 1)
        except ValueError:
            continue
        return dt.datetime(monday.year, monday.month, monday.day, 12, tzinfo=dt.UTC)
    return None


def migrate(
    source: Any,
    pp: Analytics,
    *,
    name: str = "bitmapist",
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Move every bitmapist key of ``source`` (a redis-py client) into ``pp``.

    ``pp`` must cut its buckets in UTC, as bitmapist does, and use ``"int"`` ids;
    granularities it does not track are skipped and counted. Runs again after
    an interruption skip the buckets already verified (noted under ``name``).
    """
    if pp.id_codec.mode != "int":
        raise ValueError("bitmapist ids are integers: migrate into a store with id_mode 'int'")
    if pp.tz.utcoffset(dt.datetime(2026, 1, 1)) != dt.timedelta(0) or str(pp.tz) != "UTC":
        raise ValueError(
            f"bitmapist's buckets are UTC periods; this store cuts them in {pp.tz}: migrate "
            "into a store with tz='UTC' (PORPOISE['TIME_ZONE'] = 'UTC')"
        )
    started = time.perf_counter()
    report = Report()
    groups = _scan(source, pp, report)
    done_key = f"{pp.keys.prefix}:migrate:{name}"
    done = {text(m) for m in pp.client.smembers(done_key)}
    for target, keys in sorted(groups.items(), key=lambda item: _order(item[0])):
        label = _label(target)
        if label in done:
            report.resumed += len(keys)
        else:
            report.events += _move(source, pp, target, keys)
            pp.client.sadd(done_key, label)
        report.keys += len(keys)
        report.buckets += 1
        if progress is not None:
            progress(len(keys))
    pp.forget_chunks()
    report.seconds = time.perf_counter() - started
    return report


def _scan(source: Any, pp: Analytics, report: Report) -> dict[Target, list[str]]:
    """The source's bitmapist keys by target; keys that cannot move are counted in
    ``report.skipped`` by reason (a name not UTF-8, a date out of range, a key that
    is not a bitmap), never an error that stops the run."""
    groups: dict[Target, list[str]] = defaultdict(list)

    def skip(reason: str) -> None:
        report.skipped[reason] = report.skipped.get(reason, 0) + 1

    page: list[tuple[str, Target]] = []

    def sort_page() -> None:
        # One round trip per page: a key of another type (a hash) is no bitmap.
        types = [text(t) for t in _types(source, [key for key, _ in page])]
        for (key, target), kind in zip(page, types, strict=True):
            if kind != "string":
                skip(f"not a string ({kind})")
            else:
                groups[target].append(key)
        page.clear()

    for raw in source.scan_iter(match="trackist_*", count=1000):
        try:
            key = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        except UnicodeDecodeError:
            skip("key name not UTF-8")
            continue
        target = target_of(key, pp)
        if isinstance(target, str):
            skip(target)
            continue
        page.append((key, target))
        if len(page) >= 1000:
            sort_page()
    if page:
        sort_page()
    return groups


def _types(source: Any, keys: list[str]) -> list[Any]:
    pipe = source.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    return list(pipe.execute())


def _order(target: Target) -> tuple[str, float]:
    return (target.event, target.period.start.timestamp() if target.period else -1.0)


def _label(target: Target) -> str:
    return f"{target.event}|{target.period.member if target.period else 'u'}"


def _move(source: Any, pp: Analytics, target: Target, keys: list[str]) -> int:
    """OR the source keys into ``target``'s chunks, a chunk at a time (memory
    bounded by a chunk, whatever the size of a source bitmap), register them,
    verify them; returns the number of set bits moved."""
    keys_of = pp.keys
    size = keys_of.chunk_size // 8
    token = f"{time.time_ns():x}"
    lengths = _strlens(source, keys)
    moved = 0
    for chunk in range((max(lengths, default=0) + size - 1) // size):
        live = [k for k, n in zip(keys, lengths, strict=True) if n > chunk * size]
        bits = _read(source, live, chunk * size, (chunk + 1) * size - 1)
        if not bits.any():
            continue
        part = bits.tobytes()

        def build(pipe: Any, chunk: int = chunk, part: bytes = part) -> None:
            for stored in (_stored_key(pp, target, chunk), keys_of.universe(chunk)):
                temp = f"{stored.split('}', 1)[0]}}}:tmp:migrate:{token}"
                pipe.set(temp, part, ex=pp.temp_ttl)
                pipe.execute_command("BITOP", "OR", stored, stored, temp)
                pipe.unlink(temp)
            _register(pipe, pp, target, [chunk])

        pp.run(build, scripts=())
        _verify(pp, target, chunk, bits)
        moved += int(np.unpackbits(bits).sum())
    return moved


def _strlens(source: Any, keys: list[str]) -> list[int]:
    pipe = source.pipeline(transaction=False)
    for key in keys:
        pipe.strlen(key)
    return [int(n or 0) for n in pipe.execute()]


def _read(source: Any, keys: Iterable[str], start: int, end: int) -> np.ndarray:
    """The OR of bytes ``start`` to ``end`` of the source bitmaps (one chunk)."""
    merged = np.zeros(end - start + 1, dtype=np.uint8)
    pipe = source.pipeline(transaction=False)
    for key in keys:
        pipe.getrange(key, start, end)
    for raw in pipe.execute():
        if raw:
            data = np.frombuffer(raw, dtype=np.uint8)
            merged[: len(data)] |= data
    return merged


def _stored_key(pp: Analytics, target: Target, chunk: int) -> str:
    if target.period is None:
        return pp.keys.unique(target.event, chunk)
    return pp.keys.event(target.event, target.period, chunk)


def _register(pipe: Any, pp: Analytics, target: Target, chunks: list[int]) -> None:
    """The registry entries a mark of these buckets would have made."""
    pipe.sadd(pp.keys.chunks, *chunks)
    if target.period is None:
        pipe.sadd(pp.keys.uniques, target.event)
        return
    start = target.period.start.timestamp()
    end = min(target.period.period_end().timestamp() - 1, pp.clock().timestamp())
    pp.registry.queue(pipe, {target.event: (start, max(start, end))}, ())
    entry = (pp.buckets.key("e", target.event), target.period.member, None)
    BucketRegistry.queue(pipe, [entry], pp.clock().timestamp())


def _verify(pp: Analytics, target: Target, chunk: int, bits: np.ndarray) -> None:
    """Every source bit of ``chunk`` is set in the store (the store may hold more:
    it was not empty, or other keys went into the same bucket)."""
    raw = pp.client.get(_stored_key(pp, target, chunk)) or b""
    have = np.zeros(len(bits), dtype=np.uint8)
    stored = np.frombuffer(raw, dtype=np.uint8)[: len(bits)]
    have[: len(stored)] = stored
    if np.any((have & bits) != bits):
        raise RuntimeError(f"verification failed for {_label(target)} chunk {chunk}")
