"""What a People link picks out of a lifecycle, a stickiness table, a chart or
the overview: the expression behind that one number (the cohort and funnel
sources are in :mod:`.people`, the links themselves in :mod:`.links`).

Each source binds the dashboard's own form to the link's query (the very
fields the page drew its number from) and reads what picks the number out:
``at``, the start of the period the number is of (ISO 8601, so a link keeps
its meaning when "30d" moves on at midnight), ``value`` for one value of a
"Breakdown by", and what the number is (``state``, ``days``...). Anything
wrong in a link, typed or hostile, raises ``ValueError`` with a message the
People page shows; never more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from porpoise_django.admin.forms import ChartForm, LifecycleForm, OverviewForm
from porpoise_django.admin.links import STATES
from porpoise_django.admin.views import bound_form
from porpoise_django.conf import porpoise_settings
from porpoise_django.engine import (
    OTHER,
    Analytics,
    Bitmap,
    Period,
    lifecycle_state,
    stickiness_days,
)

Found = tuple[Bitmap, str, Any]


def form_errors(form: Any) -> str:
    return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())


def int_param(request: HttpRequest, name: str, low: int = 0, high: int = 10**6) -> int:
    """An integer of the query from ``low`` to ``high``, else a ValueError."""
    text = request.GET.get(name, "")
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ValueError(
            gettext("%(name)s must be an integer from %(low)s to %(high)s")
            % {"name": name, "low": low, "high": high}
        )
    return int(text)


def period_param(pp: Analytics, request: HttpRequest, granularity: str, name: str = "at") -> Period:
    """The ``granularity`` bucket holding the query's ``name`` (ISO 8601, the
    start of the period the link was made for)."""
    text = request.GET.get(name, "")[:40]
    try:
        if len(text) == 10:  # a date: its bucket in the store's time zone
            return pp.period(granularity, dt.date.fromisoformat(text))
        when = dt.datetime.fromisoformat(text)
        return pp.period(granularity, when if when.tzinfo else when.replace(tzinfo=pp.tz))
    except (ValueError, OverflowError, TypeError):
        raise ValueError(
            gettext("%(name)s must be the start of a period (ISO 8601), got %(text)r")
            % {"name": name, "text": text}
        ) from None


def valid(form: Any, what: str) -> dict[str, Any]:
    if not form.is_valid():
        raise ValueError(
            gettext("the fields of the %(page)s are not valid: %(errors)s")
            % {"page": PAGES_OF.get(what, what), "errors": form_errors(form)}
        )
    return dict(form.cleaned_data)


def part(pp: Analytics, template: Bitmap, request: HttpRequest, name: str | None) -> Bitmap:
    """``template``, or with ``value`` its part holding that value of ``name`` (with
    ``kept``, ``$other``: every value but those, as a breakdown's top leaves it)."""
    value = request.GET.get("value")
    if value is None:
        return template
    if not name:
        raise ValueError(gettext("value without a breakdown: give breakdown=<property>"))
    parts = pp.split_by(template, name)
    if "kept" in request.GET and value == OTHER:
        kept = set(request.GET["kept"].split(","))
        rest = [p for v, p in parts.items() if v not in kept]
        if not rest:
            return template - template  # nobody beyond the values shown
        found = rest[0]
        for other in rest[1:]:
            found = found | other
        return found
    if value not in parts:
        known = ", ".join(list(parts)[:20]) or "-"
        raise ValueError(
            gettext("%(value)r is not a value of %(name)s (values: %(known)s)")
            % {"value": value[:60], "name": name, "known": known}
        )
    return parts[value]


#: The pages whose fields a link carries, as a refusal names them.
PAGES_OF = {
    "lifecycle": gettext_lazy("lifecycle"),
    "stickiness": gettext_lazy("stickiness"),
    "chart": gettext_lazy("chart"),
    "overview": gettext_lazy("overview"),
}


def in_period(what: str, period: Period) -> str:
    """``signup: new in 2026-W47``, in the active language."""
    return gettext("%(what)s in %(period)s") % {"what": what, "period": period.label}


def _which(request: HttpRequest, name: str) -> str:
    value = request.GET.get("value")
    return f", {name} = {value}" if value is not None else ""


def from_lifecycle(pp: Analytics, request: HttpRequest) -> Found:
    """One bar of the lifecycle: ``state`` of the event in the period ``at``, its
    history counted from ``first`` (the chart's first period), as the page did."""
    data = valid(bound_form(LifecycleForm, request, "event"), "lifecycle")
    state = request.GET.get("state", "")[:40]
    granularity = data["period"].granularity
    period = period_param(pp, request, granularity)
    first = period_param(pp, request, granularity, "first")
    if period < first:
        raise ValueError(gettext("at is before first: the lifecycle starts at first"))
    template = part(pp, pp.event(data["event"]), request, data.get("breakdown"))
    bitmap = lifecycle_state(pp, template, period, state, first=first)
    which = _which(request, data.get("breakdown") or "")
    what = f"{data['event']}{which}: {STATES.get(state, state)}"
    return bitmap, in_period(what, period), data


def from_stickiness(pp: Analytics, request: HttpRequest) -> Found:
    """One bar of stickiness: the event's users on exactly ``days`` days of the
    week or month ``at`` (``at_least=1``: on ``days`` or more)."""
    data = valid(bound_form(LifecycleForm, request, "event"), "stickiness")
    period = period_param(pp, request, data["sticky"])
    days = int_param(request, "days", 1, 31)
    at_least = request.GET.get("at_least") == "1"
    template = part(pp, pp.event(data["event"]), request, data.get("breakdown"))
    bitmap = stickiness_days(pp, template, period, days, at_least=at_least)
    said = (
        gettext("%(event)s: on at least %(days)s day(s) of %(period)s")
        if at_least
        else gettext("%(event)s: on exactly %(days)s day(s) of %(period)s")
    )
    which = _which(request, data.get("breakdown") or "")
    named = {"event": f"{data['event']}{which}", "days": days, "period": period.label}
    return bitmap, said % named, data


def from_chart(pp: Analytics, request: HttpRequest) -> Found:
    """One point of a chart of an event (its users in the period ``at``, one
    value's with a breakdown) or of a unique event among the active users."""
    data = valid(bound_form(ChartForm, request, "name"), "chart")
    kind, name = data["kind"], data["name"]
    if kind not in ("event", "unique"):
        raise ValueError(
            gettext("a %(kind)s's points are sums, not people: only event charts link here")
            % {"kind": kind}
        )
    period = period_param(pp, request, data["range"].granularity)
    if kind == "unique":
        active = porpoise_settings.ACTIVE_EVENT
        if not active or active not in pp.event_names():
            raise ValueError(
                gettext("%(name)r is charted among ACTIVE_EVENT's users: set ACTIVE_EVENT")
                % {"name": name}
            )
        template: Bitmap = pp.unique(name) & pp.event(active)
        label = gettext("%(name)s, among %(active)s") % {"name": name, "active": active}
    else:
        template = part(pp, pp.event(name), request, data.get("breakdown"))
        label = f"{name}{_which(request, data.get('breakdown') or '')}"
    return template.bind(period), in_period(label, period), data


def from_overview(pp: Analytics, request: HttpRequest) -> Found:
    """An overview count: the event's users today or this week (``granularity``),
    with its "Where" and one value of its "Breakdown by"."""
    form = OverviewForm(request.GET)
    data = valid(form, "overview")
    name = request.GET.get("name", "")
    if name not in pp.event_names():
        raise ValueError(gettext("unknown event %(name)r") % {"name": name[:60]})
    granularity = request.GET.get("granularity", "")
    if granularity not in ("day", "week"):
        raise ValueError(
            gettext("granularity must be day or week (the overview's today and this week)")
        )
    pp.check_tracked(granularity)
    period = period_param(pp, request, granularity)
    template: Bitmap = pp.event(name)
    if data["where"] is not None:
        template = template & data["where"]
    template = part(pp, template, request, data.get("breakdown"))
    which = _which(request, data.get("breakdown") or "")
    where = ""
    if data["where"] is not None:
        where = gettext(" where %(filters)s") % {"filters": request.GET["where"]}
    return template.bind(period), in_period(f"{name}{which}{where}", period), data


SOURCES = {
    "lifecycle": from_lifecycle,
    "stickiness": from_stickiness,
    "chart": from_chart,
    "overview": from_overview,
}
