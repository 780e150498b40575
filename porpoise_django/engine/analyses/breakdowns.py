"""Every analysis split by a property: ``breakdown="plan"`` gives one result per value.

A person property splits by who the users are now (the cohort, the funnel's
entrants, the event's users restricted to holders of the value); an event
property by what the event carried (the cohort's or the funnel's first event,
or the analysed event, restricted to the value).

Example::

    tables = cohort_table(pp, "signup", "active", breakdown="plan")
    tables["pro"].percents()
    funnel(pp, ["visit", "signup"], breakdown="source")["ads"].counts
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

from porpoise_django.engine.analyses import cohorts, funnels
from porpoise_django.engine.analyses import lifecycle as lifecycles
from porpoise_django.engine.analyses import stickiness as stickinesses
from porpoise_django.engine.events.bitmaps import Bitmap
from porpoise_django.engine.names import validate_name
from porpoise_django.engine.time.periods import Period, PeriodRange

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store


def _template(pp: Store, select: str | Bitmap) -> Bitmap:
    template = cohorts.template_of(pp, select)
    if template is None:  # "" or None: the name check says why
        validate_name(select)
    assert template is not None
    return template


@overload
def cohort_table(
    pp: Store,
    select1: str | Bitmap,
    select2: str | Bitmap,
    *,
    breakdown: None = None,
    **options: Any,
) -> cohorts.CohortTable: ...
@overload
def cohort_table(
    pp: Store, select1: str | Bitmap, select2: str | Bitmap, *, breakdown: str, **options: Any
) -> dict[str, cohorts.CohortTable]: ...
def cohort_table(
    pp: Store,
    select1: str | Bitmap,
    select2: str | Bitmap,
    *,
    breakdown: str | None = None,
    **options: Any,
) -> cohorts.CohortTable | dict[str, cohorts.CohortTable]:
    """:func:`.cohorts.cohort_table`; with ``breakdown``, ``{value: CohortTable}``:
    cohorts restricted to holders of each value (person property) or to the
    ``select1`` events that carried it (event property)."""
    if breakdown is None:
        return cohorts.cohort_table(pp, select1, select2, **options)
    if pp.property_kind(breakdown) == "person":
        # Narrowing the cohorts (as select1b does), so that first-time cohorts
        # keep select1's meaning; every table in one pass over the chunks.
        values = pp.property_values(breakdown)
        segments = {value: pp.where(**{breakdown: value}) for value in values}
        return cohorts.cohort_tables(pp, select1, select2, segments, **options)
    parts = pp.split_by(_template(pp, select1), breakdown)
    return {v: cohorts.cohort_table(pp, part, select2, **options) for v, part in parts.items()}


@overload
def funnel(
    pp: Store, steps: Sequence[str | Bitmap], *, breakdown: None = None, **options: Any
) -> funnels.FunnelResult: ...
@overload
def funnel(
    pp: Store, steps: Sequence[str | Bitmap], *, breakdown: str, **options: Any
) -> dict[str, funnels.FunnelResult]: ...
def funnel(
    pp: Store,
    steps: Sequence[str | Bitmap],
    *,
    breakdown: str | None = None,
    **options: Any,
) -> funnels.FunnelResult | dict[str, funnels.FunnelResult]:
    """:func:`.funnels.funnel`; with ``breakdown``, ``{value: FunnelResult}`` by the
    entrants' value (person property) or by the first step's value (event property)."""
    if breakdown is None:
        return funnels.funnel(pp, steps, **options)
    if not steps:
        return funnels.funnel(pp, steps, **options)
    first = _template(pp, steps[0])
    names = [s if isinstance(s, str) else s.signature for s in steps]
    results = {}
    for value, part in pp.split_by(first, breakdown).items():
        result = funnels.funnel(pp, [part, *steps[1:]], **options)
        results[value] = dataclasses.replace(result, steps=names)
    return results


@overload
def lifecycle(
    pp: Store, event: str | Bitmap, periods: PeriodRange, *, breakdown: None = None
) -> lifecycles.Lifecycle: ...
@overload
def lifecycle(
    pp: Store, event: str | Bitmap, periods: PeriodRange, *, breakdown: str
) -> dict[str, lifecycles.Lifecycle]: ...
def lifecycle(
    pp: Store, event: str | Bitmap, periods: PeriodRange, *, breakdown: str | None = None
) -> lifecycles.Lifecycle | dict[str, lifecycles.Lifecycle]:
    """:func:`.lifecycle.lifecycle`; with ``breakdown``, ``{value: Lifecycle}``."""
    if breakdown is None:
        return lifecycles.lifecycle(pp, event, periods)
    parts = pp.split_by(_template(pp, event), breakdown)
    return {value: lifecycles.lifecycle(pp, part, periods) for value, part in parts.items()}


@overload
def stickiness(
    pp: Store, event: str | Bitmap, period: Period, *, breakdown: None = None
) -> stickinesses.Stickiness: ...
@overload
def stickiness(
    pp: Store, event: str | Bitmap, period: Period, *, breakdown: str
) -> dict[str, stickinesses.Stickiness]: ...
def stickiness(
    pp: Store, event: str | Bitmap, period: Period, *, breakdown: str | None = None
) -> stickinesses.Stickiness | dict[str, stickinesses.Stickiness]:
    """:func:`.stickiness.stickiness`; with ``breakdown``, ``{value: Stickiness}``."""
    if breakdown is None:
        return stickinesses.stickiness(pp, event, period)
    parts = pp.split_by(_template(pp, event), breakdown)
    return {value: stickinesses.stickiness(pp, part, period) for value, part in parts.items()}
