"""Template filters of the dashboards: ``{% load porpoise %}``.

>>> percent(0.1234)
'12.3%'
>>> percent(None)
'-'
"""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """A share (0 to 1) as a percentage, the way every page shows rates."""
    if value is None:
        return "-"
    return f"{100 * float(value):.{int(digits)}f}%"
