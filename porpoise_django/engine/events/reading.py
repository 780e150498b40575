"""Reading bitmaps and expressions: one pipeline per question, chunk by chunk.

Every read compiles each expression for each chunk (``BITOP`` into temporary
keys where operators are involved), then queues one read per chunk, all in
one pipeline: a count over any expression is one round trip.

>>> pp.mark_many([("active", i) for i in range(1234)])
1234
>>> reader = BitmapReader(client, pp.keys, pp.registry, pp.id_codec)
>>> reader.count_bitmaps([pp.event("active").day()])
[1234]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from porpoise_django.engine.errors import InvalidId
from porpoise_django.engine.events.bitmaps import Bitmap, BitOp, Difference, counts_over
from porpoise_django.engine.storage.ids import DirectIds, IdMap
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.registry import Registry
from porpoise_django.engine.storage.scripts import (
    COUNT_ONCE,
    COUNT_SETS,
    SET_BITS,
    SUM_BITCOUNTS,
    run_pipeline,
)
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
        """Counts of several bitmaps or expressions in one round trip.

        Stored bitmaps and one operator over stored bitmaps (``a & b``,
        ``a | b | c``, ``a - b``, ``~a``) are counted by one COUNT_SETS script
        over all chunks (one per chunk on a cluster, in one round trip per
        node), leaving no key behind; one stored bitmap in one chunk by a plain
        BITCOUNT. Deeper expressions are built with BITOPs first.
        """
        chunks = self.registry.chunks()
        programs = [_program(b) for b in bitmaps]
        known = [p for p in programs if p is not None]
        if not chunks or len(known) < len(programs):
            rows = self.read_chunks(bitmaps, chunks, lambda pipe, key, _c: pipe.bitcount(key))
            return [int(sum(row)) for row in rows]
        for bitmap in bitmaps:
            bitmap.check_bound()
        if len(known) == 1 and known[0][0] == "KEY":
            if len(chunks) == 1:
                return [int(self.client.bitcount(bitmaps[0].compile(chunks[0], None, {})))]
            if not hasattr(self.client, "get_node_from_key"):  # one server: one call
                keys = [bitmaps[0].compile(c, None, {}) for c in chunks]
                return [int(SUM_BITCOUNTS(self.client, keys, ()))]
        return self._count_sets(known, chunks)

    def _count_sets(
        self, programs: list[tuple[str, list[Readable]]], chunks: list[int]
    ) -> list[int]:
        groups = _chunks_by_node(self.client, self.keys, chunks)

        def build(pipe: Any) -> None:
            for node, group in groups:
                keys = [o.compile(c, None, {}) for _, ops in programs for c in group for o in ops]
                if any(op != "KEY" for op, _ in programs):  # operators need scratch keys
                    keys += [self.keys.temp(c, "count-sets") for c in group]
                args: list[Any] = [len(group)]
                for op, operands in programs:
                    args += [op, len(operands)]
                options = {} if node is None else {"target_nodes": node}
                pipe.execute_command("EVALSHA", COUNT_SETS.sha, len(keys), *keys, *args, **options)

        replies = run_pipeline(self.client, build, (COUNT_SETS,))
        return [int(sum(int(reply[i]) for reply in replies)) for i in range(len(programs))]

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


#: Operands of one operator counted by COUNT_SETS; more go through BITOPs first.
_MAX_OPERANDS = 1000


def _program(bitmap: Readable) -> tuple[str, list[Readable]] | None:
    """How COUNT_SETS counts ``bitmap``: a stored bitmap, or one operator over
    stored bitmaps; None for anything deeper."""
    depth = getattr(bitmap, "depth", None)
    if depth == 0:
        return ("KEY", [bitmap])
    operands = list(getattr(bitmap, "operands", ()))
    # Lua unpacks the operands of one BITOP onto its stack: keep them few.
    if depth != 1 or not operands or len(operands) > _MAX_OPERANDS:
        return None
    if isinstance(bitmap, BitOp):
        return (bitmap.op, operands)
    if isinstance(bitmap, Difference):
        return ("MINUS", operands)
    return None


def _chunks_by_node(
    client: Any, keys: KeyScheme, chunks: Sequence[int]
) -> list[tuple[Any, list[int]]]:
    """The groups of chunks counted by one call each, with the node they go to:
    all in one (node None) on a single server; one per chunk on a cluster,
    where the keys of a script share one slot."""
    find_node = getattr(client, "get_node_from_key", None)  # a RedisCluster
    if find_node is None:  # at most _MAX_OPERANDS chunks a call: the scratch keys are unpacked
        return [
            (None, list(chunks[i : i + _MAX_OPERANDS]))
            for i in range(0, len(chunks), _MAX_OPERANDS)
        ]
    return [(find_node(keys.universe(chunk)), [chunk]) for chunk in chunks]


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
