"""Forms of the admin dashboards: every bad input is a message on the form."""

from __future__ import annotations

import difflib
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from porpoise_django import tables
from porpoise_django.engine import Bitmap
from porpoise_django.i18n import PERIOD_STRING_HELP, did_you_mean, engine_message
from porpoise_django.services import get_analytics

#: Segments compared on one cohort page (each is a table of its own).
MAX_SEGMENTS = 4


def query_field(label: Any, initial: str | None = None, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        initial=initial,
        required=required,
        max_length=500,
        widget=forms.TextInput(attrs={"list": "porpoise-events", "size": 28}),
        help_text=_("An event, or a query such as 'login & song:played'."),
    )


def breakdown_field() -> forms.ChoiceField:
    """ "Breakdown by": a property of the store (choices filled per form)."""
    return forms.ChoiceField(
        required=False,
        label=_("Breakdown by"),
        choices=[("", _("nothing"))],
        help_text=_("A person or event property: one result per value."),
    )


#: The kinds of property, as "Breakdown by" offers them: ``plan (person)``.
PROPERTY_KINDS = {"person": _("person"), "event": _("event")}


def offer_properties(form: forms.Form) -> None:
    """Fill the form's "Breakdown by" choices with the store's properties."""
    split = form.fields.get("breakdown")
    if isinstance(split, forms.ChoiceField):
        names = get_analytics().property_names()
        split.choices = [("", gettext("nothing"))] + [
            (n, f"{n} ({PROPERTY_KINDS.get(k, k)})") for n, k in names.items()
        ]


def date_field(**options: Any) -> forms.DateField:
    """An optional date, picked in the browser's date picker (typed YYYY-MM-DD too)."""
    return forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        **options,
    )


def period_field() -> forms.CharField:
    """A period string, with presets offered (today, the last 7/30/90 days, this
    week/month/year so far) and any range typed (``2026-01-01:2026-01-31``)."""
    return forms.CharField(
        label=_("Period"),
        initial="30d",
        max_length=64,
        help_text=PERIOD_STRING_HELP,
        widget=forms.TextInput(attrs={"list": "porpoise-periods", "size": 24}),
    )


def limited_field(limit: tables.Limit, **options: Any) -> forms.IntegerField:
    """An integer field with the range and default the API uses too."""
    return forms.IntegerField(
        min_value=limit.low, max_value=limit.high, initial=limit.default, **options
    )


def period_range(text: str) -> Any:
    """The periods of a period string; one out of the store's times says which
    way and the limits, not a computed instant."""
    try:
        return get_analytics().period_string(text)
    except ValueError as exc:
        limits = re.search(r"times run from (\d+) to (\d+)", str(exc))
        if not limits:
            raise ValidationError(engine_message(exc)) from None
        first, last = limits.groups()
        year = re.match(r"\s*(\d+)-", str(exc))
        early = year is not None and int(year.group(1)) < int(first)
        said = (
            gettext(
                "%(text)r reaches before %(first)s: times run from %(first)s to %(last)s; "
                "ask for a shorter period"
            )
            if early
            else gettext(
                "%(text)r reaches beyond %(last)s: times run from %(first)s to %(last)s; "
                "ask for a shorter period"
            )
        )
        raise ValidationError(said % {"text": text, "first": first, "last": last}) from None


def known_query(text: str, known: set[str]) -> Bitmap:
    """A query over ``known`` events (see :func:`porpoise_django.tables.known_query`)."""
    try:
        return tables.known_query(get_analytics(), text, known)
    except ValueError as exc:
        raise ValidationError(engine_message(exc)) from None


class DashboardForm(forms.Form):
    """A dashboard's query form; ``together`` names fields that stay side by side."""

    together: tuple[tuple[str, ...], ...] = ()

    def groups(self) -> list[list[forms.BoundField]]:
        """The fields in display order, those of a ``together`` group in one list."""
        grouped = {name: group for group in self.together for name in group}
        out: list[list[forms.BoundField]] = []
        for field in self:
            group = grouped.get(field.name)
            if group is None:
                out.append([field])
            elif field.name == group[0]:
                out.append([self[name] for name in group])
        return out


