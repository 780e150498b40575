"""The people behind a number: the ids of a bitmap in pages, and one id's activity.

:func:`people` answers "who?" for any bitmap or expression bound to a period,
without materialising its members: one pipeline counts every chunk (the
total, and where the page starts), a second fetches only the chunks the page
falls in and decodes them with numpy, one chunk at a time. Ids come in bit
order: ascending external ids in ``"int"`` id mode; in ``"map"`` id mode the
order in which ids were first mapped (dense indexes), stable from page to
page.

:func:`activity` answers "what did this id do?": for each period of a range,
the events whose bucket holds the id's bit (one ``GETBIT`` per event and
bucket, only within each event's registered span), the unique events and
segments it holds, and the current value of each person property (one script
over its chunk's value sets). Every key read carries the id's chunk hash tag: one round
trip to one node, after one to the registry.

Example::

    page = pp.people(pp.event("active").day(), limit=50)
    page.total, page.ids[:3], page.next_offset          # (10432, [3, 17, 18], 50)
    pp.activity(17, -6).marks["login"]    # [False, True, True, False, False, True, False]
    pp.activity(17).properties            # {'country': 'FR', 'plan': 'pro'}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from porpoise_django.engine.errors import InvalidValue
from porpoise_django.engine.events.bitmaps import Bitmap
from porpoise_django.engine.events.properties import PERSON_VALUES, kinds_key, queue_person_values
from porpoise_django.engine.storage.bitarrays import offsets_from_bitmap
from porpoise_django.engine.time.periods import Period, PeriodRange, When
from porpoise_django.engine.values import int_in, text

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

#: The largest page :func:`people` returns.
MAX_PEOPLE_LIMIT = 10_000
#: The most ``GETBIT`` one :func:`activity` sends (events x periods).
MAX_ACTIVITY_CELLS = 200_000


@dataclass(frozen=True)
class People:
    """One page of the ids of a bitmap, and how many it holds in all."""

    ids: list[Any]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, None after the last."""
        following = self.offset + self.limit
        return following if following < self.total else None


def check_page(offset: object, limit: object) -> tuple[int, int]:
    if not int_in(offset, 0):
        raise InvalidValue(f"offset must be an integer of at least 0, got {offset!r}")
    if not int_in(limit, 1, MAX_PEOPLE_LIMIT):
        raise InvalidValue(f"limit must be an integer from 1 to {MAX_PEOPLE_LIMIT}, got {limit!r}")
    return offset, limit


def people(store: Store, bitmap: Bitmap, offset: int = 0, limit: int = 100) -> People:
    """The ids of ``bitmap`` from ``offset`` (at most ``limit``), and the total."""
    offset, limit = check_page(offset, limit)
    if not isinstance(bitmap, Bitmap):
        raise InvalidValue("people() takes a bitmap or an expression bound to a period")
    bitmap.check_bound()
    chunks = store.chunks()
    [counts] = store.read_chunks([bitmap], chunks, lambda pipe, key, _c: pipe.bitcount(key))
    total = int(sum(counts))
    wanted: list[tuple[int, int, int]] = []  # (chunk, members to skip, members to take)
    before, needed = 0, limit
    for chunk, count in zip(chunks, counts, strict=True):
        count = int(count)
        if needed and before + count > offset:
            skip = max(0, offset - before)
            take = min(count - skip, needed)
            wanted.append((chunk, skip, take))
            needed -= take
        before += count
    if not wanted:
        return People([], total, offset, limit)
    size = store.keys.chunk_size
    [raws] = store.read_chunks(
        [bitmap], [c for c, _, _ in wanted], lambda pipe, key, _c: pipe.get(key)
    )
    parts = [
        offsets_from_bitmap(raw)[skip : skip + take] + chunk * size
        for (chunk, skip, take), raw in zip(wanted, raws, strict=True)
    ]
    indexes = np.concatenate(parts)[:limit]
    ids = store.id_codec.to_externals(indexes)
    return People(
        [int(i) for i in ids] if isinstance(ids, np.ndarray) else ids, total, offset, limit
    )


