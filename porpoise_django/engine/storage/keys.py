"""The Redis key scheme.

Bitmaps are split into chunks of ``2**chunk_bits`` ids. Every key of one chunk
carries the same hash tag (``{c17}``), so on Redis Cluster all bitmaps of a
chunk live in one slot: BITOP across events and Lua over a whole chunk work,
and the cluster spreads chunks over its nodes::

    pp:{c17}:e:active:d:20261122    event "active", day 2026-11-22, chunk 17
    pp:{c17}:u:premium              unique (time-less) event "premium"
    pp:{c17}:all                    every id ever marked (the universe for ~)
    pp:{c17}:tmp:<digest>           expression results (always with a TTL)
    pp:{k:plays}:c:h:2026112213     counter "plays": sorted set id -> count that hour
    pp:{k:plays}:t:h:2026112213     counter "plays": total that hour
    pp:reg:events:first / :last     registry of event names (sorted sets)
    pp:reg:chunks                   registry of chunks that hold ids
    pp:reg:segments                 saved segments (unique events): name -> saved at
    pp:{idmap}:f:<n>                the id map's forward buckets (digest -> sequence)
    pp:{idmap}:r:<n>                its reverse buckets (sequence % 128 -> id)
    pp:{idmap}:fm / :rl / :seq      bucket count, ids over 64 bytes, the sequence
    pp:{idmap}:fwd / :rev           the one-hash layout of 0.1 (migrated on use)
    pp:{idmap}:gen                  the purge generation (bumped by delete_all)
    pp:{idmap:5}:f:<n> ...          shard 5 of an id map of several shards
    pp:{idmap}:epoch                a token created with the data: a new one
                                    means a FLUSHDB or an empty restart
    pp:{idmap:5}:epoch              shard 5's token (several shards)
    pp:{idmap}:shards               the id map's shard count, checked by every lookup

The last two colon-separated parts of an event key are always granularity code
and bucket, neither of which contains a colon, so names with colons
(``song:played``) cannot collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from porpoise_django.engine.names import validate_prefix
from porpoise_django.engine.time.periods import Period


@dataclass(frozen=True)
class KeyScheme:
    """Builds every key the engine uses, for one prefix and chunk size."""

    prefix: str = "pp"
    chunk_bits: int = 20
    #: Shards of the id map ("map" id mode): 1 keeps it in one slot ({idmap}).
    idmap_shards: int = 1

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)
        if not isinstance(self.chunk_bits, int) or not 10 <= self.chunk_bits <= 32:
            raise ValueError(f"chunk_bits must be an int from 10 to 32, got {self.chunk_bits!r}")
        shards = self.idmap_shards
        if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 1024:
            raise ValueError(f"id_map_shards must be an int from 1 to 1024, got {shards!r}")

    @property
    def chunk_size(self) -> int:
        """Ids per chunk."""
        return 1 << self.chunk_bits

    def tag(self, chunk: int) -> str:
        return f"{self.prefix}:{{c{chunk}}}"

    def event(self, name: str, period: Period, chunk: int) -> str:
        return f"{self.prefix}:{{c{chunk}}}:e:{name}:{period.code}:{period.key}"

    def event_bucket(self, name: str, member: str, chunk: int) -> str:
        """The key of event ``name`` in ``chunk`` for a bucket registry member."""
        return f"{self.prefix}:{{c{chunk}}}:e:{name}:{member}"

    def unique(self, name: str, chunk: int) -> str:
        return f"{self.prefix}:{{c{chunk}}}:u:{name}"

    def universe(self, chunk: int) -> str:
        return f"{self.prefix}:{{c{chunk}}}:all"

    def temp(self, chunk: int, digest: str) -> str:
        return f"{self.prefix}:{{c{chunk}}}:tmp:{digest}"

    def counter(self, name: str, period: Period) -> str:
        """Sorted set id -> count of counter ``name`` in ``period``."""
        return f"{self.prefix}:{{k:{name}}}:c:{period.code}:{period.key}"

    def counter_total(self, name: str, period: Period) -> str:
        """Total of counter ``name`` in ``period``."""
        return f"{self.prefix}:{{k:{name}}}:t:{period.code}:{period.key}"

    def counter_temp(self, name: str, digest: str) -> str:
        return f"{self.prefix}:{{k:{name}}}:tmp:{digest}"

    @property
    def counters_first(self) -> str:
        """Sorted set: counter name -> epoch of its earliest increment."""
        return f"{self.prefix}:reg:counters:first"

    @property
    def counters_last(self) -> str:
        return f"{self.prefix}:reg:counters:last"

    @property
    def events_first(self) -> str:
        """Sorted set: event name -> epoch of its earliest mark."""
        return f"{self.prefix}:reg:events:first"

    @property
    def events_last(self) -> str:
        """Sorted set: event name -> epoch of its latest mark."""
        return f"{self.prefix}:reg:events:last"

    @property
    def uniques(self) -> str:
        """Set of unique (time-less) event names."""
        return f"{self.prefix}:reg:uniques"

    @property
    def segments(self) -> str:
        """Hash: saved segment name -> when it was saved (epoch seconds)."""
        return f"{self.prefix}:reg:segments"

    @property
    def chunks(self) -> str:
        """Set of chunk numbers that hold at least one id."""
        return f"{self.prefix}:reg:chunks"

    def idmap_tag(self, shard: int) -> str:
        """The hash tag of id map shard ``shard``: ``{idmap}`` when there is one."""
        return "{idmap}" if self.idmap_shards == 1 else f"{{idmap:{shard}}}"

    def idmap_keys(self, shard: int = 0) -> tuple[str, str, str, str]:
        """The previous layout's forward and reverse hashes (read until migrated),
        then the sequence and generation of one shard (one slot).

        The sequence is never reset, so an index is never given to two ids.
        """
        base = f"{self.prefix}:{self.idmap_tag(shard)}"
        return f"{base}:fwd", f"{base}:rev", f"{base}:seq", f"{base}:gen"

    def idmap_base(self, shard: int = 0) -> str:
        """What the names of one shard's buckets start with: ``<base>:f:<n>`` forward,
        ``<base>:r:<n>`` reverse (see :mod:`~porpoise_django.engine.storage.ids`)."""
        return f"{self.prefix}:{self.idmap_tag(shard)}"

    def idmap_meta(self, shard: int = 0) -> str:
        """Hash of one shard's bucket count (``b``) and number of ids (``n``)."""
        return f"{self.idmap_base(shard)}:fm"

    def idmap_long(self, shard: int = 0) -> str:
        """Hash sequence -> id of one shard's ids longer than a compact bucket holds."""
        return f"{self.idmap_base(shard)}:rl"

    @property
    def idmap_bucket_pattern(self) -> str:
        """A ``SCAN`` pattern for every bucket of every shard (the purge)."""
        return f"{self.prefix}:{{idmap*}}:[fr]:*"

    def idmap_epoch(self, shard: int = 0) -> str:
        """The epoch token of one shard, in its slot (the store's token with one shard)."""
        return f"{self.prefix}:{self.idmap_tag(shard)}:epoch"

    @property
    def epoch(self) -> str:
        """A random token written with the store's first data and never changed:
        one that is gone or new means the data was lost (FLUSHDB, empty restart)."""
        return f"{self.prefix}:{{idmap}}:epoch"

    @property
    def idmap_shard_count(self) -> str:
        """The shard count the id map was created with (``ID_MAP_SHARDS``)."""
        return f"{self.prefix}:{{idmap}}:shards"

    def shard_generations(self) -> list[str]:
        """The generation keys the purge bumps: the global one, and each shard's
        copy that the shard's script reads atomically (the same key with one shard)."""
        keys = [self.generation]
        if self.idmap_shards > 1:
            keys += [self.idmap_keys(s)[3] for s in range(self.idmap_shards)]
        return keys

    @property
    def generation(self) -> str:
        """The purge generation, bumped by every ``delete_all``: processes drop
        cached registrations and id pairs when it moves. In the id map's slot,
        so the map's script reads it atomically."""
        return f"{self.prefix}:{{idmap}}:gen"
