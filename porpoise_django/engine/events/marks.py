"""Writing marks: validate a batch, group it, and set its bits in one pipeline.

A batch of ``(event, id[, when])`` rows becomes one ``SET_BITS`` Lua call per
event, chunk and set of buckets (at most ``_OFFSETS_PER_CALL`` offsets each),
plus the registry entries this process has not written lately. The script
reports the bitmaps it had to create: one that this process believed
registered means a purge or an empty restart elsewhere, and the whole
registration is sent again at once.

>>> from porpoise_django.engine.storage.writes import submit
>>> writer = pp.marks      # MarkWriter(client, keys, policy, registry, id_codec, slots)
>>> submit(client, [writer.prepare([("active", 7), ("login", 7)])])
2
"""

from __future__ import annotations

import datetime as dt
import struct
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from porpoise_django.engine.storage.buckets import BucketRegistry, Entry
from porpoise_django.engine.storage.ids import DirectIds, ExternalId, IdMap
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.policy import Policy
from porpoise_django.engine.storage.registry import Registry
from porpoise_django.engine.storage.scripts import SET_BITS, run_pipeline
from porpoise_django.engine.storage.writes import FollowUp, Prepared, StoreWriter, submit
from porpoise_django.engine.time.periods import Period, When
from porpoise_django.engine.time.slots import SlotPeriods

#: Offsets per SET_BITS call: bounds the time one Lua call holds the server.
_OFFSETS_PER_CALL = 20_000
#: From this many offsets a call sends them packed (SET_BITS's "p" form); fewer
#: go as plain arguments, readable in MONITOR and cheaper to decode.
_PACKED_FROM = 16

Row = tuple[str, ExternalId] | tuple[str, ExternalId, Any]
#: (event name, chunk, number of the set of periods) -> offsets in the chunk
Groups = dict[tuple[str, int, int], list[int]]


