"""Reading bitmaps and expressions: one pipeline per question, chunk by chunk.

Every read compiles each expression for each chunk (``BITOP`` into temporary
keys where operators are involved), then queues one read per chunk, all in
one pipeline: a count over any expression is one round trip.

>>> reader = BitmapReader(client, keys, registry, id_codec)      # doctest: +SKIP
>>> reader.count_bitmaps([pp.event("active").day()])             # doctest: +SKIP
[1234]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from porpoise_django.engine.errors import InvalidId
from porpoise_django.engine.events.bitmaps import Bitmap, counts_over
from porpoise_django.engine.storage.ids import DirectIds, IdMap
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.registry import Registry
from porpoise_django.engine.storage.scripts import COUNT_ONCE, SET_BITS, run_pipeline
from porpoise_django.engine.storage.store import Readable
from porpoise_django.engine.time.periods import Period


class BitmapReader:
    """Runs reads of bitmaps over the chunks of one store."""

    def __init__(
        self, client: Any, keys: KeyScheme, registry: Registry, id_codec: DirectIds | IdMap
    ) -> None:
        self.client = client
        self.keys = keys
        self.registry = registry
        self.id_codec = id_codec

    def read_chunks(
        self,
        bitmaps: Sequence[Readable],
        chunks: Sequence[int],
        read: Callable[[Any, str, int], Any],
    ) -> list[list[Any]]:
        """For each bitmap and chunk, the reply of ``read(pipe, key, chunk)``; one pipeline."""
        for bitmap in bitmaps:
            bitmap.check_bound()
        if not chunks or not bitmaps:
            return [[] for _ in bitmaps]
        positions: list[list[int]] = []

        def build(pipe: Any) -> None:
            positions.clear()
            memo: dict[str, str] = {}
            for bitmap in bitmaps:
                row = []
                for chunk in chunks:
                    key = bitmap.compile(chunk, pipe, memo)
                    row.append(len(pipe))
                    read(pipe, key, chunk)
                positions.append(row)

        results = run_pipeline(self.client, build, (SET_BITS, COUNT_ONCE))
        return [[results[i] for i in row] for row in positions]

    def count_bitmaps(self, bitmaps: Sequence[Readable]) -> list[int]:
        """Counts of several bitmaps or expressions in one round trip."""
        chunks = self.registry.chunks()
        rows = self.read_chunks(bitmaps, chunks, lambda pipe, key, _c: pipe.bitcount(key))
        return [int(sum(row)) for row in rows]

    def contains(self, bitmap: Readable, external: object) -> bool:
        """Whether ``external`` is in ``bitmap``; unknown ids are simply absent."""
        bitmap.check_bound()
        try:
            [index] = self.id_codec.to_indexes([self.id_codec.check(external)], create=False)
        except InvalidId:
            if self.id_codec.mode == "int":
                raise
            return False
        if index < 0:
            return False
        chunk, offset = divmod(index, self.keys.chunk_size)
        [[bit]] = self.read_chunks(
            [bitmap], [chunk], lambda pipe, key, _c: pipe.getbit(key, offset)
        )
        return bool(bit)


class Reading:
    """The reading methods of :class:`~.analytics.Analytics` (mixed in)."""

    reader: BitmapReader

    def read_chunks(
        self,
        bitmaps: Sequence[Readable],
        chunks: Sequence[int],
        read: Callable[[Any, str, int], Any],
    ) -> list[list[Any]]:
        return self.reader.read_chunks(bitmaps, chunks, read)

    def count_bitmaps(self, bitmaps: Sequence[Readable]) -> list[int]:
        return self.reader.count_bitmaps(bitmaps)

    def contains(self, bitmap: Readable, external: object) -> bool:
        return self.reader.contains(bitmap, external)

    def counts(self, expression: Bitmap, periods: Iterable[Period]) -> list[tuple[Period, int]]:
        """Count of ``expression`` bound to each period, in one round trip."""
        return counts_over(expression, periods)
