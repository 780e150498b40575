"""Demo data that looks like a product: no pile-up in the current hour, counters
that agree with the events, a running A/B test; in any time zone, at any hour."""

from __future__ import annotations

import datetime as dt

import pytest

from porpoise_django.dev.demo import PRICE, generate
from porpoise_django.engine import Analytics


@pytest.mark.parametrize(
    ("zone", "now"),
    [
        ("UTC", dt.datetime(2026, 11, 25, 15, 40, tzinfo=dt.UTC)),  # mid-afternoon
        ("Europe/Paris", dt.datetime(2026, 3, 29, 0, 20, tzinfo=dt.UTC)),  # 01:20, DST day
        ("America/New_York", dt.datetime(2026, 11, 25, 5, 5, tzinfo=dt.UTC)),  # 00:05 there
    ],
)
def test_demo_data_is_consistent(make_analytics, zone, now):
    pp: Analytics = make_analytics(
        tz=zone, clock=lambda: now, granularities=("day", "week", "month")
    )
    generate(pp, users=1500, days=21)
    today, yesterday = pp.period("day"), pp.period("day", -1)
    hours = pp.counter("page:view").totals(pp.range("hour", yesterday.start, today.start))
    busiest_yesterday = max(v for p, v in hours if p.start < today.start)
    this_hour = pp.counter("page:view").totals(pp.range("hour", 0, 0))[0][1]
    assert this_hour <= busiest_yesterday  # spread up to now, not piled on it
    assert all(p.start.timestamp() <= now.timestamp() for p, v in hours if v)
    for day in (yesterday, today):
        purchases = len(pp.event("purchase").at("day", day.start))
        revenue = pp.counter("revenue").totals(pp.range("day", day.start, day.start))[0][1]
        assert revenue == pytest.approx(purchases * PRICE)
        played = len(pp.event("song:played").at("day", day.start))
        plays = pp.counter("song:played").totals(pp.range("day", day.start, day.start))[0][1]
        assert played <= plays <= 3 * played
    report = pp.decision("landing-page").report(["a", "b"], {"country": "US"})
    assert all(row.trials > 0 for row in report)
