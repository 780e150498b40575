"""What the engine's collaborators need from a store, as typing protocols.

Events, bitmaps, counters, metrics, series, cohorts and decisions receive the
:class:`~.analytics.Analytics` facade at runtime, but they are typed against
:class:`Store`: the few attributes and methods they use. So no engine module
imports the facade back (neither at runtime nor for typing), and each reads
as a library of its own.

>>> from porpoise_django.engine.analytics import Analytics
>>> def needs_a_store(store: Store) -> None: ...
>>> needs_a_store(Analytics(client))        # Analytics satisfies it
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from porpoise_django.engine.storage.buckets import BucketRegistry
from porpoise_django.engine.storage.ids import DirectIds, IdMap
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.policy import Policy
from porpoise_django.engine.storage.scripts import LuaScript
from porpoise_django.engine.time.periods import Period, PeriodRange, When


class Readable(Protocol):
    """A set of ids that can be put into a key, chunk by chunk (a bitmap or expression)."""

    def compile(self, chunk: int, pipe: Any, memo: dict[str, str]) -> str: ...

    def check_bound(self) -> None: ...


class Store(Protocol):
    """The interface of a store that engine modules rely on."""

    client: Any
    keys: KeyScheme
    policy: Policy
    id_codec: DirectIds | IdMap
    buckets: BucketRegistry
    tz: dt.tzinfo
    clock: Callable[[], dt.datetime]
    granularities: tuple[str, ...]
    counter_granularities: tuple[str, ...]
    temp_ttl: int
    max_range_buckets: int
    max_increment: float

    def run(
        self, build: Callable[[Any], None], scripts: Sequence[LuaScript] = ...
    ) -> list[Any]: ...

    def chunks(self) -> list[int]: ...

    def read_chunks(
        self,
        bitmaps: Sequence[Readable],
        chunks: Sequence[int],
        read: Callable[[Any, str, int], Any],
    ) -> list[list[Any]]: ...

    def count_bitmaps(self, bitmaps: Sequence[Readable]) -> list[int]: ...

    def contains(self, bitmap: Readable, external: object) -> bool: ...

    def breakdown(self, bitmap: Any, name: str, top: int | None = None) -> dict[str, int]: ...

    def split_by(self, bitmap: Any, name: str) -> dict[str, Any]: ...

    def where(self, **filters: object) -> Any: ...

    def property_kind(self, name: str) -> str: ...

    def property_values(self, name: str) -> list[str]: ...

    def people(self, bitmap: Any, offset: int = 0, limit: int = 100) -> Any: ...

    def save_segment(self, bitmap: Any, name: str) -> Any: ...

    def period(self, granularity: str, when: int | When = None) -> Period: ...

    def range(self, granularity: str, start: int | When, end: int | When = 0) -> PeriodRange: ...

    def check_tracked(self, granularity: str, kind: str = "events") -> str: ...

    def stamp(self, when: object, *, writing: bool = True, now: float | None = None) -> float: ...

    def event_span(self, name: str) -> tuple[dt.datetime, dt.datetime] | None: ...

    def delete_keys(self, keys: Sequence[str]) -> None: ...

    def delete_counter(self, name: str) -> int: ...

    def delete_registered(
        self,
        kind: str,
        name: str,
        keys_of: Callable[[str], Iterable[str]],
        span_keys: tuple[str, str] | None = None,
    ) -> int: ...
