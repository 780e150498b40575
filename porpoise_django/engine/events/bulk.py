"""Bulk import: bitmaps built client-side with numpy, OR-ed into the stored ones.

For each bucket and chunk touched, the import ``SET``s a temporary key to the
bitmap of its offsets and ``BITOP OR``s it into the stored key, so the cost
per event is a few numpy operations, not a Redis command.

>>> import numpy as np
>>> importer = BulkImporter(client, pp.keys, pp.policy, pp.registry, pp.id_codec)
>>> ids, timestamps = np.arange(1000), np.full(1000, pp.now().timestamp() - 60)
>>> importer.import_arrays("active", ids, timestamps)
1000
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from porpoise_django.engine.errors import InvalidTime
from porpoise_django.engine.events.marks import Row
from porpoise_django.engine.storage.bitarrays import group_bitmaps
from porpoise_django.engine.storage.buckets import BucketRegistry, Entry
from porpoise_django.engine.storage.ids import DirectIds, ExternalId
from porpoise_django.engine.storage.scripts import run_pipeline
from porpoise_django.engine.storage.writes import StoreWriter
from porpoise_django.engine.time.periods import bucket_keys, dense_unique

#: Stored keys OR-ed per pipeline.
_KEYS_PER_PIPELINE = 64
#: (stored key, offsets to set in it, expire at or None)
Write = tuple[str, bytes, float | None]


class BulkImporter(StoreWriter):
    """Imports large batches of marks of one store."""

    def import_arrays(
        self,
        event: str,
        ids: Sequence[ExternalId] | np.ndarray,
        timestamps: Sequence[float] | np.ndarray,
        *,
        granularities: Sequence[str] | None = None,
    ) -> int:
        """``ids[i]`` did ``event`` at ``timestamps[i]`` (epoch seconds or datetime64).

        Every id and time is checked before anything is written. Returns the
        number of events.
        """
        name = self.policy.name(event)
        grans = self.policy.event_granularities(granularities)
        indexes, stamps = self._checked(ids, timestamps)
        if len(indexes) == 0:
            return 0
        now_ts = self.policy.now().timestamp()
        chunk_ids, chunk_index = dense_unique(indexes >> self.keys.chunk_bits)
        offsets = indexes & (self.keys.chunk_size - 1)
        writes: list[Write] = []
        registry: list[Entry] = []
        # The 15-minute slots of the times, grouped once for the granularities above minutes.
        slots = dense_unique(np.floor_divide(stamps, 900))
        for granularity in grans:
            periods, period_index = bucket_keys(granularity, stamps, self.policy.tz, slots=slots)
            expiry = dict(self.policy.writable(periods, now_ts))
            registry += [
                (self.registry.buckets.key("e", name), p.member, e) for p, e in expiry.items()
            ]
            group = period_index * len(chunk_ids) + chunk_index
            for number, bitmap in group_bitmaps(group, offsets, self.keys.chunk_size):
                period = periods[number // len(chunk_ids)]
                if period in expiry:
                    chunk = int(chunk_ids[number % len(chunk_ids)])
                    key = self.keys.event(name, period, chunk)
                    writes.append((key, bitmap, expiry[period]))
        for number, bitmap in group_bitmaps(chunk_index, offsets, self.keys.chunk_size):
            writes.append((self.keys.universe(int(chunk_ids[number])), bitmap, None))
        self._write(writes)
        spans = {name: (float(stamps.min()), float(stamps.max()))}

        def register(pipe: Any) -> None:
            self.registry.queue(pipe, spans, chunk_ids.tolist())
            BucketRegistry.queue(pipe, registry, now_ts)

        run_pipeline(self.client, register, ())
        self.registry.note_chunks(int(c) for c in chunk_ids)
        return len(indexes)

    def _checked(
        self, ids: Sequence[ExternalId] | np.ndarray, timestamps: Sequence[float] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indexes and epoch seconds (int64), every one checked."""
        stamps = np.asarray(timestamps)
        if stamps.dtype.kind == "M":
            stamps = stamps.astype("datetime64[s]").astype(np.int64)
        elif stamps.dtype.kind not in "iuf":
            raise InvalidTime("timestamps must be epoch seconds or a datetime64 array")
        if isinstance(self.id_codec, DirectIds):
            indexes = self.id_codec.check_array(np.asarray(ids))
        else:
            checked = [self.id_codec.check(e) for e in ids]
            indexes = np.asarray(self.id_codec.to_indexes(checked, create=True), dtype=np.int64)
        if len(indexes) != len(stamps):
            raise ValueError(f"{len(indexes)} ids but {len(stamps)} timestamps")
        if len(indexes) == 0:
            return indexes, stamps
        if not np.isfinite(stamps).all():
            raise InvalidTime("timestamps must be finite")
        self.policy.check_window(float(stamps.min()))
        self.policy.check_window(float(stamps.max()))
        return indexes, stamps.astype(np.int64, copy=False)

    def _write(self, writes: Sequence[Write]) -> None:
        """OR each bitmap into its stored key through a temporary key of its slot."""
        token = f"{time.time_ns():x}"
        ttl = self.policy.temp_ttl
        for start in range(0, len(writes), _KEYS_PER_PIPELINE):
            batch = writes[start : start + _KEYS_PER_PIPELINE]

            def build(pipe: Any, batch: Sequence[Write] = batch, start: int = start) -> None:
                for number, (key, bitmap, expire_at) in enumerate(batch):
                    # The temporary key shares the chunk's hash tag (single slot).
                    tag = key.split("}", 1)[0] + "}"
                    temp = f"{tag}:tmp:import:{token}:{start + number}"
                    pipe.set(temp, bitmap, ex=ttl)
                    pipe.execute_command("BITOP", "OR", key, key, temp)
                    pipe.unlink(temp)
                    if expire_at is not None:
                        pipe.expireat(key, int(expire_at))

            run_pipeline(self.client, build, ())

    def bulk_import(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        batch_size: int = 1_000_000,
    ) -> int:
        """Import ``(event, id, when)`` rows in batches of ``batch_size``; every row
        of a batch is validated before the batch is written."""
        total = 0
        batch: dict[str, tuple[list[ExternalId], list[float]]] = defaultdict(lambda: ([], []))
        pending = 0

        def flush() -> int:
            written = 0
            for event, (ids, stamps) in batch.items():
                written += self.import_arrays(
                    event, ids, np.asarray(stamps, dtype=np.float64), granularities=granularities
                )
            batch.clear()
            return written

        for number, row in enumerate(rows):
            try:
                event, external, when = row  # type: ignore[misc]
                name = self.policy.name(event)
                checked = self.id_codec.check(external)
                stamp = self.policy.stamp(when)
            except ValueError as exc:
                raise type(exc)(f"row {number}: {exc}") from None
            ids, stamps = batch[name]
            ids.append(checked)
            stamps.append(stamp)
            pending += 1
            if pending >= batch_size:
                total += flush()
                pending = 0
        return total + flush()


class Importing:
    """The bulk import methods of :class:`~.analytics.Analytics` (mixed in)."""

    importer: BulkImporter

    def import_arrays(
        self,
        event: str,
        ids: Sequence[ExternalId] | np.ndarray,
        timestamps: Sequence[float] | np.ndarray,
        *,
        granularities: Sequence[str] | None = None,
    ) -> int:
        return self.importer.import_arrays(event, ids, timestamps, granularities=granularities)

    def bulk_import(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        batch_size: int = 1_000_000,
    ) -> int:
        return self.importer.bulk_import(rows, granularities=granularities, batch_size=batch_size)
