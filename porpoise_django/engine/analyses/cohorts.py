"""Cohort retention tables, computed in one round trip (funnels: :mod:`.funnels`).

A cohort table (bitmapist's ``get_dates_data``, and more)::

    table = cohort_table(pp, "signup", "active", granularity="week", cohorts=8, offsets=8)
    table.sizes          # users per cohort
    table.counts[r][i]   # of cohort r, how many did select2 i periods later (None: not yet)
    table.percents()     # the same in percent of the cohort
    table.average()      # per offset, over finished cells only, weighted by cohort size

Every cell is an expression over bitmaps; all cells of the table are counted
with one pipeline (one BITOP per operator per chunk, then one script per
chunk that counts every cell where the bitmaps are), so the table costs one
round trip, not one per cell.

Options PostHog users asked for: ``mode="on"`` (did select2 in exactly that
period) or ``"on_or_after"`` (in that period or any later one up to now);
``cohort_type="recurring"`` (everyone who did select1 in the period) or
``"first_time"`` (who did it then for the first time ever, or, for
expressions, for the first time in the table).
"""

from __future__ import annotations

import csv
import io
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from porpoise_django.engine.errors import InvalidValue
from porpoise_django.engine.events.bitmaps import Bitmap, Memo, union
from porpoise_django.engine.events.event import Event
from porpoise_django.engine.names import validate_name
from porpoise_django.engine.storage.scripts import COHORT_CELLS
from porpoise_django.engine.time.periods import Period, cover, period_range
from porpoise_django.engine.values import int_in

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

MODES = ("on", "on_or_after")
COHORT_TYPES = ("recurring", "first_time")
MAX_CELLS = 10_000


def template_of(pp: Store, select: str | Bitmap | None) -> Bitmap | None:
    """An event name or expression as a bitmap template (None for no filter)."""
    if select is None or select == "":
        return None
    if isinstance(select, Bitmap):
        return select
    return Event(pp, validate_name(select))


def _both(a: Bitmap, b: Bitmap | None) -> Bitmap:
    return a if b is None else a & b


@dataclass(frozen=True)
class CohortTable:
    """A computed cohort table; rows are cohorts oldest first, columns offsets 0..n."""

    granularity: str
    mode: str
    cohort_type: str
    periods: list[Period]
    sizes: list[int]
    counts: list[list[int | None]]
    unfinished: list[list[bool]]

    @property
    def labels(self) -> list[str]:
        """Row labels; ISO weeks as ``2026-W47``, agreeing with the buckets."""
        return [p.label for p in self.periods]

    def percents(self) -> list[list[float | None]]:
        """Per cell, retained / cohort size in percent; None where the cell is in the
        future or the cohort is empty (no one to retain: blank, not 0%)."""
        return [
            [None if c is None or not size else 100.0 * c / size for c in row]
            for size, row in zip(self.sizes, self.counts, strict=True)
        ]

    def average(self, *, finished_only: bool = True) -> list[float | None]:
        """Per offset: retained / cohort sizes over the cells counted (percent)."""
        out: list[float | None] = []
        for i in range(len(self.counts[0]) if self.counts else 0):
            retained = total = 0
            for size, row, running in zip(self.sizes, self.counts, self.unfinished, strict=True):
                if row[i] is None or (finished_only and running[i]):
                    continue
                retained += row[i] or 0
                total += size
            out.append(100.0 * retained / total if total else None)
        return out

    def to_csv(self, *, as_percent: bool = True) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        offsets = len(self.counts[0]) if self.counts else 0
        writer.writerow(["cohort", "size", *[f"{self.granularity} {i}" for i in range(offsets)]])
        values: list[list[Any]] = self.percents() if as_percent else list(self.counts)
        for label, size, row in zip(self.labels, self.sizes, values, strict=True):
            cells = ["" if v is None else (f"{v:.2f}" if as_percent else str(v)) for v in row]
            writer.writerow([label, size, *cells])
        return buffer.getvalue()


