"""Links from a number on a dashboard to the People page listing who is behind it.

A link carries the dashboard's own form fields (so the People page rebuilds
the very expression the number counts) plus what picks the number out:
``source=cohort`` with ``first`` (the first cohort's date), ``row`` and
``offset`` (``size`` for the cohort itself); ``source=funnel`` with ``step``
(and ``drop=1`` for those who stopped before it); ``source=query`` with ``q``
and ``period``; ``source=lifecycle`` with ``state``, ``first`` and ``at``,
``source=stickiness`` with ``days`` (and ``at_least``), ``source=chart`` and
``source=overview`` with ``at`` (the period's start, ISO 8601), and
``value`` for one value of a "Breakdown by" (see :mod:`.sources`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from porpoise_django.engine import OTHER
from porpoise_django.i18n import engine_message

#: Form fields that only change how a dashboard shows its numbers.
_DISPLAY_ONLY = {"format", "display", "segments"}


def people_url(site_name: str, source: str, fields: Mapping[str, Any], **pick: Any) -> str:
    """The People page for ``source`` with the dashboard's ``fields`` and ``pick``."""
    query = QueryDict(mutable=True)
    for key, value in fields.items():
        if key not in _DISPLAY_ONLY and value not in (None, ""):
            query[key] = str(value)
    query["source"] = source
    for key, value in pick.items():
        query[key] = str(value)
    return f"{reverse(f'{site_name}:porpoise_people')}?{query.urlencode()}"


def cohort_links(
    site_name: str, fields: Mapping[str, Any], first: str
) -> Callable[[int, int | None], str]:
    """``link(row, offset)`` for the cells of one cohort table (``offset`` None: the
    cohort's size). The page's address and the shared part of the query are
    made once: a table of 900 cells would otherwise spend most of its time on
    ``reverse()`` and ``urlencode()``."""
    base = people_url(site_name, "cohort", fields, first=first)

    def link(row: int, offset: int | None) -> str:
        at = "size" if offset is None else offset
        return f"{base}&row={row}&offset={at}"

    return link


def period_links(
    site_name: str, source: str, fields: Mapping[str, Any], **pick: Any
) -> Callable[[Any], str]:
    """``link(period)``: the People page of ``source`` for one period's number
    (``at``: the period's start, ISO 8601); the shared part is made once."""
    base = people_url(site_name, source, fields, **pick)

    def link(period: Any) -> str:
        return f"{base}&{urlencode({'at': period.start.isoformat()})}"

    return link


#: A lifecycle's states, in the chart's order, and their names on the pages
#: (the exports keep the keys).
STATES = {
    "new": _("new"),
    "returning": _("returning"),
    "resurrecting": _("resurrecting"),
    "dormant": _("dormant"),
}


def lifecycle_rows(
    site_name: str, fields: Mapping[str, Any], result: Any, value: str | None = None
) -> list[dict[str, Any]]:
    """One row per state of a lifecycle (``value``: one value's of a breakdown),
    each period's count (dormant as the users lost, not below zero) and link."""
    first = result.periods[0].start.isoformat()
    pick = {"value": value} if value is not None else {}
    rows = []
    for state in STATES:
        link = period_links(site_name, "lifecycle", fields, state=state, first=first, **pick)
        rows.append(
            {
                "state": state,
                "label": str(STATES[state]),
                "value": value,
                "cells": [
                    (abs(n), link(p))
                    for p, n in zip(result.periods, getattr(result, state), strict=True)
                ],
            }
        )
    return rows


def overview_split(
    pp: Any,
    site_name: str,
    rows: list[dict[str, Any]],
    name: str,
    top: int,
    where: Any,
    fields: Mapping[str, Any],
) -> None:
    """Add ``split`` to each overview row: its users today and this week per value
    of property ``name`` (the ``top`` values with the most users this week, the
    rest together as ``$other``), each count with its link; ``split_error`` where
    the event cannot be split (it never carried that event property). Two round
    trips for the page: the values' counts, then the ``$other`` unions."""
    periods = [pp.period(g) for g in ("day", "week") if g in pp.granularities]
    parts: dict[str, dict[str, Any]] = {}
    for row in rows:
        template = pp.event(row["name"]) if where is None else pp.event(row["name"]) & where
        try:
            parts[row["name"]] = pp.split_by(template, name)
        except ValueError as exc:
            row["split_error"] = engine_message(exc)
    bitmaps = [p.bind(t) for each in parts.values() for p in each.values() for t in periods]
    counts = iter(pp.count_bitmaps(bitmaps) if bitmaps else [])
    plans = []
    for row in rows:
        if row["name"] not in parts:
            continue
        each = parts[row["name"]]
        by_value = {v: [next(counts) for _ in periods] for v in each}
        # the most users this week first (then today), the stored $other last
        ranked = sorted(by_value, key=lambda v: (v == OTHER, [-n for n in by_value[v][::-1]], v))
        kept = [v for v in ranked if v != OTHER][:top]
        shown = [(v, by_value[v], {"value": v}) for v in kept]
        plans.append((row, shown, kept, [each[v] for v in ranked if v not in kept]))
    unions = [_union(rest).bind(t) for *_, rest in plans if rest for t in periods]
    others = iter(pp.count_bitmaps(unions) if unions else [])
    for row, shown, kept, rest in plans:
        if rest:
            numbers = [next(others) for _ in periods]
            shown.append((OTHER, numbers, {"value": OTHER, "kept": ",".join(kept)}))
        row["split"] = [
            _split_row(site_name, fields, row["name"], periods, value, numbers, pick)
            for value, numbers, pick in shown
            if any(numbers)
        ]


def _union(bitmaps: list[Any]) -> Any:
    found = bitmaps[0]
    for other in bitmaps[1:]:
        found = found | other
    return found


def _split_row(
    site_name: str,
    fields: Mapping[str, Any],
    event: str,
    periods: list[Any],
    value: str,
    numbers: list[int],
    pick: dict[str, str],
) -> dict[str, Any]:
    figures = {}
    for period, count in zip(periods, numbers, strict=True):
        link = period_links(
            site_name, "overview", fields, name=event, granularity=period.granularity, **pick
        )
        figures[period.granularity] = (count, link(period))
    return {"value": value, "today": figures.get("day"), "week": figures.get("week")}
