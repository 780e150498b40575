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
    pp:{idmap}:fwd / :rev / :seq    the id map (external id <-> dense index)
    pp:{idmap}:gen                  the purge generation (bumped by delete_all)

The last two colon-separated parts of an event key are always granularity code
and bucket, neither of which contains a colon, so names with colons
(``song:played``) cannot collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from .names import validate_prefix
from .periods import Period


@dataclass(frozen=True)
class KeyScheme:
    """Builds every key the engine uses, for one prefix and chunk size."""

    prefix: str = "pp"
    chunk_bits: int = 20

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)
        if not isinstance(self.chunk_bits, int) or not 10 <= self.chunk_bits <= 32:
            raise ValueError(f"chunk_bits must be an int from 10 to 32, got {self.chunk_bits!r}")

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
    def chunks(self) -> str:
        """Set of chunk numbers that hold at least one id."""
        return f"{self.prefix}:reg:chunks"

    @property
    def idmap_forward(self) -> str:
        return f"{self.prefix}:{{idmap}}:fwd"

    @property
    def idmap_reverse(self) -> str:
        return f"{self.prefix}:{{idmap}}:rev"

    @property
    def idmap_sequence(self) -> str:
        """Next dense index; never reset, so an index is never given to two ids."""
        return f"{self.prefix}:{{idmap}}:seq"

    @property
    def generation(self) -> str:
        """The purge generation, bumped by every ``delete_all``: processes drop
        cached registrations and id pairs when it moves. In the id map's slot,
        so the map's script reads it atomically."""
        return f"{self.prefix}:{{idmap}}:gen"