def cohort_table(
    pp: Store,
    select1: str | Bitmap,
    select2: str | Bitmap,
    *,
    select1b: str | Bitmap | None = None,
    select2b: str | Bitmap | None = None,
    granularity: str = "day",
    cohorts: int = 10,
    offsets: int = 10,
    start: Any = None,
    mode: str = "on",
    cohort_type: str = "recurring",
) -> CohortTable:
    """Retention of the ``select1`` cohorts into ``select2``; see the module docstring.

    ``start`` (a date or datetime) is the first cohort; by default the table
    ends with the current period. ``offsets`` columns follow offset 0.
    """
    [table] = cohort_tables(
        pp,
        select1,
        select2,
        {"": None},
        select1b=select1b,
        select2b=select2b,
        granularity=granularity,
        cohorts=cohorts,
        offsets=offsets,
        start=start,
        mode=mode,
        cohort_type=cohort_type,
    ).values()
    return table


def cohort_tables(
    pp: Store,
    select1: str | Bitmap,
    select2: str | Bitmap,
    segments: Mapping[str, Bitmap | None],
    *,
    select1b: str | Bitmap | None = None,
    select2b: str | Bitmap | None = None,
    granularity: str = "day",
    cohorts: int = 10,
    offsets: int = 10,
    start: Any = None,
    mode: str = "on",
    cohort_type: str = "recurring",
) -> dict[str, CohortTable]:
    """One table per segment (its cohorts narrowed by the segment's bitmap, or not
    for None), sharing the targets: all counted in one pass, one round trip.

    >>> pp.set_properties(1, {"plan": "pro"})
    >>> pp.mark_many([("signup", 1), ("active", 1), ("signup", 2)])
    3
    >>> pro, free = pp.where(plan="pro"), pp.where(plan="free")
    >>> tables = cohort_tables(pp, "signup", "active", {"pro": pro, "free": free}, cohorts=2)
    >>> tables["pro"].sizes, tables["free"].sizes
    ([0, 1], [0, 0])
    """
    pp.check_tracked(granularity)
    _check_shape(cohorts, offsets, mode, cohort_type)
    s1, s1b = template_of(pp, select1), template_of(pp, select1b)
    s2, s2b = template_of(pp, select2), template_of(pp, select2b)
    assert s1 is not None and s2 is not None
    if start is None:
        first = pp.period(granularity).delta(-(cohorts - 1))
    else:
        first = pp.period(granularity, start)
    rows = [first.delta(r) for r in range(cohorts)]
    begin = history_start(pp, s1, first) if cohort_type == "first_time" else None
    row_sets: list[Bitmap] = []
    for segment in segments.values():
        narrow = segment if s1b is None else (s1b if segment is None else s1b & segment)
        row_sets += _cohort_sets(pp, s1, narrow, rows, begin)

    def target(period: Period) -> Bitmap:
        return _both(s2.bind(period), s2b.bind(period) if s2b is not None else None)

    grid = _Grid(first, cohorts, offsets, mode, pp.clock(), pp.period(granularity))
    grid.lay_out(target)
    cells = [(r + k * cohorts, t) for k in range(len(segments)) for r, t in grid.cells]
    sizes, cell_counts = _count_cells(pp, row_sets, grid.targets, cells)
    tables = {}
    for k, name in enumerate(segments):
        counted = cell_counts[k * len(grid.cells) : (k + 1) * len(grid.cells)]
        tables[name] = CohortTable(
            granularity=granularity,
            mode=mode,
            cohort_type=cohort_type,
            periods=rows,
            sizes=sizes[k * cohorts : (k + 1) * cohorts],
            counts=[[None if i is None else counted[i] for i in row] for row in grid.layout],
            unfinished=grid.unfinished,
        )
    return tables


def _cohort_sets(
    pp: Store, s1: Bitmap, narrow: Bitmap | None, rows: list[Period], begin: Any
) -> list[Bitmap]:
    """The cohort of each row: ``select1`` narrowed, less earlier doers for
    first-time cohorts (``begin`` set)."""
    sets: list[Bitmap] = []
    for period in rows:
        cohort = _both(s1.bind(period), narrow.bind(period) if narrow is not None else None)
        if begin is not None:
            before = history_before(pp, s1, begin, period)
            if before is not None:
                cohort = cohort - before
        sets.append(cohort)
    return sets


