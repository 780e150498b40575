"""Saved segments: the ids of any bitmap or expression, kept as a unique event.

``bitmap.save_as("churned-pro")`` copies the members the expression has now
into the unique event ``churned-pro`` (one ``BITOP OR`` per chunk, single-slot
on a cluster, in one pipeline) and notes when it was saved in
``<prefix>:reg:segments`` (name -> epoch seconds). A segment is then usable
everywhere a unique event is: ``pp.unique("churned-pro")``, ``unique(...)``
or ``segment(...)`` in the query language, and any filter built from those.
Saving again replaces the members; a segment is a snapshot, it does not
follow later marks.

Example::

    active = pp.event("active").day()
    (active - pp.unique("premium")).save_as("free-today")   # <UniqueBitmap u:free-today>
    pp.segments()
    # [Segment(name='free-today', size=1234, saved_at=datetime.datetime(...))]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from porpoise_django.engine.errors import InvalidName
from porpoise_django.engine.events.bitmaps import Bitmap, UniqueBitmap
from porpoise_django.engine.values import text

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store


@dataclass(frozen=True)
class Segment:
    """A saved segment: its name, its size now and when it was saved."""

    name: str
    size: int
    saved_at: dt.datetime


def save_segment(store: Store, bitmap: Bitmap, name: object) -> UniqueBitmap:
    """Store the members of ``bitmap`` now as segment ``name`` (see the module)."""
    checked = store.policy.name(name)
    bitmap.check_bound()
    if bitmap.store is not store:
        raise ValueError("the bitmap belongs to another Analytics")
    registry = store.keys.segments

    def check(pipe: Any) -> None:
        pipe.sismember(store.keys.uniques, checked)
        pipe.hexists(registry, checked)

    is_unique, is_segment = store.run(check, ())
    if is_unique and not is_segment:
        raise InvalidName(
            f"{checked!r} is a unique event, not a segment: saving would overwrite its "
            "members; pick another name"
        )
    chunks = store.chunks()
    saved_at = store.clock().timestamp()

    def build(pipe: Any) -> None:
        memo: dict[str, str] = {}
        for chunk in chunks:
            source = bitmap.compile(chunk, pipe, memo)
            pipe.execute_command("BITOP", "OR", store.keys.unique(checked, chunk), source)
        pipe.sadd(store.keys.uniques, checked)
        pipe.hset(registry, checked, repr(saved_at))

    store.run(build)
    return UniqueBitmap(store, checked)


def list_segments(store: Store) -> list[Segment]:
    """Every saved segment with its size now, by name (two round trips)."""
    saved = {text(k): float(v) for k, v in store.client.hgetall(store.keys.segments).items()}
    names = sorted(saved)
    sizes = store.count_bitmaps([UniqueBitmap(store, n) for n in names]) if names else []
    return [
        Segment(name, size, dt.datetime.fromtimestamp(saved[name], store.tz))
        for name, size in zip(names, sizes, strict=True)
    ]


def delete_segment(store: Store, name: object) -> bool:
    """Delete segment ``name`` (its bitmaps and its entry); False if there was none."""
    checked = store.policy.name(name)
    if not store.client.hexists(store.keys.segments, checked):
        return False
    store.delete_keys([store.keys.unique(checked, c) for c in store.chunks()])

    def build(pipe: Any) -> None:
        pipe.srem(store.keys.uniques, checked)
        pipe.hdel(store.keys.segments, checked)

    store.run(build, ())
    return True


class Segmenting:
    """The segment methods of :class:`~.analytics.Analytics` (mixed in)."""

    def save_segment(self, bitmap: Bitmap, name: str) -> UniqueBitmap:
        """The members of ``bitmap`` now, saved as segment ``name``."""
        return save_segment(cast("Store", self), bitmap, name)

    def segments(self) -> list[Segment]:
        """Saved segments with their size now and when they were saved."""
        return list_segments(cast("Store", self))

    def delete_segment(self, name: str) -> bool:
        return delete_segment(cast("Store", self), name)
