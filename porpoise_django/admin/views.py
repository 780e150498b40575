"""The admin dashboards: page views rendered in the admin's look.

Each page takes the ``AdminSite`` it is installed on as its first argument
(:mod:`.site` binds it): permission, login redirect, header and sidebar all
come from that site, as Django's own admin views take ``self.admin_site``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache, wraps
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.formats import get_format
from django.utils.functional import Promise
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from porpoise_django.admin import exports
from porpoise_django.admin.defaults import (
    DECISION,
    chart_defaults,
    cohort_defaults,
    decision_defaults,
    decision_names,
    decision_options,
    funnel_defaults,
    lifecycle_defaults,
)
from porpoise_django.admin.forms import (
    ChartForm,
    CohortForm,
    DecisionForm,
    FunnelForm,
    LifecycleForm,
    OverviewForm,
)
from porpoise_django.admin.links import (
    STATES,
    cohort_links,
    lifecycle_rows,
    overview_split,
    people_url,
    period_links,
)
from porpoise_django.admin.pages import PAGES, TITLES
from porpoise_django.admin.saved import saved, titled
from porpoise_django.conf import porpoise_settings
from porpoise_django.engine import (
    Analytics,
    Bitmap,
    CohortTable,
    FunnelResult,
    PeriodRange,
    cohort_table,
    funnel,
    lifecycle,
    stickiness,
    times_measurable,
)
from porpoise_django.i18n import did_you_mean, engine_message
from porpoise_django.permissions import may_view
from porpoise_django.services import get_analytics

#: A page title: text, or a lazy translation (the pages' titles are).
StrOrPromise = str | Promise
SPARK_DAYS = 14
PAGE_SIZE = 50


def site_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Guard a page with its site's permission (``AdminSite.has_permission``: staff,
    unless the site says otherwise). Anonymous users go to that site's login;
    logged-in users it refuses get 403. URLs in the page resolve on that site."""

    @wraps(view)
    def wrapped(
        site: admin.AdminSite, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        request.current_app = site.name
        if not site.has_permission(request):
            if not request.user.is_authenticated:
                login = reverse("admin:login", current_app=site.name)
                return redirect_to_login(request.get_full_path(), login)
            return refused(site, request)
        if not may_view(request.user):
            return refused(site, request)
        response = view(site, request, *args, **kwargs)
        add_never_cache_headers(response)  # figures change from one second to the next
        return response

    return wrapped


def refused(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """403 in the admin's look (its header, its links), not a bare error page;
    JSON to a client that asked for JSON."""
    message = gettext(
        "Porpoise analytics is for the staff this site admits who have its permission "
        "(Can view porpoise analytics); ask an administrator."
    )
    if request.GET.get("format") == "json":
        return JsonResponse({"detail": message}, status=403)
    title = gettext("Access refused")
    context = {**site.each_context(request), "title": title, "message": message}
    return TemplateResponse(request, "porpoise_django/admin/403.html", context, status=403)


#: Names offered as suggestions in a page: a registry flooded with thousands
#: of names must not make every page carry them all (the fields accept any name).
SUGGESTIONS = 200


@cache
def breadcrumbs_element() -> str:
    """``"ol"`` or ``"div"``: the element the installed Django's admin draws its
    breadcrumbs with (an ``ol`` of ``li`` since Django 6.0, whose CSS styles
    only that), read from the admin's own ``base.html``."""
    base = Path(admin.__file__).parent / "templates" / "admin" / "base.html"
    return "ol" if '<ol class="breadcrumbs">' in base.read_text() else "div"


def _context(
    site: admin.AdminSite, request: HttpRequest, title: StrOrPromise, **extra: Any
) -> dict[str, Any]:
    pp = get_analytics()
    return {
        **site.each_context(request),
        "porpoise_breadcrumbs": breadcrumbs_element(),
        "porpoise_pages": PAGES,
        "title": title,
        "event_names": pp.event_names()[:SUGGESTIONS],
        "porpoise_tz": str(pp.tz),
        "export": exports.links(request, extra.get("form")),
        **extra,
    }


#: The context every dashboard page starts from (for pages in other modules).
def page_context(
    site: admin.AdminSite, request: HttpRequest, title: StrOrPromise, **extra: Any
) -> dict[str, Any]:
    return _context(site, request, title, **extra)


def bound_form(
    form_class: type[Any], request: HttpRequest, key: str, defaults: dict[str, Any] | None = None
) -> Any:
    """The form bound to the page's defaults (see :mod:`.defaults`) overlaid with
    the fields the query string gives: the page answers at first sight, and a
    partial query (``?granularity=month``, ``?format=csv``, a link from the
    overview) fills the fields it leaves out with those defaults, then with the
    fields' initial values. Unbound when there is nothing to show yet (no
    defaults, and the query does not name ``key``)."""
    given = {k: v for k, v in request.GET.items() if k in form_class.base_fields}
    if defaults is None and key not in given:
        return form_class()
    data = {n: f.initial for n, f in form_class.base_fields.items() if f.initial is not None}
    data.update(defaults or {})
    data.update(given)
    return form_class(data)


def first_sight(
    request: HttpRequest, make: Callable[[Analytics], dict[str, Any] | None]
) -> dict[str, Any] | None:
    """The defaults of a page, for the fields its query leaves out."""
    return make(get_analytics())


def sparkline(values: Sequence[float], width: int = 120, height: int = 24) -> str:
    """SVG polyline points for ``values`` (drawn server-side: no script needed)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - (v / top) * (height - 2) - 1:.1f}" for i, v in enumerate(values)
    )


@site_page
def overview(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """Every event and counter with today's and this week's figures and a sparkline."""
    pp = get_analytics()
    query = request.GET.get("q", "").strip()[:128]
    events = [n for n in pp.event_names() if query.lower() in n.lower()]
    counters = [n for n in pp.counter_names() if query.lower() in n.lower()]
    sort = request.GET.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    split_form, where = _overview_filters(request)
    event_page, event_rows = _event_page(pp, events, sort, request.GET.get("page"), where)
    _overview_links(site, pp, split_form, event_rows)
    counter_page = Paginator(counters, PAGE_SIZE).get_page(request.GET.get("cpage"))
    counter_rows = _counter_rows(pp, list(counter_page))
    described = descriptions()
    for row in [*event_rows, *counter_rows]:
        row["description"] = described.get(row["name"], "")
    if request.GET.get("format") == "json":  # the live overview's refresh
        return JsonResponse({"events": event_rows, "counters": counter_rows})
    if request.GET.get("format") == "csv":
        return exports.overview("csv", event_rows, counter_rows)
    return render(
        request,
        "porpoise_django/admin/overview.html",
        _context(
            site,
            request,
            TITLES["overview"],
            query=query,
            sort=sort,
            sorts=SORTS,
            event_page=event_page,
            counter_page=counter_page,
            event_rows=event_rows,
            counter_rows=counter_rows,
            split_form=split_form,
            split_query=_kept_query(split_form),
            unique_names=pp.unique_names(),
            metric_names=[n for n in pp.metric_names() if not n.startswith(DECISION)],
            decision_names=decision_names(pp),
            saved_reports=_pinned_charts(pp, titled(saved(pp)[:20])),
            spark_days=SPARK_DAYS,
        ),
    )


#: The overview's orders: by name, or the largest first by today's users, this
#: week's, or the change of the last 7 days over the 7 before.
SORTS = {"name": "name", "today": "today", "week": "this week", "change": "change"}
#: Events sorted by their figures at most (their figures are read in one round trip).
SORT_LIMIT = 2000


def _pinned_charts(pp: Analytics, reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Saved reports, a pinned chart's first series drawn as a sparkline (a
    report whose query no longer holds, say a deleted counter, shows none)."""
    for report in reports:
        if not (report.get("pinned") and report.get("page") == "charts"):
            continue
        form = ChartForm(QueryDict(report.get("query", "")))
        if form.is_valid():
            try:
                series = _chart_values(pp, form.cleaned_data, form.cleaned_data["range"])
            except ValueError:
                continue
            values = next(iter(series.values()), [])
            report["spark"] = sparkline([float(v or 0) for v in values])
    return reports


def descriptions() -> dict[str, str]:
    """``PORPOISE["DESCRIPTIONS"]``: what each name means (text, whatever was given)."""
    given = porpoise_settings.DESCRIPTIONS
    if not isinstance(given, Mapping):  # a misconfiguration shows no descriptions
        return {}
    return {str(k): str(v) for k, v in given.items()}


def _overview_filters(request: HttpRequest) -> tuple[OverviewForm, Bitmap | None]:
    """The overview's "Breakdown by" and "Where" form, and the "Where" bitmap
    (None without filters, or when they are refused: the form says why)."""
    given = {k: v for k, v in request.GET.items() if k in OverviewForm.base_fields}
    form = OverviewForm(given or None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["where"]
    return form, None


def _kept_query(form: OverviewForm) -> str:
    """``&breakdown=...&where=...``: the split kept by the sort and page links."""
    kept = QueryDict(mutable=True)
    kept.update({k: v for k, v in (form.data or {}).items() if v not in (None, "")})
    return f"&{kept.urlencode()}" if kept else ""


def _overview_links(
    site: admin.AdminSite, pp: Analytics, form: OverviewForm, rows: list[dict[str, Any]]
) -> None:
    """Link each event's today and this week to its users (with the "Where"), and
    split them by the "Breakdown by" (:func:`.links.overview_split`)."""
    fields = {k: v for k, v in (form.data or {}).items() if v not in (None, "")}
    for granularity, column in (("day", "today"), ("week", "week")):
        if granularity in pp.granularities:
            period = pp.period(granularity)
            for row in rows:
                link = period_links(
                    site.name, "overview", fields, name=row["name"], granularity=granularity
                )
                row[f"{column}_url"] = link(period)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    if data.get("breakdown"):
        top = data["top"] or OVERVIEW_TOP
        overview_split(pp, site.name, rows, data["breakdown"], top, data["where"], fields)


#: Values of a "Breakdown by" shown per event on the overview, unless asked.
OVERVIEW_TOP = 5


def _event_page(
    pp: Analytics, names: list[str], sort: str, number: Any, where: Bitmap | None = None
) -> tuple[Any, list[Any]]:
    """The page of events asked for, and its rows: by name, the page's rows are
    read; by a figure, every event's rows are read and sorted, the largest first
    (an event without the figure last). ``where``: only the ids it holds."""
    if sort == "name":
        by_name = Paginator(names, PAGE_SIZE).get_page(number)
        return by_name, _event_rows(pp, list(by_name), where)
    rows = _event_rows(pp, names[:SORT_LIMIT], where)
    rows.sort(key=lambda r: (r[sort] is None, -(r[sort] or 0), r["name"]))
    page = Paginator(rows, PAGE_SIZE).get_page(number)
    return page, list(page)


def _event_rows(
    pp: Analytics, names: list[str], where: Bitmap | None = None
) -> list[dict[str, Any]]:
    """Today, this week, a sparkline of the last days and the change of the last
    7 days' users over the 7 days before, per event (``where``: only the ids it
    holds); one round trip."""
    tracked = pp.granularities
    days = pp.range("day", -(SPARK_DAYS - 1)).periods() if "day" in tracked else []
    week = pp.period("week") if "week" in tracked else None
    bitmaps = []

    def only(bitmap: Bitmap) -> Bitmap:
        return bitmap if where is None else bitmap & where

    for name in names:
        event = pp.event(name)
        bitmaps += [only(event.bind(p)) for p in days]
        if week is not None:
            bitmaps.append(only(event.bind(week)))
        if days:
            recent, earlier = pp.range("day", -6, 0), pp.range("day", -13, -7)
            bitmaps += [only(event.union(recent)), only(event.union(earlier))]
    counts = pp.count_bitmaps(bitmaps) if bitmaps else []
    width = len(days) + (1 if week is not None else 0) + (2 if days else 0)
    rows = []
    for i, name in enumerate(names):
        row = counts[i * width : (i + 1) * width]
        spark = row[: len(days)]
        last7, before = (int(row[-2]), int(row[-1])) if days else (0, 0)
        rows.append(
            {
                "name": name,
                "today": spark[-1] if spark else None,
                "week": row[len(days)] if week is not None else None,
                "spark": sparkline(spark),
                "last7": last7 if days else None,
                "before7": before if days else None,
                "change": round(100 * (last7 - before) / before, 1) if before else None,
            }
        )
    return rows


def _counter_rows(pp: Analytics, names: list[str]) -> list[dict[str, Any]]:
    """Today, this week and a sparkline of the last days per counter; one round trip."""
    days = pp.range("day", -(SPARK_DAYS - 1)).periods()
    week = pp.period("week")

    def build(pipe: Any) -> None:
        for name in names:
            pipe.execute_command("MGET", *[pp.keys.counter_total(name, p) for p in days])
            pipe.get(pp.keys.counter_total(name, week))

    replies = pp.run(build, scripts=()) if names else []
    rows = []
    for i, name in enumerate(names):
        # Sums of floats carry noise (1008.9900000000006): rounded, 999.0000001 is 999.
        values = [round(float(v), 6) if v is not None else 0.0 for v in replies[2 * i]]
        week_total = replies[2 * i + 1]
        rows.append(
            {
                "name": name,
                "today": values[-1],
                "week": round(float(week_total), 6) if week_total is not None else 0.0,
                "spark": sparkline(values),
            }
        )
    return rows


def _heat(percent: float | None) -> str:
    if percent is None:
        return ""
    alpha = 0.08 + min(max(percent, 0.0), 100.0) / 100 * 0.8
    text = "#fff" if alpha > 0.5 else "inherit"
    return f"background-color: rgba(32, 120, 200, {alpha:.2f}); color: {text}"


@site_page
def cohorts(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """The cohort retention table (bitmapist's form and table, and more)."""
    defaults = first_sight(request, cohort_defaults)
    asked = request.GET.get("granularity")
    if defaults and asked and asked != defaults["granularity"]:
        # the default sizes were measured in the default granularity's periods
        defaults = {k: v for k, v in defaults.items() if k not in ("cohorts", "offsets")}
    form = bound_form(CohortForm, request, "select1", defaults)
    table = None
    rows: list[dict[str, Any]] = []
    average: list[dict[str, Any]] = []
    curve: dict[str, Any] | None = None
    if form.is_bound and form.is_valid():
        table = _cohort_table_or_error(form)
    if table is not None:
        data = form.cleaned_data
        as_percent = data["display"] == "percent"
        if fmt := exports.wanted(request):
            return exports.cohorts(fmt, form, table, as_percent)
        first_cohort = table.periods[0].start.date().isoformat()
        rows = _cohort_rows(table, as_percent, cohort_links(site.name, form.data, first_cohort))
        sep = get_format("DECIMAL_SEPARATOR")
        average = [
            {"text": "" if v is None else f"{v:.1f}%".replace(".", sep), "style": _heat(v)}
            for v in table.average()
        ]
        segments = [(text, _cohort_table(data, bitmap)) for text, bitmap in data["segments"]]
        segments += _cohort_split(data)
        curve = retention_curve(table, segments)
    elif fmt := exports.wanted(request):
        return exports.cohorts(fmt, form, None, False)
    query = QueryDict(mutable=True)
    query.update({k: v for k, v in (form.data or {}).items() if v not in (None, "")})
    query["format"] = "csv"
    return render(
        request,
        "porpoise_django/admin/cohorts.html",
        _context(
            site,
            request,
            TITLES["cohorts"],
            form=form,
            table=table,
            cohort_heading=cohort_heading(table) if table is not None else "",
            rows=rows,
            average=average,
            offsets=range(rows[0]["width"]) if rows else range(0),
            csv_query=query.urlencode(),
            curve=curve,
        ),
    )


def _cohort_table_or_error(form: CohortForm) -> CohortTable | None:
    """The table, or None with the engine's refusal on the form (a first cohort in
    year 1 or 9999, before 1970: a form error, never a 500)."""
    data = form.cleaned_data
    try:
        return _cohort_table(data, data["select1b"])
    except (ValueError, OverflowError) as exc:
        field = getattr(exc, "field", None)
        if field not in form.fields:
            field = "start" if data.get("start") else None
        form.add_error(field, engine_message(exc))
        return None


#: The words of a granularity, as the dashboards show them.
UNITS = {
    "hour": _("hour"),
    "day": _("day"),
    "week": _("week"),
    "month": _("month"),
    "year": _("year"),
}
#: The cohort table's heading: its granularity, then how its users came back.
COHORTS_OF = {
    "day": _("Day cohorts"),
    "week": _("Week cohorts"),
    "month": _("Month cohorts"),
    "year": _("Year cohorts"),
}
CAME_BACK = {
    "on": _("came back on each period"),
    "on_or_after": _("came back on or after each period"),
}


def cohort_heading(table: CohortTable) -> str:
    """``Week cohorts, came back on each period`` (``, first-time cohorts``)."""
    parts = [
        str(COHORTS_OF.get(table.granularity, table.granularity)),
        str(CAME_BACK.get(table.mode, table.mode)),
    ]
    if table.cohort_type == "first_time":
        parts.append(gettext("first-time cohorts"))
    return ", ".join(parts)


def _cohort_split(data: dict[str, Any]) -> list[tuple[str, CohortTable]]:
    """With "Breakdown by": the table once per value of the property (a curve each)."""
    name = data.get("breakdown")
    if not name:
        return []
    tables = cohort_table(
        get_analytics(),
        data["select1"],
        data["select2"],
        select1b=data["select1b"],
        select2b=data["select2b"],
        granularity=data["granularity"],
        cohorts=data["cohorts"],
        offsets=data["offsets"],
        start=data["start"],
        mode=data["mode"],
        cohort_type=data["cohort_type"],
        breakdown=name,
    )
    return [(f"{name} = {value}", table) for value, table in tables.items()]


def _cohort_table(data: dict[str, Any], select1b: Any) -> CohortTable:
    """The table the cohort form asks for, its entry narrowed by ``select1b``."""
    return cohort_table(
        get_analytics(),
        data["select1"],
        data["select2"],
        select1b=select1b,
        select2b=data["select2b"],
        granularity=data["granularity"],
        cohorts=data["cohorts"],
        offsets=data["offsets"],
        start=data["start"],
        mode=data["mode"],
        cohort_type=data["cohort_type"],
    )


def retention_curve(
    table: CohortTable, segments: Sequence[tuple[str, CohortTable]] = ()
) -> dict[str, Any]:
    """The Chart.js spec of the retention curve drawn above the table: the average
    (finished periods, weighted by cohort size), each cohort as a faint line, and
    the average of each compared segment."""
    unit = UNITS.get(table.granularity, table.granularity)
    labels = [f"{unit} {i}" for i in range(len(table.counts[0]) if table.counts else 0)]
    datasets: list[dict[str, Any]] = [{"label": gettext("average"), "data": table.average()}]
    datasets += [
        {"label": gettext("average, %(segment)s") % {"segment": text}, "data": segment.average()}
        for text, segment in segments
    ]
    datasets += [
        {"label": label, "data": percents, "faint": True}
        for label, percents in zip(table.labels, table.percents(), strict=True)
    ]
    return {"type": "line", "labels": labels, "datasets": datasets, "percent": True}


def _linked(text: str, url: str) -> str:
    """``text`` escaped, as a link to the people behind it when there is a ``url``."""
    if not url:
        return escape(text)
    link = f'<a href="{escape(url)}" class="porpoise-people" style="color: inherit">'
    return f"{link}{escape(text)}</a>"


def _cohort_rows(
    table: CohortTable, as_percent: bool, link: Callable[[int, int | None], str] | None = None
) -> list[dict[str, Any]]:
    """One row per cohort, its cells as HTML: built here rather than in a template
    loop (a 30 x 30 table is 930 cells); every value is escaped, as the template would."""
    rows = []
    sep = get_format("DECIMAL_SEPARATOR")  # 12,5% in French and German
    not_finished = escape(gettext("period not finished"))
    for r, (label, size, counts, pcts, running) in enumerate(
        zip(
            table.labels, table.sizes, table.counts, table.percents(), table.unfinished, strict=True
        )
    ):
        cells = []
        for i, (count, pct, unfinished) in enumerate(zip(counts, pcts, running, strict=True)):
            if count is None or (as_percent and pct is None):  # future, or nobody to retain
                cells.append(("num", "", "", "", ""))
                continue
            text = f"{pct:.1f}%".replace(".", sep) if as_percent and pct is not None else str(count)
            css = "num unfinished" if unfinished else "num"
            title = not_finished if unfinished else ""
            cells.append((css, _heat(pct), title, text, link(r, i) if link else ""))
        html = mark_safe(
            "".join(
                f'<td class="{css}" style="{escape(style)}" title="{title}">'
                f"{_linked(text, url)}</td>"
                for css, style, title, text, url in cells
            )
        )
        size_url = link(r, None) if link else ""
        rows.append(
            {
                "label": label,
                "size": size,
                "size_url": size_url,
                "cells_html": html,
                "width": len(cells),
            }
        )
    return rows


@site_page
def funnels(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """Ordered steps within a conversion window, conversion per step and overall."""
    form = bound_form(FunnelForm, request, "steps", first_sight(request, funnel_defaults))
    steps: list[dict[str, Any]] = []
    overall = None
    split: dict[str, Any] = {}
    extra: dict[str, Any] | None = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        pp = get_analytics()
        # Dates left out take the engine's defaults, as the API's do.
        span = {k: data[k] for k in ("start", "end") if data[k]}
        templates = [template for _, template in data["steps"]]
        try:
            result = funnel(
                pp,
                templates,
                granularity=data["granularity"],
                window=data["window"],
                times=times_fit(pp, templates, data, span),
                **span,
            )
        except ValueError as exc:
            form.add_error(None, engine_message(exc))
        else:
            first = result.counts[0] or 1
            for k, ((label, _), count, conversion) in enumerate(
                zip(data["steps"], result.counts, result.conversion(), strict=True)
            ):
                steps.append(
                    {
                        "label": label,
                        "count": count,
                        "conversion": conversion,
                        "width": max(1, round(100 * count / first)),
                        "people_url": people_url(site.name, "funnel", form.data, step=k),
                        "drop_url": people_url(site.name, "funnel", form.data, step=k, drop=1)
                        if k
                        else "",
                    }
                )
            overall = result.overall()
            split = _funnel_split(pp, data, span)
            extra = funnel_extras(result, [label for label, _ in data["steps"]])
    if fmt := exports.wanted(request):
        return exports.funnel(fmt, form, steps, request.GET.get("table"), extra)
    return render(
        request,
        "porpoise_django/admin/funnels.html",
        _context(
            site,
            request,
            TITLES["funnels"],
            form=form,
            steps=steps,
            overall=overall,
            split=split,
            **(extra or {}),
        ),
    )


def times_fit(
    pp: Analytics, steps: Sequence[Any], data: dict[str, Any], span: dict[str, Any]
) -> bool:
    """Whether the page can show the time to convert (bounded: see the engine's
    ``times_measurable``); a funnel too wide for it still shows its counts."""
    entries = len(pp.range(data["granularity"], span.get("start", -6), span.get("end", 0)))
    return times_measurable(entries, len(steps), data["window"])


def funnel_extras(result: FunnelResult, labels: list[str]) -> dict[str, Any]:
    """Conversion over time (a row per entry period, a line per step in a chart)
    and the time to convert (per step: the median and the cumulative reach)."""
    rows: list[dict[str, Any]] = []
    for period, counts in result.entries:
        entered = counts[0]
        reached = [round(100 * c / entered, 1) if entered else None for c in counts[1:]]
        rows.append({"period": period.label, "entered": entered, "reached": reached})
    chart = {
        "type": "line",
        "labels": [r["period"] for r in rows],
        "datasets": [
            {
                "label": gettext("%% reached %(step)s") % {"step": label},
                "data": [r["reached"][k] for r in rows],
            }
            for k, label in enumerate(labels[1:])
        ],
        "percent": True,
    }
    times = []
    if result.within is not None:
        medians = result.median_periods()
        times = [
            {"label": label, "median": median, "within": within}
            for label, median, within in zip(labels, medians, result.within, strict=True)
        ][1:]
    return {"over_time": rows, "chart": chart if rows else None, "times": times}


def _funnel_split(pp: Analytics, data: dict[str, Any], span: dict[str, Any]) -> dict[str, Any]:
    """With "Breakdown by": the funnel per value, side by side (steps as rows)."""
    name = data.get("breakdown")
    if not name:
        return {}
    results = funnel(
        pp,
        [template for _, template in data["steps"]],
        granularity=data["granularity"],
        window=data["window"],
        breakdown=name,
        **span,
    )
    rows = [
        {"label": label, "counts": [r.counts[k] for r in results.values()]}
        for k, (label, _) in enumerate(data["steps"])
    ]
    overall = [r.overall() for r in results.values()]
    return {"name": name, "values": list(results), "rows": rows, "overall": overall}


def _previous(periods: PeriodRange) -> PeriodRange:
    """The same number of buckets just before ``periods``."""
    size = len(periods)
    return PeriodRange(periods.first.delta(-size), periods.first.prev(), size)


@site_page
def charts(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """Chart.js charts of a counter, an event or a metric, with top-N and comparison."""
    form = bound_form(ChartForm, request, "name", first_sight(request, chart_defaults))
    chart: dict[str, Any] | None = None
    top_rows: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    pp = get_analytics()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        periods: PeriodRange = data["range"]
        try:
            current = _chart_values(pp, data, periods)
            datasets = [{"label": label, "data": values} for label, values in current.items()]
            if data["compare"]:
                before = _chart_values(pp, data, _previous(periods))
                datasets += [previous_dataset(label, values) for label, values in before.items()]
            if data["top"]:
                top_rows = _top_rows(pp, data, periods)
        except ValueError as exc:
            form.add_error(None, engine_message(exc))
        else:
            chart = {"type": data["chart"], "datasets": datasets, **period_labels(pp, periods)}
            points = _chart_points(pp, site.name, form.data, data, chart)
    if fmt := exports.wanted(request):
        return exports.chart_or_refused(fmt, form, chart, "chart")
    names = sorted(
        set(pp.counter_names())
        | set(pp.event_names())
        | set(pp.metric_names())
        | set(pp.unique_names())
    )
    names = names[:SUGGESTIONS]
    return render(
        request,
        "porpoise_django/admin/charts.html",
        _context(
            site,
            request,
            TITLES["charts"],
            form=form,
            chart=chart,
            chart_heading=chart_heading(form.cleaned_data) if chart is not None else "",
            points=points,
            top_rows=top_rows,
            all_names=names,
        ),
    )


#: A chart's heading, by the kind of name charted.
CHART_HEADINGS = {
    "counter": _("Counter %(name)s, %(period)s"),
    "event": _("Event %(name)s, %(period)s"),
    "unique": _("Unique %(name)s, %(period)s"),
    "metric": _("Metric %(name)s, %(period)s"),
}


def chart_heading(data: dict[str, Any]) -> str:
    """``Counter plays, 30d``, in the active language."""
    said = str(CHART_HEADINGS.get(data["kind"], "%(name)s, %(period)s"))
    return said % {"name": data["name"], "period": data["period"]}


def _chart_points(
    pp: Analytics, site_name: str, fields: Any, data: dict[str, Any], chart: dict[str, Any]
) -> list[dict[str, Any]]:
    """For the charts of ids (an event, a unique event among the active users):
    each point's People link, as ``chart["people"]`` (one list per dataset, for
    a click on the chart) and as rows of the table under it (a plain link per
    number). Counters and metrics are sums: none."""
    if data["kind"] not in ("event", "unique"):
        return []
    split = data.get("breakdown") if data["kind"] == "event" else None
    picks = [{"value": v} for v in pp.split_by(pp.event(data["name"]), split)] if split else [{}]
    spans = [data["range"], _previous(data["range"])] if data["compare"] else [data["range"]]
    links = [period_links(site_name, "chart", fields, **pick) for _ in spans for pick in picks]
    periods = [span.periods() for span in spans for _ in picks]
    chart["people"] = [[link(p) for p in each] for link, each in zip(links, periods, strict=True)]
    return [
        {
            "label": label,
            "cells": [
                (d["data"][i], urls[i])
                for d, urls in zip(chart["datasets"], chart["people"], strict=True)
            ],
        }
        for i, label in enumerate(chart["labels"])
    ]


def previous_dataset(label: str, values: list[Any]) -> dict[str, Any]:
    """The series of the period before, dashed; its export column keeps the
    English ``key`` whatever the language of the page."""
    return {
        "label": gettext("%(series)s (previous period)") % {"series": label},
        "key": f"{label} (previous period)",
        "previous": True,
        "data": values,
        "borderDash": [5, 5],
    }


#: The label of a period that is not over yet.
SO_FAR = _("%(period)s (so far)")


def period_labels(pp: Analytics, periods: Iterable[Any]) -> dict[str, Any]:
    """``labels`` of a chart's periods, the unfinished one said so, and
    ``partial``: the indexes of the periods not over yet (drawn paler and
    dashed, so today's few hours are not read as a fall); ``periods``: the
    periods' own labels (the exports' rows)."""
    now = pp.now()
    periods = list(periods)
    partial = [i for i, p in enumerate(periods) if p.period_end() > now]
    so_far = str(SO_FAR)
    labels = [
        so_far % {"period": p.label} if i in partial else p.label for i, p in enumerate(periods)
    ]
    return {"labels": labels, "partial": partial, "periods": [p.label for p in periods]}


def _metrics(data: dict[str, Any]) -> list[str]:
    return [m.strip() for m in (data["metrics"] or "hits").split(",") if m.strip()]


def _chart_values(pp: Analytics, data: dict[str, Any], span: PeriodRange) -> dict[str, list[Any]]:
    """The charted series over ``span``: label -> one value per period."""
    kind, name = data["kind"], data["name"]
    if kind == "counter":
        return {name: [v for _, v in pp.counter(name).totals(span)]}
    if kind == "unique":  # no dates: its users among each period's active users
        pp.check_tracked(span.granularity)
        active = porpoise_settings.ACTIVE_EVENT
        if not active or active not in pp.event_names():
            raise ValueError(
                gettext(
                    "%(quoted)s is a unique event (no dates): set ACTIVE_EVENT to chart its "
                    "users among the active ones, or use unique(%(name)s) as a cohort segment"
                )
                % {"quoted": repr(name), "name": name}
            )
        among = pp.unique(name) & pp.event(active)
        label = gettext("%(name)s, among %(active)s") % {"name": name, "active": active}
        return {label: pp.count_bitmaps([among.bind(p) for p in span])}
    if kind == "event":
        pp.check_tracked(span.granularity)
        split = data.get("breakdown")
        if split:  # a line per value (with the bar type: grouped bars)
            series = pp.event(name).counts(span, breakdown=split)
            return {f"{name}, {split} = {v}": [n for _, n in s] for v, s in series.items()}
        return {name: [v for _, v in pp.event(name).counts(span)]}
    metrics = _metrics(data)
    points = pp.metric(name).series(span, metrics, data["dimension"] or "")
    return {m: [values[m] for _, values in points] for m in metrics}


def _top_rows(pp: Analytics, data: dict[str, Any], periods: PeriodRange) -> list[dict[str, Any]]:
    """The top ids of a counter, or the top values of a metric's dimension."""
    kind, name = data["kind"], data["name"]
    if kind == "counter":
        return [{"name": k, "value": v} for k, v in pp.counter(name).top(periods, data["top"])]
    if kind == "metric":
        metrics = _metrics(data)
        rows = pp.metric(name).breakdown(
            data["dimension"] or "", periods, metrics, limit=data["top"]
        )
        return [{"name": r["dimension"], "value": r[metrics[0]]} for r in rows]
    return []


@site_page
def lifecycle_page(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """New, returning, resurrecting and dormant users per period; stickiness."""
    form = bound_form(LifecycleForm, request, "event", first_sight(request, lifecycle_defaults))
    chart = None
    sticky = None
    grid: list[dict[str, Any]] = []
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        pp = get_analytics()
        try:
            result = lifecycle(pp, data["event"], data["period"])
            sticky = stickiness(pp, data["event"], pp.period(data["sticky"]))
        except ValueError as exc:
            form.add_error(None, engine_message(exc))
        else:
            chart = {
                "type": "bar",
                "stacked": True,
                **period_labels(pp, result.periods),
                "datasets": [
                    {"label": str(label), "key": state, "data": getattr(result, state)}
                    for state, label in STATES.items()
                ],
            }
    if fmt := exports.wanted(request):
        return exports.lifecycle(fmt, form, chart, sticky, request.GET.get("table"))
    if chart is not None:  # every bar links to its users (the chart's points too)
        grid = lifecycle_rows(site.name, form.data, result)
        chart["people"] = [[url for _, url in row["cells"]] for row in grid]
    split = _lifecycle_split(form.cleaned_data, site.name, form.data) if chart else []
    return render(
        request,
        "porpoise_django/admin/lifecycle.html",
        _context(
            site,
            request,
            TITLES["lifecycle"],
            form=form,
            chart=chart,
            grid=grid + [row for value in split for row in value["grid"]],
            split=split,
            sticky=sticky,
            sticky_rows=_sticky_rows(site.name, form.data, sticky) if sticky else [],
        ),
    )


def _sticky_rows(site_name: str, fields: Any, sticky: Any) -> list[dict[str, Any]]:
    """The stickiness table: per number of days, exactly and at least, linked."""
    exactly = period_links(site_name, "stickiness", fields)
    at_least = period_links(site_name, "stickiness", fields, at_least=1)
    at = exactly(sticky.period)  # the same base with the period's start
    more = at_least(sticky.period)
    return [
        {
            "days": k + 1,
            "exactly": e,
            "at_least": a,
            "exactly_url": f"{at}&days={k + 1}",
            "at_least_url": f"{more}&days={k + 1}",
        }
        for k, (e, a) in enumerate(zip(sticky.exactly, sticky.at_least, strict=True))
    ]


def _lifecycle_split(data: dict[str, Any], site_name: str, fields: Any) -> list[dict[str, Any]]:
    """With "Breakdown by": per value, each state summed over the range, the
    users of the stickiness period (linked), and each state per period (linked:
    a sum over periods is not a set of people)."""
    name = data.get("breakdown")
    if not name:
        return []
    pp = get_analytics()
    lives = lifecycle(pp, data["event"], data["period"], breakdown=name)
    sticky = stickiness(pp, data["event"], pp.period(data["sticky"]), breakdown=name)
    states = ("new", "returning", "resurrecting", "dormant")
    users = period_links(site_name, "stickiness", fields, at_least=1)
    return [
        {
            "value": value,
            "states": [sum(getattr(life, state)) for state in states],
            "sticky": sticky[value].users,
            "sticky_url": f"{users(sticky[value].period)}&{urlencode({'value': value})}&days=1",
            "grid": lifecycle_rows(site_name, fields, life, value),
        }
        for value, life in lives.items()
    ]


@site_page
def decisions(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """Each option's success rate, interval and chance of being the best; the
    decisions recorded, each with its options, listed under the form."""
    pp = get_analytics()
    recorded = {name: decision_options(pp, name) for name in decision_names(pp)[:SUGGESTIONS]}
    defaults = decision_defaults(pp, recorded)
    if defaults and request.GET.get("name", defaults["name"]) != defaults["name"]:
        defaults = None  # another decision: all its own options
    form = bound_form(DecisionForm, request, "name", defaults)
    report = None
    suggestion = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            name = _known_decision(data["name"], list(recorded))
            options = data["options"] or sorted(recorded[name])
            _known_options(name, options, recorded[name])
            decision = pp.decision(name)
            report = decision.report(options, data["dimensions"])
            suggestion = decision.decide(options, data["dimensions"])
        except ValueError as exc:
            form.add_error(None, engine_message(exc))
    if fmt := exports.wanted(request):
        return exports.decision(fmt, form, report)
    listed = [{"name": name, "options": list(options)} for name, options in recorded.items()]
    return render(
        request,
        "porpoise_django/admin/decisions.html",
        _context(
            site,
            request,
            TITLES["decisions"],
            form=form,
            report=report,
            suggestion=suggestion,
            decisions=listed,
        ),
    )


def _known_decision(name: str, known: list[str]) -> str:
    """``name`` if it was ever recorded, else a ValueError naming close ones."""
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        said = gettext("unknown decision %(name)r") % {"name": name}
        if close:
            raise ValueError(said + did_you_mean(close))
        if known:
            listed = gettext("; recorded: %(names)s") % {"names": ", ".join(known[:10])}
        else:
            listed = gettext("; none recorded yet")
        raise ValueError(said + listed)
    return name


def _known_options(name: str, asked: list[str], recorded: dict[str, float]) -> None:
    """A ValueError for an option never recorded for decision ``name``."""
    unknown = [o for o in asked if o not in recorded]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(recorded), n=1)
        said = gettext("%(name)r has no option %(option)r") % {"name": name, "option": unknown[0]}
        recorded_ones = gettext(" (recorded: %(options)s)") % {"options": ", ".join(recorded)}
        raise ValueError(said + did_you_mean(close) + recorded_ones)