class KnownEventsForm(DashboardForm):
    """Reads the registry of event names once per form."""

    #: The granularities the form knows, offered where the store tracks them.
    granularities: tuple[tuple[str, Any], ...] = (
        ("day", _("days")),
        ("week", _("weeks")),
        ("month", _("months")),
        ("year", _("years")),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known: set[str] | None = None
        # Only the granularities the store tracks are offered.
        field = self.fields["granularity"]
        assert isinstance(field, forms.ChoiceField)
        tracked = get_analytics().granularities
        offered = [(g, label) for g, label in self.granularities if g in tracked]
        field.choices = offered
        if field.initial not in tracked and offered:
            field.initial = offered[0][0]
        offer_properties(self)

    def clean_granularity(self) -> str:
        value: str = self.cleaned_data["granularity"]
        tracked = get_analytics().granularities
        if value not in tracked:
            raise ValidationError(
                gettext("%(value)s is not tracked; tracked: %(tracked)s")
                % {"value": value, "tracked": ", ".join(tracked)}
            )
        return value

    def query(self, field: str) -> Bitmap:
        return self.parse(self.cleaned_data[field])

    def parse(self, text: str) -> Bitmap:
        """A query over known events (the registry is read once per form)."""
        if self._known is None:
            self._known = tables.known_names(get_analytics())
        return known_query(text, self._known)


class CohortForm(KnownEventsForm):
    # "and" narrows the field before it: the two stay together when rows wrap.
    together = (("select1", "select1b"), ("select2", "select2b"))
    select1 = query_field(_("Did"), "signup")
    select1b = query_field(_("and"), required=False)
    select2 = query_field(_("Then came back to"), "active")
    select2b = query_field(_("and"), required=False)
    granularity = forms.ChoiceField(
        label=_("Granularity"), choices=KnownEventsForm.granularities, initial="day"
    )
    cohorts = limited_field(tables.COHORTS, label=_("Cohorts"))
    offsets = limited_field(
        tables.OFFSETS,
        label=_("Periods after"),
        help_text=_("Columns 0 (the cohort's own period) to this many periods after it."),
    )
    start = date_field(label=_("First cohort"), help_text=_("Default: so the table ends now."))
    mode = forms.ChoiceField(
        choices=[("on", _("on")), ("on_or_after", _("on or after"))],
        initial="on",
        label=_("Came back"),
    )
    cohort_type = forms.ChoiceField(
        choices=[("recurring", _("recurring")), ("first_time", _("first time"))],
        initial="recurring",
        label=_("Cohorts of"),
    )
    display = forms.ChoiceField(
        label=_("Display"),
        choices=[("percent", _("percent")), ("count", _("counts"))],
        initial="percent",
    )
    breakdown = breakdown_field()
    segments = forms.CharField(
        required=False,
        max_length=1000,
        label=_("Compare segments"),
        widget=forms.Textarea(attrs={"rows": 2, "cols": 28}),
        help_text=_(
            "One query per line, e.g. unique(premium) and ~unique(premium): each "
            "segment's retention is drawn as a curve."
        ),
    )

    def clean_segments(self) -> list[tuple[str, Bitmap]]:
        lines = [line.strip() for line in self.cleaned_data["segments"].splitlines()]
        lines = [line for line in lines if line]
        if len(lines) > MAX_SEGMENTS:
            raise ValidationError(gettext("compare at most %(n)s segments") % {"n": MAX_SEGMENTS})
        return [(line, self.parse(line)) for line in lines]

    def clean_select1(self) -> Bitmap:
        return self.query("select1")

    def clean_select2(self) -> Bitmap:
        return self.query("select2")

    def clean_select1b(self) -> Bitmap | None:
        return self.query("select1b") if self.cleaned_data.get("select1b") else None

    def clean_select2b(self) -> Bitmap | None:
        return self.query("select2b") if self.cleaned_data.get("select2b") else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        cohorts, offsets = data.get("cohorts"), data.get("offsets")
        if cohorts and offsets is not None:
            try:
                tables.check_cells(cohorts, offsets)
            except ValueError as exc:
                raise ValidationError(engine_message(exc)) from None
        return data


class FunnelForm(KnownEventsForm):
    steps = forms.CharField(
        label=_("Steps"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text=_("2 to 10 steps, one event or query per line, in order."),
    )
    granularities = KnownEventsForm.granularities[:3]
    granularity = forms.ChoiceField(label=_("Granularity"), choices=granularities, initial="day")
    window = limited_field(
        tables.FUNNEL_WINDOW, label=_("Window"), help_text=_("Periods after entering.")
    )
    start = date_field(
        label=_("Start"), help_text=_("First entry period (default: 6 periods ago: 7 end now).")
    )
    end = date_field(label=_("End"), help_text=_("Last entry period (default: now)."))
    breakdown = breakdown_field()

    def clean_steps(self) -> list[tuple[str, Bitmap]]:
        lines = [line.strip() for line in self.cleaned_data["steps"].splitlines() if line.strip()]
        if not tables.FUNNEL_STEPS.low <= len(lines) <= tables.FUNNEL_STEPS.high:
            raise ValidationError(
                gettext("give %(low)s to %(high)s steps, one per line")
                % {"low": tables.FUNNEL_STEPS.low, "high": tables.FUNNEL_STEPS.high}
            )
        known = tables.known_names(get_analytics())
        return [(line, known_query(line, known)) for line in lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise ValidationError(gettext("the last entry period is before the first"))
        return data


#: A name the chart form does not know, by kind (the close ones follow).
UNKNOWN = {
    "counter": _("unknown counter %(name)r"),
    "event": _("unknown event %(name)r"),
    "metric": _("unknown metric %(name)r"),
    "unique": _("unknown unique event %(name)r"),
}


class ChartForm(DashboardForm):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            ("counter", _("counter")),
            ("event", _("event")),
            ("unique", _("unique event")),
            ("metric", _("metric")),
        ],
        initial="counter",
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=128,
        widget=forms.TextInput(attrs={"list": "porpoise-names", "size": 24}),
    )
    period = period_field()
    metrics = forms.CharField(
        label=_("Metrics"),
        required=False,
        initial="hits",
        max_length=500,
        help_text=_("Metrics: comma-separated, ratios such as revenue/hits."),
    )
    dimension = forms.CharField(
        label=_("Dimension"),
        required=False,
        max_length=500,
        help_text=_("Metrics: a dimension path, e.g. country/US."),
    )
    chart = forms.ChoiceField(
        label=_("Chart"), choices=[("line", _("line")), ("bar", _("bar"))], initial="line"
    )
    compare = forms.BooleanField(required=False, label=_("Compare with the previous period"))
    top = forms.IntegerField(required=False, min_value=1, max_value=20, label=_("Top N breakdown"))
    breakdown = breakdown_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_properties(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pp = get_analytics()
        kind, name = data.get("kind"), data.get("name")
        if kind and name:
            names = {
                "counter": pp.counter_names,
                "event": pp.event_names,
                "metric": pp.metric_names,
                "unique": pp.unique_names,
            }[kind]()
            if name not in names:
                close = difflib.get_close_matches(name, names, n=3)
                said = str(UNKNOWN[kind]) % {"name": name}
                self.add_error("name", said + did_you_mean(close))
        if data.get("period"):
            try:
                data["range"] = period_range(data["period"])
            except ValidationError as exc:
                self.add_error("period", exc)
        return data


class LifecycleForm(DashboardForm):
    event = forms.CharField(
        label=_("Event"), max_length=128, widget=forms.TextInput(attrs={"list": "porpoise-events"})
    )
    period = period_field()
    sticky = forms.ChoiceField(
        choices=[("week", _("this week")), ("month", _("this month"))],
        initial="week",
        label=_("Stickiness of"),
    )
    breakdown = breakdown_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_properties(self)

    def clean_event(self) -> str:
        name: str = self.cleaned_data["event"]
        known = get_analytics().event_names()
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            said = gettext("unknown event %(name)r") % {"name": name}
            raise ValidationError(said + did_you_mean(close))
        return name

    def clean_period(self) -> Any:
        periods = period_range(self.cleaned_data["period"])
        if len(periods) > tables.LIFECYCLE_PERIODS:
            raise ValidationError(
                gettext("a lifecycle spans at most %(most)s periods (%(period)s is %(size)s)")
                % {
                    "most": tables.LIFECYCLE_PERIODS,
                    "period": self.cleaned_data["period"],
                    "size": len(periods),
                }
            )
        return periods


def parse_dimensions(text: str) -> dict[str, str]:
    """``country=US, device=mac`` as a dict; raises ValidationError on other shapes."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ValidationError(
                gettext("%(part)r: write dimensions as name=value, comma-separated")
                % {"part": part}
            )
        key, value = (x.strip() for x in part.split("=", 1))
        out[key] = value
    return out


class DecisionForm(DashboardForm):
    name = forms.CharField(
        max_length=128,
        label=_("Decision"),
        widget=forms.TextInput(attrs={"list": "porpoise-decisions"}),
    )
    options = forms.CharField(
        label=_("Options"),
        required=False,
        max_length=1000,
        help_text=_("Comma-separated, e.g. a,b,c; empty: every option recorded."),
    )
    dimensions = forms.CharField(
        label=_("Dimensions"),
        required=False,
        max_length=1000,
        help_text=_("e.g. country=US, device=mac"),
    )

    def clean_options(self) -> list[str]:
        options = [o.strip() for o in self.cleaned_data["options"].split(",") if o.strip()]
        if (options and len(options) < 2) or len(set(options)) != len(options):
            raise ValidationError(gettext("give two or more distinct options"))
        return options

    def clean_dimensions(self) -> dict[str, str]:
        return parse_dimensions(self.cleaned_data.get("dimensions") or "")


#: Filters one "Where" may give (each one AND), as the API's ``where``.
MAX_WHERE = 10


def parse_where(text: str) -> dict[str, str]:
    """``plan=pro, country=US`` (or the API's ``plan:pro``) as ``{name: value}``."""
    filters: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        name, sep, value = item.partition("=") if "=" in item else item.partition(":")
        if not sep or not name.strip() or not value.strip():
            raise ValidationError(_("%(item)r is not property=value") % {"item": item[:60]})
        filters[name.strip()] = value.strip().strip("\"'")
    if len(filters) > MAX_WHERE:
        raise ValidationError(_("at most %(most)s filters") % {"most": MAX_WHERE})
    return filters


class OverviewForm(DashboardForm):
    """The overview's "Breakdown by" and "Where" (each event's users today and
    this week, split by a property's values, or only the ids holding some)."""

    breakdown = breakdown_field()
    top = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=20,
        initial=5,
        label=_("Top values"),
        help_text=_("Values shown per event, the most frequent first; the rest as $other."),
    )
    where = forms.CharField(
        required=False,
        max_length=500,
        label=_("Where"),
        widget=forms.TextInput(attrs={"size": 24, "placeholder": "plan=pro, country=US"}),
        help_text=_("Person properties: only the ids holding these values now."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_properties(self)

    def clean_where(self) -> Bitmap | None:
        filters = parse_where(self.cleaned_data.get("where") or "")
        if not filters:
            return None
        try:
            return get_analytics().where(**filters)
        except ValueError as exc:
            raise ValidationError(engine_message(exc)) from None
