"""Funnels: how many distinct users went through steps in order, in one round trip.

>>> pp.mark_many([("visit", 1), ("visit", 2), ("signup", 2), ("purchase", 2)])
4
>>> result = funnel(pp, ["visit", "signup", "purchase"], window=7)
>>> result.counts, result.conversion()
([2, 1, 1], [None, 50.0, 100.0])

Conversion over time (each entry period's own funnel) comes with every
result; the time to convert, in periods, with ``times=True``:

>>> [counts for _, counts in result.entries][-1]
[2, 1, 1]
>>> funnel(pp, ["visit", "purchase"], window=7, times=True).median_periods()
[0, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from porpoise_django.engine.analyses.cohorts import MAX_CELLS, template_of
from porpoise_django.engine.errors import InvalidValue
from porpoise_django.engine.events.bitmaps import Bitmap, BitOp, union
from porpoise_django.engine.time.periods import Period
from porpoise_django.engine.values import int_in

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store


#: The longest window a time to convert is measured over (each period of it
#: is a level of the expression: see :func:`_times`).
MAX_TIMES_WINDOW = 60
#: The most BITOPs per chunk a time to convert may take (entries x steps x window x 2).
MAX_TIMES_NODES = 20_000


@dataclass(frozen=True)
class FunnelResult:
    steps: list[str]
    counts: list[int]
    #: Conversion over time: per entry period, the funnel of those who
    #: entered in it alone (``[(period, counts per step)]``).
    entries: list[tuple[Period, list[int]]] = field(default_factory=list)
    #: With ``times=True``: per step, how many reached it within ``d``
    #: periods of entering, for ``d`` = 0 .. window (the last is ``counts``).
    within: list[list[int]] | None = None

    def median_periods(self) -> list[int | None]:
        """Per step, the median time to reach it from entering the funnel, in
        periods: the fewest periods within which half of those who reached it
        did (None when nobody did). Needs ``times=True``.

        The periods are whole buckets: 0 means "in the entry period itself".
        """
        if self.within is None:
            raise InvalidValue("ask the funnel with times=True for its times", field="times")
        out: list[int | None] = []
        for reached in self.within:
            total = reached[-1]
            out.append(
                None if not total else next(d for d, n in enumerate(reached) if 2 * n >= total)
            )
        return out

    def conversion(self) -> list[float | None]:
        """Percent of the previous step reached, per step (None for the first)."""
        out: list[float | None] = [None]
        for previous, current in zip(self.counts, self.counts[1:], strict=False):
            out.append(100.0 * current / previous if previous else None)
        return out

    def overall(self) -> float | None:
        """Percent of the first step that reached the last."""
        return 100.0 * self.counts[-1] / self.counts[0] if self.counts and self.counts[0] else None


def funnel(
    pp: Store,
    steps: Sequence[str | Bitmap],
    *,
    granularity: str = "day",
    window: int = 7,
    start: Any = -6,
    end: Any = 0,
    times: bool = False,
) -> FunnelResult:
    """How many distinct users went through ``steps`` in order.

    A user enters on step 1 in any period ``E`` of ``start..end``; they reach
    step ``k+1`` if they did it in ``E`` or within ``window`` periods after
    it, having reached step ``k`` from the same entry. Each step counts
    users, once each, however many periods they entered in: a user who
    converts from any of their entries counts as converted. Bitmaps record
    periods, not instants, so two steps in the same period count as in
    order. One round trip.

    ``result.entries`` holds each entry period's own funnel (conversion over
    time). With ``times``, ``result.within`` and ``result.median_periods()``
    tell how soon after entering users reached each step (a user's fastest
    entry counts), at most :data:`MAX_TIMES_WINDOW` periods of window.
    """
    if not 2 <= len(steps) <= 10:
        raise InvalidValue("a funnel has 2 to 10 steps", field="steps")
    pp.check_tracked(granularity)
    if not int_in(window, 0, 366):
        raise InvalidValue("window must be an int from 0 to 366 periods", field="window")
    templates = [template_of(pp, s) for s in steps]
    entries = pp.range(granularity, start, end)
    if len(entries) * window > MAX_CELLS:
        raise InvalidValue(
            f"funnel of {len(entries)} entry periods x {window} is too large", field="window"
        )
    per_step: list[list[Bitmap]] = [[] for _ in steps]
    for entry in entries:
        reached = [entry.delta(j) for j in range(window + 1)]
        first_step = templates[0]
        assert first_step is not None
        current: Bitmap = first_step.bind(entry)
        per_step[0].append(current)
        for k, template in enumerate(templates[1:], start=1):
            assert template is not None
            current = current & union([template.bind(p) for p in reached])
            per_step[k].append(current)
    # A user counts once per step: the union over entry periods, not a sum.
    bitmaps = [union(step) for step in per_step]
    bitmaps += [b for step in per_step for b in step]  # each entry's own funnel
    timed = _times(templates, entries.periods(), window) if times else []
    counted = pp.count_bitmaps(bitmaps + timed)
    width, n = len(entries), len(steps)
    own = counted[n : n + n * width]
    names = [s if isinstance(s, str) else s.signature for s in steps]
    return FunnelResult(
        names,
        counted[:n],
        entries=[
            (period, [own[k * width + e] for k in range(n)])
            for e, period in enumerate(entries.periods())
        ],
        within=_rows(counted[n + n * width :], n, window) if times else None,
    )


def times_measurable(entries: int, steps: int, window: int) -> bool:
    """Whether ``funnel(..., times=True)`` takes ``entries`` entry periods of
    ``steps`` steps and a ``window`` (else it raises :class:`InvalidValue`).

    >>> times_measurable(7, 3, 7), times_measurable(7, 3, 61)
    (True, False)
    """
    return window <= MAX_TIMES_WINDOW and entries * steps * (window + 1) * 2 <= MAX_TIMES_NODES


def _times(templates: Sequence[Any], entries: list[Period], window: int) -> list[Bitmap]:
    """Per step and ``d`` = 0 .. window: those who reached the step within ``d``
    periods of an entry, over all entries (the first step: the entrants).

    Built so that the expressions share their parts: "did step k by ``E+d``"
    is "by ``E+d-1``" OR one more stored bitmap, and "reached step k by
    ``E+d``" is "reached step k-1 by ``E+d``" AND that; the readers compute
    each part once per chunk, so this costs about entries x steps x window x 2
    BITOPs instead of a funnel per ``d``.
    """
    steps = len(templates)
    if window > MAX_TIMES_WINDOW:
        raise InvalidValue(
            f"a time to convert is measured over at most {MAX_TIMES_WINDOW} periods of window",
            field="window",
        )
    if not times_measurable(len(entries), steps, window):
        raise InvalidValue(
            f"time to convert over {len(entries)} entry periods x {steps} steps x {window} "
            "is too large: narrow the dates or the window",
            field="window",
        )
    # reached[k][d]: per entry, who reached step k within d periods of it.
    reached: list[list[list[Bitmap]]] = [[[] for _ in range(window + 1)] for _ in range(steps)]
    for entry in entries:
        entrants = templates[0].bind(entry)
        previous = [entrants] * (window + 1)
        for d in range(window + 1):
            reached[0][d].append(entrants)
        for k in range(1, steps):
            done: Bitmap = templates[k].bind(entry)
            row: list[Bitmap] = []
            for d in range(window + 1):
                if d:
                    # Not BitOp.make: that would flatten the chain into one
                    # OR per d and lose the shared parts.
                    done = BitOp(done.store, "OR", [done, templates[k].bind(entry.delta(d))])
                row.append(previous[d] & done)
                reached[k][d].append(row[-1])
            previous = row
    return [union(cell) for step in reached for cell in step]


def _rows(counts: list[int], steps: int, window: int) -> list[list[int]]:
    width = window + 1
    return [counts[k * width : (k + 1) * width] for k in range(steps)]