def _check_shape(cohorts: object, offsets: object, mode: str, cohort_type: str) -> None:
    if mode not in MODES:
        raise InvalidValue(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}", field="mode")
    if cohort_type not in COHORT_TYPES:
        raise InvalidValue(
            f"unknown cohort type {cohort_type!r}; allowed: {', '.join(COHORT_TYPES)}"
        )
    for value, label, low in ((cohorts, "cohorts", 1), (offsets, "offsets", 0)):
        if not int_in(value, low, 1000):
            raise InvalidValue(
                f"{label} must be an int from {low} to 1000, got {value!r}", field=label
            )
    assert isinstance(cohorts, int) and isinstance(offsets, int)
    if cohorts * (offsets + 1) > MAX_CELLS:
        raise InvalidValue(
            f"a table of {cohorts} x {offsets + 1} cells is over {MAX_CELLS} cells",
            field="cohorts",
        )


class _Grid:
    """Which cells of the table exist, which are still running, and the target
    set each one is counted against.

    Each cell is ``|cohort(r) AND target(period)|``: the targets are indexed by
    their period, shared by every row that reaches it.
    """

    def __init__(
        self, first: Period, cohorts: int, offsets: int, mode: str, now: Any, current: Period
    ) -> None:
        self.cohorts, self.offsets, self.mode, self.now = cohorts, offsets, mode, now
        self.current = current
        # Every period of the table once: row r, offset i is timeline[r + i].
        self.timeline = [first]
        for _ in range(cohorts + offsets):
            self.timeline.append(self.timeline[-1].next())
        self.starts = [p.start for p in self.timeline]
        self.reached = sum(1 for start in self.starts if start <= now)  # periods begun by now
        self.targets: list[Bitmap] = []
        self.cells: list[tuple[int, int]] = []
        self.layout: list[list[int | None]] = []
        self.unfinished: list[list[bool]] = []

    def lay_out(self, target: Callable[[Period], Bitmap]) -> None:
        target_index: dict[int, int] = {}
        for r in range(self.cohorts):
            row_layout: list[int | None] = []
            row_running: list[bool] = []
            for i in range(self.offsets + 1):
                k = r + i
                # In "on" mode a cell grows until its period ends; in "on_or_after"
                # mode every cell counts up to the present, so none is final.
                row_running.append(self.mode == "on_or_after" or self.starts[k + 1] > self.now)
                if self.starts[k] > self.now:
                    row_layout.append(None)
                    continue
                if k not in target_index:
                    target_index[k] = len(self.targets)
                    self.targets.append(self._target(k, target))
                row_layout.append(len(self.cells))
                self.cells.append((r, target_index[k]))
            self.layout.append(row_layout)
            self.unfinished.append(row_running)

    def _target(self, k: int, target: Callable[[Period], Bitmap]) -> Bitmap:
        if self.mode == "on":
            return target(self.timeline[k])
        # From this period to the current one: inside the timeline unless the
        # whole table lies in the past.
        later = (
            self.timeline[k : self.reached]
            if self.reached < len(self.timeline)
            else _periods_between(self.timeline[k], self.current)
        )
        return union([target(p) for p in later])


#: The plan's costs, in bytes scanned by the server's BITOP + BITCOUNT of a cell
#: (see COHORT_CELLS; measured on Valkey 8.1 with redis-py and numpy 2): a cell
#: is cut to its row's bytes that hold ids when those are under a third of the
#: bitmaps' length (copying the two cuts costs about two scans); an id tested
#: here (numpy, in a fetched target) costs about 60 bytes scanned, and a byte
#: the script sends back about 15.
TRIM, GATHER, TRANSFER = 3, 60, 15
#: Cells per script call: Redis runs one script at a time, so a large table is
#: counted in several calls per chunk, letting other clients in between
#: (about 40 ms of server time per call at most: 128 KiB chunks, whole cells).
CELLS_PER_CALL = 1000


