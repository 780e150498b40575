"""``bitmapist.cohort`` over the engine: the cohort table's data, and the form,
HTML table and CSV that bitmapist renders from it.

Example::

    from porpoise_django.compat.bitmapist import cohort
    rows = cohort.get_dates_data("active", "song:play", time_group="days")
    html = cohort.render_html_data(rows, time_group="days")

A row is ``[date, cohort size, cell 0, ..., cell num_of_rows]``: ``num_results``
rows, oldest first, each cell the percent (or, with ``as_percent=False``, the
number) of the cohort that did ``select2`` that many periods later; ``""``
where the cohort is empty or nobody did ``select2`` in that period. Every cell
is counted in one round trip (bitmapist asks once per cell).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from porpoise_django.compat.bitmapist import (
    BitOpAnd,
    DayEvents,
    GenericPeriodEvents,
    MonthEvents,
    WeekEvents,
    YearEvents,
    store_of,
)

TIME_GROUPS = ("days", "weeks", "months", "years")
_GRANULARITY = {"days": "day", "weeks": "week", "months": "month", "years": "year"}
#: Years: bitmapist shows three, whatever ``num_results`` says.
YEARS_SHOWN = 3

#: ``set_custom_handler``'s callbacks, by event name.
CUSTOM_HANDLERS: dict[str, Callable[..., Any]] = {}


def set_custom_handler(event_name: str, callback: Callable[..., Any]) -> None:
    """Read ``event_name`` in the table as ``callback(event_name, cls, cls_args)``
    (``cls`` is ``DayEvents``...``YearEvents``, ``cls_args`` its arguments after
    the name), e.g. ``cls("active", *cls_args) & cls("web", *cls_args)``."""
    CUSTOM_HANDLERS[event_name] = callback


def _dispatch(key: str, cls: Any, cls_args: tuple[Any, ...]) -> Any:
    if key in CUSTOM_HANDLERS:
        return CUSTOM_HANDLERS[key](key, cls, cls_args)
    return cls(key, *cls_args)


# bitmapist's names for "the event in the period holding this date".
def _day_events_fn(key: str, date: dt.date, system: str) -> Any:
    return _dispatch(key, DayEvents, (date.year, date.month, date.day, system))


def _weeks_events_fn(key: str, date: dt.date, system: str) -> Any:
    """The ISO week of ``date`` (its ISO year, which may not be the calendar year's)."""
    iso_year, iso_week, _ = date.isocalendar()
    return _dispatch(key, WeekEvents, (iso_year, iso_week, system))


def _month_events_fn(key: str, date: dt.date, system: str) -> Any:
    return _dispatch(key, MonthEvents, (date.year, date.month, system))


def _year_events_fn(key: str, date: dt.date, system: str) -> Any:
    return _dispatch(key, YearEvents, (date.year, system))


day_events, week_events, month_events, year_events = (
    _day_events_fn,
    _weeks_events_fn,
    _month_events_fn,
    _year_events_fn,
)
_EVENTS = {
    "days": _day_events_fn,
    "weeks": _weeks_events_fn,
    "months": _month_events_fn,
    "years": _year_events_fn,
}


def _check(time_group: str, num_results: Any, num_of_rows: Any) -> tuple[int, int]:
    if time_group not in TIME_GROUPS:
        raise ValueError(f"unknown time_group {time_group!r}; allowed: {', '.join(TIME_GROUPS)}")
    try:
        results, rows = int(num_results), int(num_of_rows)
    except (TypeError, ValueError):
        raise ValueError("num_results and num_of_rows must be whole numbers") from None
    if not (1 <= results <= 1000 and 0 <= rows <= 1000):
        raise ValueError("num_results must be 1 to 1000 and num_of_rows 0 to 1000")
    return (YEARS_SHOWN if time_group == "years" else results), rows


def _first_start(store: Any, granularity: str, count: int, start_date: Any) -> Any:
    """The first row's period: ``start_date`` (``"2026-03-01"``, a date or a
    datetime), or the one ``count - 1`` periods before the current one."""
    if start_date in (None, ""):
        return store.period(granularity).delta(-(count - 1))
    if isinstance(start_date, str):
        try:
            start_date = dt.date.fromisoformat(start_date.strip())
        except ValueError:
            raise ValueError(f"start_date {start_date!r}: use YYYY-MM-DD") from None
    if isinstance(start_date, dt.datetime) and start_date.tzinfo is None:
        start_date = start_date.replace(tzinfo=dt.UTC)
    return store.period(granularity, start_date)


def _selection(
    fn: Callable[..., Any], key: str, extra: str | None, day: dt.date, system: str
) -> Any:
    events = fn(key, day, system)
    return BitOpAnd(system, events, fn(extra, day, system)) if extra else events


def get_dates_data(
    select1: str,
    select2: str,
    select1b: str | None = None,
    select2b: str | None = None,
    time_group: str = "days",
    system: str = "default",
    as_percent: bool | int = True,
    num_results: int = 31,
    num_of_rows: int = 12,
    start_date: str | dt.date | None = None,
    *,
    as_precent: bool | int | None = None,
    select3: str | None = None,
) -> list[list[Any]]:
    """bitmapist's rows: ``[period start (aware), cohort size, cell 0, ...]`` for
    ``num_results`` periods (3 for years) from ``start_date`` (default: ending
    with the current one), ``num_of_rows + 1`` cells each. ``as_precent`` (the
    misspelling) and ``select3`` (for ``select2b``) are still taken."""
    results, rows = _check(time_group, num_results, num_of_rows)
    percent = as_percent if as_precent is None else as_precent
    select2b = select2b or select3
    store = store_of(system)
    fn = _EVENTS[time_group]
    first = _first_start(store, _GRANULARITY[time_group], results, start_date)
    periods = [first.delta(i) for i in range(results + rows)]
    days = [p.start.date() for p in periods]
    cohorts = [_selection(fn, select1, select1b, days[r], system) for r in range(results)]
    targets = [_selection(fn, select2, select2b, day, system) for day in days]
    both = [
        [BitOpAnd(system, c, targets[r + i]) for i in range(rows + 1)]
        for r, c in enumerate(cohorts)
    ]
    counts = store.count_bitmaps([*cohorts, *targets, *(b for row in both for b in row)])
    sizes, reached = counts[:results], counts[results : results + len(targets)]
    cells = iter(counts[results + len(targets) :])
    table = []
    for r, size in enumerate(sizes):
        row: list[Any] = [periods[r].start.astimezone(dt.UTC), size]
        for i in range(rows + 1):
            shared = next(cells)
            row.append(_cell(size, reached[r + i], shared, bool(percent)))
        table.append(row)
    return table


def _cell(size: int, reached: int, shared: int, percent: bool) -> float | int | str:
    if not size or not reached:
        return ""
    if not shared:
        return 0.0
    return 100.0 * shared / size if percent else shared


# -- rendering (our own markup; bitmapist renders Mako templates) -----------------------------
def _options(name: str, choices: Sequence[tuple[str, str]], chosen: Any, css: str = "") -> str:
    picked = str(chosen or "")
    items = "".join(
        f'<option value="{html.escape(str(value))}"{" selected" if str(value) == picked else ""}>'
        f"{html.escape(str(text))}</option>"
        for text, value in choices
    )
    klass = f' class="{css}"' if css else ""
    return f'<select name="{name}"{klass}>{items}</select>'


#: Makes the event selects searchable when the page has Tom Select loaded.
ENHANCE_SCRIPT = (
    "<script>(function(){if(!window.TomSelect){return;}"
    'document.querySelectorAll("select.cohort-event-select").forEach(function(el){'
    "new TomSelect(el,{maxOptions:null});});})();</script>"
)


def render_html_form(
    action_url: str,
    selections1: Sequence[tuple[str, str]],
    selections1b: Sequence[tuple[str, str]] | None = None,
    selections2: Sequence[tuple[str, str]] | None = None,
    selections2b: Sequence[tuple[str, str]] | None = None,
    time_group: str = "days",
    select1: str | None = None,
    select1b: str | None = None,
    select2: str | None = None,
    select2b: str | None = None,
    as_percent: bool = True,
    num_results: int = 31,
    num_of_rows: int = 12,
    start_date: str | None = None,
    include_assets: bool = True,
) -> str:
    """A GET form asking for a cohort table: the fields ``get_dates_data`` takes.

    The event selects carry the class ``cohort-event-select`` and a script makes
    them searchable with Tom Select, as bitmapist's form does. Tom Select 2.3.1
    ships in the app's static files (with its Apache-2.0 licence) and is inlined
    with ``include_assets`` (the default); ``include_assets=False`` leaves it out
    for a page that renders several forms or loads Tom Select itself.
    """
    selections2 = list(selections2 or selections1)
    blank = [("------", "")]
    extra1 = blank + list(selections1b or selections1)
    extra2 = blank + list(selections2b or selections2)
    event = "cohort-event-select"
    groups = [(g.capitalize(), g) for g in TIME_GROUPS]
    fields = [
        ("Cohort", _options("select1", selections1, select1, event)),
        ("and", _options("select1b", extra1, select1b, event)),
        ("then did", _options("select2", selections2, select2, event)),
        ("and", _options("select2b", extra2, select2b, event)),
        ("by", _options("time_group", groups, time_group)),
        (
            "show",
            _options("as_percent", [("Percents", "1"), ("Counts", "0")], int(bool(as_percent))),
        ),
    ]
    numbers = (
        f'<input type="number" name="num_results" min="1" value="{int(num_results)}">'
        f'<input type="number" name="num_of_rows" min="0" value="{int(num_of_rows)}">'
        f'<input type="date" name="start_date" value="{html.escape(start_date or "")}">'
    )
    labelled = "".join(f"<label>{html.escape(t)} {field}</label> " for t, field in fields)
    return (
        f'<form class="cohort-form" method="get" action="{html.escape(action_url)}">'
        f'{labelled}{numbers}<button type="submit">Show</button></form>'
        f"{tom_select_assets() if include_assets else ''}{ENHANCE_SCRIPT}"
    )


def tom_select_assets() -> str:
    """Tom Select's CSS and JavaScript, inlined (read once from the static files)."""
    global _ASSETS
    if _ASSETS is None:
        folder = Path(__file__).resolve().parent.parent.parent / "static" / "porpoise_django"
        css = (folder / "tom-select.default.min.css").read_text()
        script = (folder / "tom-select.complete.min.js").read_text()
        _ASSETS = f"<style>{css}</style><script>{script}</script>"
    return _ASSETS


_ASSETS: str | None = None


def _label(when: Any, time_group: str) -> str:
    if not isinstance(when, dt.date):
        return str(when)
    if time_group == "weeks":
        year, week, _ = when.isocalendar()
        return f"{year}-W{week:02d}"
    return when.strftime({"months": "%Y-%m", "years": "%Y"}.get(time_group, "%Y-%m-%d"))


def _shown(value: Any, as_percent: bool) -> str:
    if value == "" or value is None:
        return ""
    return f"{value:.1f}%" if as_percent else str(value)


def render_html_data(
    dates_data: Sequence[Sequence[Any]],
    as_percent: bool = True,
    time_group: str = "days",
    num_results: int = 31,
    num_of_rows: int = 12,
    start_date: str | None = None,
) -> str:
    """``get_dates_data``'s rows as an HTML table (period, size, one column an offset)."""
    width = max((len(r) - 2 for r in dates_data), default=0)
    unit = time_group.rstrip("s")
    head = "".join(f"<th>{unit} {i}</th>" for i in range(width))
    body = "".join(
        f"<tr><th>{html.escape(_label(row[0], time_group))}</th><td>{row[1]}</td>"
        + "".join(f"<td>{html.escape(_shown(v, as_percent))}</td>" for v in row[2:])
        + "</tr>"
        for row in dates_data
    )
    return (
        f'<table class="cohort-table"><thead><tr><th>{time_group.capitalize()}</th>'
        f"<th>Total</th>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def render_csv_data(
    dates_data: Sequence[Sequence[Any]],
    as_percent: bool = True,
    time_group: str = "days",
    num_results: int = 31,
    num_of_rows: int = 12,
    start_date: str | None = None,
) -> str:
    """``get_dates_data``'s rows as CSV: a header, then one line per cohort."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    width = max((len(r) - 2 for r in dates_data), default=0)
    writer.writerow([time_group, "total", *(f"{time_group.rstrip('s')} {i}" for i in range(width))])
    for row in dates_data:
        cells = [_shown(v, as_percent).rstrip("%") for v in row[2:]]
        writer.writerow([_label(row[0], time_group), row[1], *cells])
    return out.getvalue()


__all__ = [
    "CUSTOM_HANDLERS",
    "GenericPeriodEvents",
    "day_events",
    "get_dates_data",
    "month_events",
    "render_csv_data",
    "render_html_data",
    "render_html_form",
    "set_custom_handler",
    "week_events",
    "year_events",
]
