"""What each dashboard shows, as CSV or JSON: ``?format=csv`` or ``?format=json``
on any page, with the page's own query (the links under each answer carry it).

A table is columns and rows: the cohort table, the funnel's steps, a chart's
series one column each and one row per period, the lifecycle's states and the
stickiness table, the decision report, the overview's events and counters.
CSV cells are made safe for spreadsheets (:func:`porpoise_django.tables.csv_cell`);
a form the page refuses is a 400 with its errors, in the format asked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils.translation import gettext

from porpoise_django.tables import csv_cell, csv_safe

FORMATS = ("csv", "json")


def wanted(request: HttpRequest) -> str | None:
    """``"csv"`` or ``"json"`` when the query asks for an export."""
    fmt = request.GET.get("format")
    return fmt if fmt in FORMATS else None


def links(request: HttpRequest, form: Any = None) -> dict[str, str]:
    """The query strings of this page's exports: the form's data when it has
    some (so the defaults shown at first sight are in the link), else the query."""
    query = QueryDict(mutable=True)
    data = form.data if form is not None and form.is_bound else request.GET
    for key, value in data.items():
        if key != "format" and value not in (None, ""):
            query[key] = str(value)
    out = {"query": query.urlencode()}
    for fmt in FORMATS:
        query["format"] = fmt
        out[fmt] = query.urlencode()
    return out


def table(
    fmt: str, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> HttpResponse:
    """``rows`` under ``columns`` as a CSV download or a JSON list of objects."""
    if fmt == "json":
        return JsonResponse(
            {
                "columns": list(columns),
                "rows": [dict(zip(columns, row, strict=True)) for row in rows],
            }
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in columns])
    for row in rows:
        writer.writerow(["" if v is None else csv_cell(_plain(v)) for v in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def refused(fmt: str, form: Any) -> HttpResponse:
    """A form the page refuses: 400 with its errors."""
    errors = {k: [str(e) for e in v] for k, v in form.errors.items()} if form.is_bound else {}
    if not form.is_bound:
        errors = {"__all__": [gettext("nothing to export: give the page's query")]}
    if fmt == "json":
        return JsonResponse({"errors": errors}, status=400)
    lines = [f"{k}: {m}" for k, v in errors.items() for m in v]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain", status=400)


def chart(fmt: str, name: str, spec: dict[str, Any]) -> HttpResponse:
    """A chart's periods as rows, each series a column."""
    # The periods' own labels ("(so far)" is the page's), and each series' key
    # where its label is in the page's language (the lifecycle's states).
    columns = ["period", *[d.get("key", d["label"]) for d in spec["datasets"]], "partial"]
    partial = set(spec.get("partial", ()))
    rows = [
        [label, *[d["data"][i] for d in spec["datasets"]], i in partial]
        for i, label in enumerate(spec.get("periods", spec["labels"]))
    ]
    return table(fmt, name, columns, rows)


def chart_or_refused(fmt: str, form: Any, spec: dict[str, Any] | None, name: str) -> HttpResponse:
    return chart(fmt, name, spec) if spec is not None else refused(fmt, form)


def cohorts(fmt: str, form: Any, found: Any, as_percent: bool) -> HttpResponse:
    """The cohort table: the CSV bitmapist writes, or the same rows as JSON."""
    if found is None:
        return refused(fmt, form)
    if fmt == "csv":
        response = HttpResponse(
            csv_safe(found.to_csv(as_percent=as_percent)), content_type="text/csv"
        )
        response["Content-Disposition"] = 'attachment; filename="cohorts.csv"'
        return response
    offsets = len(found.counts[0]) if found.counts else 0
    columns = ["cohort", "size", *[f"{found.granularity} {i}" for i in range(offsets)]]
    values = found.percents() if as_percent else found.counts
    rows = [
        [label, size, *row]
        for label, size, row in zip(found.labels, found.sizes, values, strict=True)
    ]
    return table(fmt, "cohorts", columns, rows)


def funnel(
    fmt: str,
    form: Any,
    steps: list[dict[str, Any]],
    which: str | None = None,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """The funnel's steps; ``?table=over_time`` its entry periods, ``?table=times``
    its time to convert (``within_N``: reached within N periods of entering)."""
    if not steps or extra is None:
        return refused(fmt, form)
    if which == "over_time":
        labels = [s["label"] for s in steps[1:]]
        columns = ["entered_in", "users_entering", *[f"percent_reached {x}" for x in labels]]
        rows = [[r["period"], r["entered"], *r["reached"]] for r in extra["over_time"]]
        return table(fmt, "funnel-over-time", columns, rows)
    if which == "times" and extra["times"]:
        width = len(extra["times"][0]["within"])
        columns = ["step", "median_periods", *[f"within_{d}" for d in range(width)]]
        rows = [[t["label"], t["median"], *t["within"]] for t in extra["times"]]
        return table(fmt, "funnel-times", columns, rows)
    columns = ["step", "users", "conversion_from_previous"]
    return table(fmt, "funnel", columns, [[s["label"], s["count"], s["conversion"]] for s in steps])


def lifecycle(
    fmt: str, form: Any, spec: dict[str, Any] | None, sticky: Any, which: str | None = None
) -> HttpResponse:
    """The lifecycle chart's periods; ``?table=stickiness`` gives the stickiness table."""
    if spec is None:
        return refused(fmt, form)
    if which == "stickiness" and sticky is not None:
        rows = [
            [k + 1, e, a]
            for k, (e, a) in enumerate(zip(sticky.exactly, sticky.at_least, strict=True))
        ]
        return table(fmt, "stickiness", ["days_active", "exactly", "at_least"], rows)
    return chart(fmt, "lifecycle", spec)


def decision(fmt: str, form: Any, report: Any) -> HttpResponse:
    if report is None:
        return refused(fmt, form)
    columns = ["option", "trials", "successes", "rate", "low", "high", "win_probability", "from"]
    rows = [
        [
            r.option,
            r.trials,
            r.successes,
            r.rate,
            r.low,
            r.high,
            r.win_probability,
            r.dimension or "all",
        ]
        for r in report
    ]
    return table(fmt, "decision", columns, rows)


def overview(
    fmt: str, events: list[dict[str, Any]], counters: list[dict[str, Any]]
) -> HttpResponse:
    """The overview's rows (this page of them): kind, name, today, this week."""
    rows = [["event", r["name"], r["today"], r["week"], r.get("description", "")] for r in events]
    rows += [
        ["counter", r["name"], r["today"], r["week"], r.get("description", "")] for r in counters
    ]
    return table(fmt, "overview", ["kind", "name", "today", "this_week", "description"], rows)


def _plain(value: Any) -> Any:
    """7.0 as 7 (counter sums are floats), other values as they are."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
