"""What the admin pages and the API share about the tables they both draw:
the same limits and defaults, and the same refusal of unknown events.

A cohort table or a funnel asked of the API answers what the admin page
shows for the same parameters, and both refuse what the other refuses.

>>> COHORTS.default, COHORTS.high, MAX_CELLS
(12, 100, 2000)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext

from porpoise_django.engine import Analytics, Bitmap, InvalidExpression, parse_query
from porpoise_django.i18n import did_you_mean


@dataclass(frozen=True)
class Limit:
    """An integer parameter: its range and its default."""

    low: int
    high: int
    default: int


#: Cohort rows, and periods after each cohort.
COHORTS = Limit(1, 100, 12)
OFFSETS = Limit(0, 100, 12)
#: Cells of one cohort table (rows x periods): a page or an answer stays small.
MAX_CELLS = 2000
#: A funnel's conversion window, in periods after entering; and its steps.
FUNNEL_WINDOW = Limit(0, 366, 7)
FUNNEL_STEPS = Limit(2, 10, 3)
#: The most periods a lifecycle may span (each costs a pass over the chunks).
LIFECYCLE_PERIODS = 400


def check_cells(cohorts: int, offsets: int) -> None:
    """Raise ``ValueError`` for a table over :data:`MAX_CELLS` cells."""
    if cohorts * (offsets + 1) > MAX_CELLS:
        raise ValueError(
            gettext(
                "%(cohorts)s cohorts x %(columns)s columns (periods 0 to %(offsets)s) is too "
                "large a table: at most %(cells)s cells"
            )
            % {"cohorts": cohorts, "columns": offsets + 1, "offsets": offsets, "cells": MAX_CELLS}
        )


def known_names(pp: Analytics) -> set[str]:
    """Every event and unique event name a query may use."""
    return set(pp.event_names()) | set(pp.unique_names())


def known_query(pp: Analytics, text: str, known: Iterable[str] | None = None) -> Bitmap:
    """Parse ``text`` and check that every event in it was ever marked: a typo is
    an error naming the close matches, never a table of zeros."""
    template = parse_query(pp, text)
    names = set(known_names(pp) if known is None else known)
    for name in _names(template):
        # An event restricted to a property value (signup=source=ads) is its event's.
        if name not in names and name.split("=")[0] not in names:
            close = difflib.get_close_matches(name, sorted(names), n=3)
            message = gettext("unknown event %(name)r") % {"name": name}
            raise InvalidExpression(message + did_you_mean(close))
    return template


def _names(bitmap: Bitmap) -> list[str]:
    name = getattr(bitmap, "name", None)
    if name is not None:
        return [name]
    return [n for operand in getattr(bitmap, "operands", ()) for n in _names(operand)]


#: What a spreadsheet reads as a formula at the start of a cell (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @``, tab or
    carriage return (or the quote itself, so that the quote can be taken off
    again, see :func:`csv_uncell`) gets a ``'`` in front. Every CSV the app
    writes (the admin's, ``porpoise_export``) goes through it."""
    text = str(value)
    return "'" + text if text.startswith((*FORMULA_STARTS, "'")) else text


def csv_uncell(text: str) -> str:
    """The value :func:`csv_cell` wrote (``porpoise_import`` reads exports back)."""
    return (
        text[1:] if text.startswith("'") and text[1:].startswith((*FORMULA_STARTS, "'")) else text
    )


def csv_safe(text: str) -> str:
    """A whole CSV document with every cell through :func:`csv_cell`."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text)):
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()
