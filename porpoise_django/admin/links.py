"""Links from a number on a dashboard to the People page listing who is behind it.

A link carries the dashboard's own form fields (so the People page rebuilds
the very expression the number counts) plus what picks the number out:
``source=cohort`` with ``first`` (the first cohort's date), ``row`` and
``offset`` (``size`` for the cohort itself); ``source=funnel`` with ``step``
(and ``drop=1`` for those who stopped before it); ``source=query`` with ``q``
and ``period``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.http import QueryDict
from django.urls import reverse

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
