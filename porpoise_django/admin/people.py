"""The People page: who is behind a number, and one person's activity.

``porpoise/people/`` lists the ids of a query over a period, of a cohort
cell or size, a funnel step, a lifecycle or stickiness bar, a chart's point
or an overview count (see :mod:`.links` and :mod:`.sources`), a page at a time,
mapped to the user model (``USERNAME_FIELD``, email, date joined, a link to
the user's change page when the user admin is registered); ``format=csv``
exports every id; a POST saves them as a segment. ``porpoise/people/<id>/``
draws one person's events by day. The ids are personal data: the pages are
never cached (``site_page`` adds ``Cache-Control: no-store, private``).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from porpoise_django.admin import sources
from porpoise_django.admin.forms import CohortForm, FunnelForm
from porpoise_django.admin.pages import PAGES, TITLES
from porpoise_django.admin.views import StrOrPromise, bound_form, breadcrumbs_element, site_page
from porpoise_django.engine import (
    EVENT_GRANULARITIES,
    MAX_PEOPLE_LIMIT,
    Analytics,
    Bitmap,
    cohort_cell,
    funnel_step,
    parse_query,
    validate_name,
)
from porpoise_django.i18n import PERIOD_STRING_HELP as PERIOD_HELP
from porpoise_django.i18n import engine_message
from porpoise_django.services import get_analytics
from porpoise_django.tables import csv_cell

PAGE_SIZE = 50


class PeopleForm(forms.Form):
    q = forms.CharField(max_length=500, label=_("Query"), help_text=_("e.g. login & song:played"))
    period = forms.CharField(
        label=_("Period"),
        max_length=64,
        initial="1d",
        help_text=format_lazy(_("Days or longer: {}"), PERIOD_HELP),
    )


class ActivityForm(forms.Form):
    period = forms.CharField(label=_("Period"), max_length=64, initial="30d", help_text=PERIOD_HELP)


def _context(site: admin.AdminSite, request: HttpRequest, title: StrOrPromise, **extra: Any) -> Any:
    pp = get_analytics()
    return {
        **site.each_context(request),
        "porpoise_breadcrumbs": breadcrumbs_element(),
        "porpoise_pages": PAGES,
        "title": title,
        "event_names": pp.event_names()[:200],
        "porpoise_tz": str(pp.tz),
        **extra,
    }


def _event_periods(pp: Analytics, text: str) -> Any:
    periods = pp.period_string(text)
    if periods.granularity not in EVENT_GRANULARITIES:
        raise ValueError(
            gettext("events are kept per %(granularities)s: ask for days")
            % {"granularities": ", ".join(EVENT_GRANULARITIES)}
        )
    pp.check_tracked(periods.granularity)
    return periods


def _int(request: HttpRequest, name: str, low: int = 0) -> int:
    try:
        value = int(request.GET.get(name, ""))
    except ValueError:
        raise ValueError(gettext("%(name)s must be an integer") % {"name": name}) from None
    if value < low:
        raise ValueError(gettext("%(name)s must be at least %(low)s") % {"name": name, "low": low})
    return value


def _errors(form: forms.Form) -> str:
    return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())


def _from_query(pp: Analytics, request: HttpRequest) -> tuple[Bitmap, str, Any]:
    form = PeopleForm({"period": "1d", **request.GET.dict()})
    if not form.is_valid():
        raise ValueError(_errors(form))
    periods = _event_periods(pp, form.cleaned_data["period"])
    template = parse_query(pp, form.cleaned_data["q"])
    bound = [template.bind(p) for p in periods]
    bitmap = bound[0]
    for other in bound[1:]:
        bitmap = bitmap | other
    label = gettext("%(query)s in %(first)s..%(last)s") % {
        "query": form.cleaned_data["q"],
        "first": periods.first.label,
        "last": periods.last.label,
    }
    return bitmap, label, form


def _from_cohort(pp: Analytics, request: HttpRequest) -> tuple[Bitmap, str, Any]:
    form = bound_form(CohortForm, request, "select1")
    if not form.is_valid():
        raise ValueError(
            gettext("the cohort table's fields are not valid: %(errors)s")
            % {"errors": _errors(form)}
        )
    data = form.cleaned_data
    row = _int(request, "row")
    at = request.GET.get("offset", "size")
    offset = None if at == "size" else _int(request, "offset")
    bitmap = cohort_cell(
        pp,
        data["select1"],
        data["select2"],
        select1b=data["select1b"],
        select2b=data["select2b"],
        granularity=data["granularity"],
        first=_date(request.GET.get("first", "")),
        row=row,
        offset=offset,
        mode=data["mode"],
        cohort_type=data["cohort_type"],
    )
    period = pp.period(data["granularity"], _date(request.GET["first"])).delta(row)
    if offset is None:
        what = gettext("cohort")
    else:
        what = gettext("came back %(offset)s %(granularity)s(s) later") % {
            "offset": offset,
            "granularity": data["granularity"],
        }
    label = gettext("%(query)s in %(period)s, %(what)s") % {
        "query": request.GET.get("select1"),
        "period": period.label,
        "what": what,
    }
    return bitmap, label, form


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(gettext("%(text)r is not a date (YYYY-MM-DD)") % {"text": text}) from None


def _from_funnel(pp: Analytics, request: HttpRequest) -> tuple[Bitmap, str, Any]:
    form = bound_form(FunnelForm, request, "steps")
    if not form.is_valid():
        raise ValueError(
            gettext("the funnel's fields are not valid: %(errors)s") % {"errors": _errors(form)}
        )
    data = form.cleaned_data
    step = _int(request, "step")
    templates = [template for _, template in data["steps"]]
    span = {k: data[k] for k in ("start", "end") if data[k]}
    options = {"granularity": data["granularity"], "window": data["window"], **span}
    bitmap = funnel_step(pp, templates, step, **options)
    named = {"step": step + 1, "previous": step, "name": data["steps"][step][0]}
    label = gettext("reached step %(step)s. %(name)s") % named
    if request.GET.get("drop") and step > 0:
        bitmap = funnel_step(pp, templates, step - 1, **options) - bitmap
        label = gettext("reached step %(previous)s, not step %(step)s. %(name)s") % named
    return bitmap, label, form


SOURCES = {
    "query": _from_query,
    "cohort": _from_cohort,
    "funnel": _from_funnel,
    **sources.SOURCES,  # lifecycle and stickiness bars, chart points, overview counts
}


def users_of(site: admin.AdminSite, ids: list[Any]) -> list[dict[str, Any]]:
    """One row per id: the user model's fields where the id is a user's pk."""
    model = get_user_model()
    by_pk: dict[str, Any] = {}
    try:
        pks = [model._meta.pk.to_python(i) for i in ids]
        by_pk = {str(u.pk): u for u in model.objects.filter(pk__in=pks)}
    except Exception:  # ids that are not pks of this model (map mode, other objects)
        by_pk = {}
    email_field = model.get_email_field_name()
    registered = site.is_registered(model)
    rows = []
    for external in ids:
        user = by_pk.get(str(external))
        row: dict[str, Any] = {"id": external, "user": user}
        if user is not None:
            row["name"] = user.get_username()
            row["email"] = getattr(user, email_field, "")
            row["joined"] = getattr(user, "date_joined", None)
            if registered:
                meta = model._meta
                with contextlib.suppress(NoReverseMatch):
                    row["change_url"] = reverse(
                        f"{site.name}:{meta.app_label}_{meta.model_name}_change", args=[user.pk]
                    )
        rows.append(row)
    return rows


class _Echo:
    """A file that hands back what is written (a streamed CSV's lines)."""

    def write(self, text: str) -> str:
        return text


def _csv(pp: Analytics, bitmap: Bitmap) -> StreamingHttpResponse:
    """Every id, one per line, fetched a page at a time (never all at once)."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(["id"])
        offset: int | None = 0
        while offset is not None:
            page = pp.people(bitmap, offset, MAX_PEOPLE_LIMIT)
            for external in page.ids:
                # a map-mode id is any text: never a formula to a spreadsheet
                yield writer.writerow([csv_cell(str(external))])
            offset = page.next_offset

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="people.csv"'
    return response


def _save(request: HttpRequest, pp: Analytics, bitmap: Bitmap) -> str | None:
    """Save the ids as the segment the POST names; the error, if any."""
    try:
        name = validate_name(request.POST.get("segment", "").strip(), what="segment name")
        segment = bitmap.save_as(name)
    except ValueError as exc:
        return engine_message(exc)
    said = ngettext(
        "Saved %(count)s id as segment %(quoted)s: use unique(%(name)s) in queries.",
        "Saved %(count)s ids as segment %(quoted)s: use unique(%(name)s) in queries.",
        len(segment),
    )
    messages.success(request, said % {"count": len(segment), "quoted": repr(name), "name": name})
    return None


@site_page
def people_page(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """A page of the ids behind a number, mapped to users; CSV; save as segment."""
    pp = get_analytics()
    source = request.GET.get("source", "query")
    error = None
    rows: list[dict[str, Any]] = []
    page = None
    label = ""
    form: Any = PeopleForm(request.GET or None, initial={"period": "1d"})
    if source not in SOURCES:
        error = gettext("unknown source %(source)r; allowed: %(allowed)s") % {
            "source": source[:60],
            "allowed": ", ".join(SOURCES),
        }
    elif source != "query" or request.GET.get("q"):
        try:
            bitmap, label, used = SOURCES[source](pp, request)
            if source == "query":
                form = used
            if request.method == "POST":
                error = _save(request, pp, bitmap)
                if error is None:
                    return HttpResponseRedirect(request.get_full_path())
            if request.GET.get("format") == "csv":
                return _csv(pp, bitmap)  # type: ignore[return-value]  # streamed
            number = _int(request, "page", 1) if request.GET.get("page") else 1
            page = pp.people(bitmap, (number - 1) * PAGE_SIZE, PAGE_SIZE)
            rows = users_of(site, page.ids)
        except (ValueError, OverflowError) as exc:  # a bad link: a message, never a 500
            error = engine_message(exc)
    return render(
        request,
        "porpoise_django/admin/people.html",
        _context(
            site,
            request,
            TITLES["people"],
            form=form,
            source=source,
            label=label,
            error=error,
            page=page,
            rows=rows,
            links=_page_links(request, page),
        ),
    )


def _page_links(request: HttpRequest, page: Any) -> dict[str, str]:
    """The query strings of the previous, next page and the CSV export."""
    if page is None:
        return {}
    query = request.GET.copy()
    links = {}
    number = page.offset // PAGE_SIZE + 1
    query["format"] = "csv"
    links["csv"] = query.urlencode()
    del query["format"]
    if number > 1:
        query["page"] = str(number - 1)
        links["previous"] = query.urlencode()
    if page.next_offset is not None:
        query["page"] = str(number + 1)
        links["next"] = query.urlencode()
    return links


@site_page
def person_page(site: admin.AdminSite, request: HttpRequest, id: str) -> HttpResponse:
    """One person's events, a grid of events by day (or the period's buckets)."""
    pp = get_analytics()
    form = ActivityForm(request.GET or None, initial={"period": "30d"})
    text = form.cleaned_data["period"] if form.is_valid() else "30d"
    external: Any = id
    error = None
    done = None
    try:
        if pp.id_codec.mode == "int":
            if not (id.isascii() and id.isdigit()):
                raise ValueError(gettext("ids are integers in this store"))
            external = int(id)
        done = pp.activity(external, _event_periods(pp, text))
    except ValueError as exc:
        error = engine_message(exc)
    [row] = users_of(site, [external])
    grid = []
    if done is not None:
        grid = [
            {"name": name, "cells": flags, "total": sum(flags)}
            for name, flags in done.marks.items()
        ]
    return render(
        request,
        "porpoise_django/admin/person.html",
        _context(
            site,
            request,
            gettext("Activity of %(person)s") % {"person": row.get("name") or external},
            form=form,
            person=row,
            activity=done,
            grid=grid,
            error=error,
        ),
    )


def forget_in_analytics(modeladmin: Any, request: HttpRequest, queryset: Any) -> None:
    """The user changelist's action: forget the selected users in the analytics."""
    from porpoise_django.tracking.forgetting import forget

    pks = [user.pk for user in queryset]
    try:
        done = forget(pks)
    except Exception as exc:  # Redis down: say so, nothing was half done silently
        said = gettext("Could not forget them: %(error)s") % {"error": exc}
        modeladmin.message_user(request, said, messages.ERROR)
        return
    bits = sum(item.bits for item in done)
    said = gettext("Forgot %(users)s user(s) in the analytics (%(bits)s bits cleared).")
    modeladmin.message_user(request, said % {"users": len(done), "bits": bits})


forget_in_analytics.short_description = _("Forget in analytics")  # type: ignore[attr-defined]


def add_forget_action(site: admin.AdminSite) -> None:
    """Offer "Forget in analytics" on the user changelist, if the user admin is
    registered on ``site`` (idempotent)."""
    model = get_user_model()
    if not site.is_registered(model):
        return
    model_admin = site.get_model_admin(model)
    actions = list(model_admin.actions or [])
    if forget_in_analytics not in actions:
        model_admin.actions = [*actions, forget_in_analytics]