def _count_cells(
    pp: Store,
    row_sets: Sequence[Bitmap],
    targets: Sequence[Bitmap],
    cells: Sequence[tuple[int, int]],
) -> tuple[list[int], list[int]]:
    """Row sizes and ``|row AND target|`` per cell, summed over chunks.

    One pipeline materialises the rows and targets that are expressions
    (plain events are keys already) and sends one COHORT_CELLS script per
    chunk: the cells are counted where the bitmaps are, one round trip per
    node on a cluster, each cell over the bytes where its row has ids only
    (signup cohorts sit in narrow id bands). Rows of few ids spread over many
    bytes come back with the targets they need, when sending those costs less
    than scanning them, and their cells are counted here by testing the ids.
    """
    for bitmap in (*row_sets, *targets):
        bitmap.check_bound()
    chunks = pp.chunks()
    if not chunks:
        return [0] * len(row_sets), [0] * len(cells)
    head = [len(row_sets), len(targets), TRIM, GATHER, TRANSFER]
    batches = [cells[i : i + CELLS_PER_CALL] for i in range(0, len(cells), CELLS_PER_CALL)]
    calls: list[list[Any]] = []
    for batch in batches or [[]]:
        pairs = [n + 1 for cell in batch for n in cell]
        calls.append([*head, struct.pack(f">{len(pairs)}I", *pairs)])
    positions: list[int] = []

    def build(pipe: Any) -> None:
        positions.clear()
        for chunk in chunks:
            memo: Memo = {}
            keys = [b.compile(chunk, pipe, memo) for b in (*row_sets, *targets)]
            keys += [pp.keys.temp(chunk, f"cohort-cells:{i}") for i in range(3)]
            for args in calls:
                positions.append(len(pipe))
                COHORT_CELLS.queue(pipe, keys, args)

    replies = pp.run(build, (COHORT_CELLS,))
    sizes = np.zeros(len(row_sets), dtype=np.int64)
    counts = np.zeros(len(cells), dtype=np.int64)
    for number, position in enumerate(positions):
        reply = replies[position]
        b = number % len(calls)
        batch = batches[b] if batches else []
        batch_counts = np.array(reply[len(row_sets) : -2], dtype=np.int64)
        if b == 0:  # every call of a chunk counts the rows: take them once
            sizes += np.array(reply[: len(row_sets)], dtype=np.int64)
        if reply[-2]:
            _test_ids(reply[-2], reply[-1], batch, batch_counts)
        counts[b * CELLS_PER_CALL : b * CELLS_PER_CALL + len(batch)] += batch_counts
    return sizes.tolist(), counts.tolist()


def _test_ids(
    rows: list[Any], targets: list[Any], cells: Sequence[tuple[int, int]], counts: np.ndarray
) -> None:
    """Count in ``counts`` the cells the server left to us (-1): for each row sent
    back (index, first byte, bytes), how many of its ids each target holds."""
    members: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for index, first, raw in rows:
        row = np.frombuffer(raw, dtype=np.uint8)
        where = np.flatnonzero(row)  # the bytes that hold ids: few, in a sparse row
        bits = np.unpackbits(row[where]).reshape(-1, 8).view(np.bool_)
        at, bit = np.nonzero(bits)
        ids = (where[at] + int(first)) * 8 + bit
        members[int(index) - 1] = (ids >> 3, (7 - (ids & 7)).astype(np.uint8))
    columns = {int(t) - 1: np.frombuffer(raw or b"", dtype=np.uint8) for t, _, raw in targets}
    for c in np.flatnonzero(counts < 0):
        r, t = cells[int(c)]
        column = columns.get(t, _EMPTY)
        byte, shift = members[r]
        inside = byte < len(column)
        if not inside.all():
            byte, shift = byte[inside], shift[inside]
        counts[c] = int(np.count_nonzero((column[byte] >> shift) & 1))


_EMPTY = np.zeros(0, dtype=np.uint8)


def _periods_between(first: Period, last: Period) -> list[Period]:
    """``first`` to ``last`` inclusive (``[first]`` if ``last`` is not later)."""
    periods = [first]
    while periods[-1] < last:
        periods.append(periods[-1].next())
    return periods


def history_start(pp: Store, s1: Bitmap, table_start: Period) -> Any:
    """Where "before" starts for first-time logic: the event's first mark for a
    plain event (one registry read), else the table's start; None if never marked."""
    begin = table_start.start
    if isinstance(s1, Event):
        span = pp.event_span(s1.name)
        if span is None:
            return None
        begin = min(begin, span[0])
    return begin


def history_before(pp: Store, s1: Bitmap, begin: Any, period: Period) -> Bitmap | None:
    """Ids that did ``s1`` from ``begin`` until before ``period``, over the fewest
    stored buckets."""
    if begin is None:
        return None
    if period.start <= begin:
        return None
    earlier = period_range(
        period.granularity, begin, period.prev().start, tz=pp.tz, max_buckets=10**6
    )
    buckets = cover(earlier, pp.granularities, pp.clock()) or list(earlier)
    return union([s1.bind(p) for p in buckets])