@dataclass(frozen=True)
class Activity:
    """What one id did in each period of a range."""

    id: Any
    periods: list[Period]
    #: Event -> one flag per period (only events the id did at least once).
    marks: dict[str, list[bool]] = field(default_factory=dict)
    #: Unique events and segments the id holds now.
    uniques: list[str] = field(default_factory=list)
    #: Person properties -> the value the id holds now (those it holds one of).
    properties: dict[str, str] = field(default_factory=dict)

    def events_in(self, period: Period) -> list[str]:
        """The events the id did in ``period``."""
        at = self.periods.index(period)
        return [name for name, flags in self.marks.items() if flags[at]]


def _periods(store: Store, start: int | When | PeriodRange, end: int | When, gran: str) -> Any:
    if isinstance(start, PeriodRange):
        return start
    return store.range(store.check_tracked(gran), start, end)


def activity(
    store: Store,
    external: object,
    start: int | When | PeriodRange = -29,
    end: int | When = 0,
    granularity: str = "day",
) -> Activity:
    """The events ``external`` did in each ``granularity`` bucket from ``start`` to
    ``end`` (offsets or times, as :meth:`range`; or a ``PeriodRange``)."""
    periods = _periods(store, start, end, granularity).periods()
    checked = store.id_codec.check(external)
    [index] = store.id_codec.to_indexes([checked], create=False)
    if index < 0:
        return Activity(checked, periods)
    store.check_tracked(periods[0].granularity)
    keys = store.keys

    def registry(pipe: Any) -> None:
        pipe.zrange(keys.events_first, 0, -1, withscores=True)
        pipe.zrange(keys.events_last, 0, -1, withscores=True)
        pipe.smembers(keys.uniques)
        pipe.hgetall(kinds_key(keys.prefix))

    firsts, lasts, unique_names, kinds = store.run(registry, ())
    person = sorted(text(p) for p, kind in kinds.items() if text(kind) == "person")
    last_of = {text(n): float(s) for n, s in lasts}
    bounds = [(p.period_start().timestamp(), p.period_end().timestamp()) for p in periods]
    cells: list[tuple[str, int]] = []
    for raw, first in firsts:
        name, last = text(raw), last_of.get(text(raw), float(first))
        cells += [(name, i) for i, (a, b) in enumerate(bounds) if a <= last and b > first]
    if len(cells) > MAX_ACTIVITY_CELLS:
        raise InvalidValue(
            f"activity over {len(cells)} event buckets; at most {MAX_ACTIVITY_CELLS}: "
            "ask for a shorter range or a coarser granularity"
        )
    uniques = sorted(text(u) for u in unique_names)
    chunk, offset = divmod(index, keys.chunk_size)

    def bits(pipe: Any) -> None:
        for name, i in cells:
            pipe.getbit(keys.event(name, periods[i], chunk), offset)
        for name in uniques:
            pipe.getbit(keys.unique(name, chunk), offset)
        if person:
            queue_person_values(pipe, keys.tag(chunk), offset, person)

    replies = store.run(bits, (PERSON_VALUES,))
    marks: dict[str, list[bool]] = {}
    for (name, i), bit in zip(cells, replies, strict=False):
        if bit:
            marks.setdefault(name, [False] * len(periods))[i] = True
    flags = replies[len(cells) : len(cells) + len(uniques)]
    held = [name for name, bit in zip(uniques, flags, strict=True) if bit]
    values = [text(v) for v in replies[-1]] if person else []
    properties = {p: v for p, v in zip(person, values, strict=True) if v}
    return Activity(checked, periods, dict(sorted(marks.items())), held, properties)


class Browsing:
    """The people and activity methods of :class:`~.analytics.Analytics` (mixed in)."""

    def people(self, bitmap: Bitmap, offset: int = 0, limit: int = 100) -> People:
        """A page of the ids in ``bitmap`` (bound to a period) and their total."""
        return people(cast("Store", self), bitmap, offset, limit)

    def activity(
        self,
        id: object,
        start: int | When | PeriodRange = -29,
        end: int | When = 0,
        *,
        granularity: str = "day",
    ) -> Activity:
        """What ``id`` did in each period of a range (one round trip to its node)."""
        return activity(cast("Store", self), id, start, end, granularity)