class MarkWriter(StoreWriter):
    """Validates and prepares marks (and unmarks) of one store."""

    def __init__(
        self,
        client: Any,
        keys: KeyScheme,
        policy: Policy,
        registry: Registry,
        id_codec: DirectIds | IdMap,
        slots: SlotPeriods,
    ) -> None:
        super().__init__(client, keys, policy, registry, id_codec)
        self.slots = slots

    def check(self, event: object, id: object, when: object = None) -> tuple[str, Any, float]:
        """Validate one mark without writing it: ``(name, id, epoch seconds)``."""
        return (self.policy.name(event), self.id_codec.check(id), self.policy.stamp(when))

    def prepare(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
        value: int = 1,
    ) -> Prepared | None:
        """Validate and group marks (``value=0``: unmarks); raises on the first bad
        row, before anything is sent. In id-map mode new ids are mapped here."""
        grans = self.policy.event_granularities(granularities)
        now_ts = self.policy.clock().timestamp()
        names, externals, stamps = self._validate(rows, now_ts)
        if not names:
            return None
        indexes = self.id_codec.to_indexes(externals, create=bool(value))
        self.slots.trim()
        groups: Groups = defaultdict(list)
        spans: dict[str, tuple[float, float]] = {}
        size = self.keys.chunk_size
        # (name, slot) -> its set of periods: looked up once per name and slot of
        # the batch; the slot's span is registered then, not once per mark.
        numbers: dict[tuple[str, int], int] = {}
        for name, index, stamp in zip(names, indexes, stamps, strict=True):
            if index < 0:  # unmark of an id the map never saw: nothing to clear
                continue
            chunk, offset = divmod(index, size)
            slot = int(stamp // 900)
            number = numbers.get((name, slot))
            if number is None:
                number = numbers[(name, slot)] = self.slots.number(slot, grans)
                if value:
                    # Registered by 15-minute slot: a busy event costs one registry
                    # write per slot and process, not one per mark.
                    first, last = slot * 900.0, slot * 900.0 + 899
                    low, high = spans.get(name, (first, last))
                    spans[name] = (min(low, first), max(high, last))
            groups[(name, chunk, number)].append(offset)
        batch = _MarkBatch(self, groups, spans, now_ts, value, track_unique)
        return Prepared(batch.build, batch.done, len(names))

    def _validate(
        self, rows: Iterable[Row], now_ts: float
    ) -> tuple[list[str], list[ExternalId], list[float]]:
        names: list[str] = []
        externals: list[ExternalId] = []
        stamps: list[float] = []
        # Bound once: this loop is most of the cost of a batch of marks.
        name_of, check_id, stamp = self.policy.name, self.id_codec.check, self.policy.stamp
        latest = self.policy.latest_write(now_ts)
        # Plain int ids in range need no more checking in "int" mode.
        max_id = self.id_codec.max_id if isinstance(self.id_codec, DirectIds) else -1
        last_event: object = None
        last_name = ""
        for number, row in enumerate(rows):
            try:
                if len(row) == 2:
                    event, external = row
                    when = None
                else:
                    event, external, when = row
            except (TypeError, ValueError):
                raise ValueError(
                    f"row {number}: expected (event, id) or (event, id, when)"
                ) from None
            try:
                if event is not last_event or type(event) is not str:
                    last_name, last_event = name_of(event), event
                names.append(last_name)
                if type(external) is int and 0 <= external <= max_id:
                    externals.append(external)
                else:
                    externals.append(check_id(external))
                if when is None:
                    stamps.append(now_ts)
                elif type(when) is dt.datetime and when.utcoffset() is not None:
                    # The usual row (an aware datetime in the write window),
                    # without the general path's checks; any other goes there.
                    ts = when.timestamp()
                    stamps.append(ts if 0 <= ts <= latest else stamp(when, now=now_ts))
                else:
                    stamps.append(stamp(when, now=now_ts))
            except ValueError as exc:
                raise type(exc)(f"row {number}: {exc}") from None
        return names, externals, stamps

    def new_chunks(self, ids: Iterable[Any]) -> list[int]:
        """The chunks marks of ``ids`` (checked by :meth:`check`) would create: in
        ``"int"`` mode those of ids in no registered chunk; none in ``"map"`` mode,
        where a new id gets the next dense index."""
        if not isinstance(self.id_codec, DirectIds):
            return []
        size = self.keys.chunk_size
        wanted = {int(i) // size for i in ids}
        if not wanted:
            return []
        return sorted(wanted - set(self.registry.chunks()))

    def write_unique(self, event: object, id: ExternalId, value: int) -> None:
        """Set (``value=1``) or clear a time-less event for ``id``, in one round trip."""
        name = self.policy.name(event)
        [index] = self.id_codec.to_indexes([self.id_codec.check(id)], create=bool(value))
        if index < 0:
            return
        chunk, offset = divmod(index, self.keys.chunk_size)
        keys = self.keys

        def build(pipe: Any) -> None:
            pipe.setbit(keys.unique(name, chunk), offset, value)
            if value:
                pipe.setbit(keys.universe(chunk), offset, 1)
                pipe.sadd(keys.uniques, name)
                pipe.sadd(keys.chunks, chunk)

        run_pipeline(self.client, build, ())
        if value:
            self.registry.note_chunks([chunk])


class _MarkBatch:
    """One prepared batch of marks: what to send, and what its replies mean."""

    def __init__(
        self,
        writer: MarkWriter,
        groups: Groups,
        spans: dict[str, tuple[float, float]],
        now_ts: float,
        value: int,
        track_unique: bool,
    ) -> None:
        self.keys = writer.keys
        self.registry = writer.registry
        self.groups = groups
        self.spans = spans
        self.now_ts = now_ts
        self.value = value
        self.track_unique = track_unique
        buckets = self.registry.buckets
        self.writable: dict[int, list[tuple[Period, float | None]]] = {
            number: writer.policy.writable(writer.slots.periods(number), now_ts)
            for number in {number for _, _, number in groups}
        }
        self.all_chunks = sorted({chunk for _, chunk, _ in groups})
        self.all_buckets: list[Entry] = [
            (buckets.key("e", name), period.member, expire_at)
            for name, number in {(name, number) for name, _, number in groups}
            for period, expire_at in self.writable[number]
        ]
        # Registry entries this process has not written lately go with the
        # batch; the rest are skipped (the hot path is one Lua call).
        self.new_spans, self.chunks = self.registry.unregistered(spans, self.all_chunks)
        self.buckets = buckets.unregistered(self.all_buckets)
        self.sent = {(key, member) for key, member, _ in self.buckets}
        # Per SET_BITS call: its position in this part's replies, the mask of
        # its bitmaps whose registration was skipped as already made, and the
        # bit of its chunk's universe if the chunk's was (a chunk this process
        # registered cannot be new unless it was purged or lost).
        self.calls: list[tuple[int, int, int]] = []

    def build(self, pipe: Any) -> None:
        """Queue the bits, expiries and new registry entries on ``pipe``."""
        self.calls.clear()
        first = len(pipe)
        for (name, chunk, number), offsets in self.groups.items():
            periods = self.writable[number]
            targets, mask, universe = self._targets(name, chunk, periods)
            for start in range(0, len(offsets), _OFFSETS_PER_CALL):
                self.calls.append((len(pipe) - first, mask, universe))
                part = offsets[start : start + _OFFSETS_PER_CALL]
                if len(part) < _PACKED_FROM:
                    SET_BITS.queue(pipe, targets, [self.value, *part])
                else:
                    packed = struct.pack(f">{len(part)}I", *part)
                    SET_BITS.queue(pipe, targets, [f"p{self.value}", packed])
            for period, expire_at in periods:
                if expire_at is not None:
                    pipe.expireat(self.keys.event(name, period, chunk), int(expire_at))
        if self.value:
            self.registry.queue(pipe, self.new_spans, self.chunks)
            BucketRegistry.queue(pipe, self.buckets, self.now_ts)
            if self.track_unique:
                pipe.sadd(self.keys.uniques, *sorted(self.spans))

    def _targets(
        self, name: str, chunk: int, periods: list[tuple[Period, float | None]]
    ) -> tuple[list[str], int, int]:
        """Keys of one SET_BITS call, the mask of those believed registered, and
        the bit of the chunk's universe if the chunk is believed registered."""
        keys = self.keys
        targets = [keys.event(name, period, chunk) for period, _ in periods]
        registry = self.registry.buckets.key("e", name)
        known_chunk = chunk not in self.chunks
        trusted = [known_chunk and (registry, p.member) not in self.sent for p, _ in periods]
        universe = 0
        if self.value:
            targets.append(keys.universe(chunk))
            trusted.append(known_chunk)
            universe = (1 << (len(targets) - 1)) if known_chunk else 0
        if self.track_unique:
            targets.append(keys.unique(name, chunk))
            trusted.append(False)
        mask = sum(1 << k for k, flag in enumerate(trusted) if flag)
        return targets, mask, universe

    def register_all(self, pipe: Any) -> None:
        """Queue every registry entry of the batch, known or not."""
        self.registry.queue(pipe, self.spans, self.all_chunks)
        BucketRegistry.queue(pipe, self.all_buckets, self.now_ts)

    def done(self, replies: list[Any]) -> FollowUp | None:
        """Note what was registered; the full registration if a bitmap believed
        registered turned out new to the server."""
        if not self.value:
            return None
        registry = self.registry
        registry.note_chunks(self.all_chunks)
        created = [int(replies[at] or 0) for at, _, _ in self.calls]
        if any(c & mask for c, (_, mask, _) in zip(created, self.calls, strict=True)):
            # A bitmap this process thought registered was new to the server:
            # a deletion or a purge elsewhere, or Redis came back empty. (A
            # bucket new to one chunk of a registered event is too, now and
            # then: a spare round trip, never a wrong count.)
            registry.forget()
            if any(c & u for c, (_, _, u) in zip(created, self.calls, strict=True)):
                registry.forget_chunks()  # the chunk itself was new: purged or lost
                registry.note_chunks(self.all_chunks)
            registry.remember(self.spans, self.all_chunks)
            registry.buckets.remember(self.all_buckets)
            return self.register_all
        registry.remember(self.new_spans, self.chunks)
        registry.buckets.remember(self.buckets)
        return None


class Marking:
    """The marking methods of :class:`~.analytics.Analytics` (mixed in)."""

    client: Any
    marks: MarkWriter

    def mark(
        self,
        event: str,
        id: ExternalId,
        when: When = None,
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
    ) -> None:
        """Mark that ``id`` did ``event`` at ``when`` (default now), in one round trip."""
        self.mark_many([(event, id, when)], granularities=granularities, track_unique=track_unique)

    def unmark(
        self,
        event: str,
        id: ExternalId,
        when: When = None,
        *,
        granularities: Sequence[str] | None = None,
    ) -> None:
        """Clear the mark of ``id`` for ``event`` in the periods holding ``when``."""
        submit(
            self.client,
            [self.prepare_marks([(event, id, when)], granularities=granularities, value=0)],
        )

    def mark_many(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
    ) -> int:
        """Mark ``(event, id[, when])`` rows in one pipeline; one bad row writes nothing."""
        prepared = self.prepare_marks(rows, granularities=granularities, track_unique=track_unique)
        return submit(self.client, [prepared])

    def prepare_marks(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
        value: int = 1,
    ) -> Prepared | None:
        return self.marks.prepare(
            rows, granularities=granularities, track_unique=track_unique, value=value
        )

    def check_mark(self, event: object, id: object, when: object = None) -> tuple[str, Any, float]:
        return self.marks.check(event, id, when)

    def new_chunks(self, ids: Iterable[Any]) -> list[int]:
        """Chunks that marks of these (checked) ids would create; see
        :meth:`MarkWriter.new_chunks`. A writer for the public bounds what a
        request may allocate with it."""
        return self.marks.new_chunks(ids)

    def mark_unique(self, event: str, id: ExternalId) -> None:
        self.marks.write_unique(event, id, 1)

    def unmark_unique(self, event: str, id: ExternalId) -> None:
        self.marks.write_unique(event, id, 0)
