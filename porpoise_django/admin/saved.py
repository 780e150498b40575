"""Saved reports' storage: one hash under the prefix, name -> the page and its
whole query as JSON (see :mod:`.reports` for the pages)."""

from __future__ import annotations

import json
import time
from typing import Any

from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext

from porpoise_django.admin.pages import TITLES
from porpoise_django.engine import Analytics

#: Reports kept at most (a report is a few hundred bytes).
MAX_REPORTS = 200
MAX_NAME = 80
#: The pages a report can open (the overview has no query to keep).
PAGES = ("cohorts", "funnels", "charts", "lifecycle", "decisions", "people")


def key(pp: Analytics) -> str:
    return f"{pp.keys.prefix}:admin:reports"


def saved(pp: Analytics) -> list[dict[str, Any]]:
    """Every saved report, the pinned ones first, then by name."""
    raw = pp.client.hgetall(key(pp))
    reports = []
    for name, value in raw.items():
        try:
            report = json.loads(value)
        except ValueError:
            continue
        report["name"] = name.decode() if isinstance(name, bytes) else name
        reports.append(report)
    return sorted(reports, key=lambda r: (not r.get("pinned"), r["name"].lower()))


def save(pp: Analytics, name: str, page: str, query: str, *, pinned: bool = False) -> None:
    """Keep ``query`` of ``page`` under ``name`` (replacing a report of that name)."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise ValueError(
            gettext("a report's name is 1 to %(most)s printable characters") % {"most": MAX_NAME}
        )
    if page not in PAGES:
        raise ValueError(
            gettext("unknown page %(page)r; reports open: %(pages)s")
            % {"page": page, "pages": ", ".join(PAGES)}
        )
    fields = QueryDict(query)
    kept = QueryDict(mutable=True)
    for field, value in fields.items():
        if field != "format":
            kept[field] = str(value)
    if pp.client.hlen(key(pp)) >= MAX_REPORTS and not pp.client.hexists(key(pp), name):
        raise ValueError(
            gettext("at most %(most)s reports: delete one first") % {"most": MAX_REPORTS}
        )
    report = {"page": page, "query": kept.urlencode(), "pinned": pinned, "saved_at": time.time()}
    pp.client.hset(key(pp), name, json.dumps(report))


def titled(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each report with the title of its page (``page_title``, in the page's language)."""
    return [{**r, "page_title": TITLES.get(r.get("page", ""), r.get("page", ""))} for r in reports]


def url_of(site_name: str, report: dict[str, Any]) -> str:
    """The page URL that opens ``report`` whole."""
    page = reverse(f"{site_name}:porpoise_{report['page']}")
    return f"{page}?{report['query']}" if report["query"] else page
