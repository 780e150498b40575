"""The set of ids behind one number of an analysis, as a lazy bitmap expression.

A cohort cell and a funnel step are counted in one round trip for the whole
table; to list *who* is in one of them, :func:`cohort_cell` and
:func:`funnel_step` (and :func:`lifecycle_state` for a lifecycle bar,
:func:`stickiness_days` for a stickiness bar) build the very expression that
number counts, for
:func:`~.people.people` to page through or ``save_as()`` to keep.

Example::

    cell = cohort_cell(pp, "signup", "active", granularity="week",
                       first=dt.date(2026, 10, 5), row=2, offset=3)
    pp.people(cell).total == table.counts[2][3]                        # True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from porpoise_django.engine.analyses.cohorts import (
    COHORT_TYPES,
    MODES,
    history_before,
    history_start,
    template_of,
)
from porpoise_django.engine.analyses.lifecycle import LIFECYCLE_STATES
from porpoise_django.engine.analyses.stickiness import days_of
from porpoise_django.engine.errors import InvalidValue
from porpoise_django.engine.events.bitmaps import Bitmap, Tally, union
from porpoise_django.engine.time.periods import Period
from porpoise_django.engine.values import int_in

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store


def _with(bitmap: Bitmap, narrower: Bitmap | None, period: Period) -> Bitmap:
    return bitmap.bind(period) if narrower is None else bitmap.bind(period) & narrower.bind(period)


def cohort_cell(
    pp: Store,
    select1: str | Bitmap,
    select2: str | Bitmap,
    *,
    first: Any,
    row: int,
    offset: int | None,
    select1b: str | Bitmap | None = None,
    select2b: str | Bitmap | None = None,
    granularity: str = "day",
    mode: str = "on",
    cohort_type: str = "recurring",
) -> Bitmap:
    """The ids of cell (``row``, ``offset``) of the table whose first cohort is the
    ``granularity`` bucket of ``first``, as :func:`~.cohorts.cohort_table` counts
    it; ``offset=None``: the whole cohort (its size)."""
    pp.check_tracked(granularity)
    if mode not in MODES:
        raise InvalidValue(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}", field="mode")
    if cohort_type not in COHORT_TYPES:
        raise InvalidValue(
            f"unknown cohort type {cohort_type!r}; allowed: {', '.join(COHORT_TYPES)}"
        )
    if not int_in(row, 0, 1000) or not (offset is None or int_in(offset, 0, 1000)):
        raise InvalidValue("row and offset must be ints from 0 to 1000", field="row")
    s1, s1b = template_of(pp, select1), template_of(pp, select1b)
    s2, s2b = template_of(pp, select2), template_of(pp, select2b)
    assert s1 is not None and s2 is not None
    table_start = first if isinstance(first, Period) else pp.period(granularity, first)
    period = table_start.delta(row)
    cohort = _with(s1, s1b, period)
    if cohort_type == "first_time":
        before = history_before(pp, s1, history_start(pp, s1, table_start), period)
        if before is not None:
            cohort = cohort - before
    if offset is None:
        return cohort
    target_period = period.delta(offset)
    if mode == "on":
        return cohort & _with(s2, s2b, target_period)
    current = pp.period(granularity)
    if target_period > current:
        return cohort - cohort  # a cell in the future holds nobody yet
    later = pp.range(granularity, target_period.start, current.start)
    return cohort & union([_with(s2, s2b, p) for p in later])


def funnel_step(
    pp: Store,
    steps: Sequence[str | Bitmap],
    step: int,
    *,
    granularity: str = "day",
    window: int = 7,
    start: Any = -6,
    end: Any = 0,
) -> Bitmap:
    """The ids that reached step ``step`` (0 = the first) of the funnel, as
    :func:`~.funnels.funnel` counts them (its drop-off: step k - step k+1)."""
    if not 2 <= len(steps) <= 10:
        raise InvalidValue("a funnel has 2 to 10 steps", field="steps")
    if not int_in(step, 0, len(steps) - 1):
        raise InvalidValue(f"step must be an int from 0 to {len(steps) - 1}", field="step")
    pp.check_tracked(granularity)
    if not int_in(window, 0, 366):
        raise InvalidValue("window must be an int from 0 to 366 periods", field="window")
    templates = [template_of(pp, s) for s in steps[: step + 1]]
    reached: list[Bitmap] = []
    for entry in pp.range(granularity, start, end):
        following = [entry.delta(j) for j in range(window + 1)]
        first_step = templates[0]
        assert first_step is not None
        current = first_step.bind(entry)
        for template in templates[1:]:
            assert template is not None
            current = current & union([template.bind(p) for p in following])
        reached.append(current)
    return union(reached)


def lifecycle_state(
    pp: Store, event: str | Bitmap, period: Any, state: str, *, first: Any = None
) -> Bitmap:
    """The ids of one lifecycle bar: ``state`` (new, returning, resurrecting,
    dormant) of ``event`` in ``period`` (a Period), as
    :func:`~.lifecycle.lifecycle` counts it over a range starting at ``first``
    (a Period; default ``period``: for a plain event the history starts at its
    first mark either way)."""
    if state not in LIFECYCLE_STATES:
        raise InvalidValue(
            f"unknown state {state!r}; allowed: {', '.join(LIFECYCLE_STATES)}", field="state"
        )
    if not isinstance(period, Period):
        raise InvalidValue("period must be a Period, e.g. pp.period('week', -1)", field="period")
    pp.check_tracked(period.granularity)
    template = template_of(pp, event)
    assert template is not None
    start = period if first is None else first
    history = history_before(pp, template, history_start(pp, template, start.prev()), period)
    now_set, before = template.bind(period), template.bind(period.prev())
    if state == "new":
        return now_set if history is None else now_set - history
    if state == "returning":
        return now_set & before
    if state == "dormant":
        return before - now_set
    if history is None:
        return now_set - now_set  # nobody came back from a history that is not there
    return (now_set & history) - before


def stickiness_days(
    pp: Store, event: str | Bitmap, period: Any, days: int, *, at_least: bool = False
) -> Bitmap:
    """The ids of one stickiness bar: those who did ``event`` on exactly ``days``
    days of ``period`` (a week or month Period; ``at_least``: on ``days`` or
    more), as :func:`~.stickiness.stickiness` counts them (``exactly[days - 1]``)."""
    each = days_of(pp, period)
    if not int_in(days, 1, len(each)):
        raise InvalidValue(f"days must be an int from 1 to {len(each)}", field="days")
    template = template_of(pp, event)
    assert template is not None
    return Tally([template.bind(d) for d in each], days, at_least=at_least)
