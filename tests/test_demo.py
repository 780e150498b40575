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


def test_demo_users_are_never_django_users(make_analytics):
    """Issue 29, defect 5: demo ids start at 2**31 (a chunk's start: small
    bitmaps), far from any primary key; string ids say "demo"."""
    from porpoise_django.dev.demo import FIRST_ID

    pp = make_analytics(granularities=("day", "week"))
    result = generate(pp, users=300, days=5)
    assert result["ids"] == (FIRST_ID, FIRST_ID + 299)
    signups = list(pp.event("signup").union(pp.range("day", -4)))
    assert min(signups) == FIRST_ID and max(signups) == FIRST_ID + 299
    assert pp.memory_report()[0]["bytes"] < 300  # 300 users' bits, not 2**31 of them
    mapped = make_analytics(prefix=f"{pp.keys.prefix}-map", id_mode="map", granularities=("day",))
    generate(mapped, users=20, days=2)
    assert all(str(i).startswith("demo-user-") for i in mapped.event("signup").day())
    mapped.delete_all()
    small = make_analytics(prefix=f"{pp.keys.prefix}-small", max_id=10_000)
    with pytest.raises(ValueError, match="do not fit MAX_ID"):
        generate(small, users=10, days=2)


@pytest.mark.django_db
def test_porpoise_demo_refuses_a_prefix_that_holds_data(porpoise):
    from io import StringIO

    from django.core.management import CommandError, call_command

    pp = porpoise(GRANULARITIES=["day", "week"])
    pp.mark("signup", 2)  # a real user
    with pytest.raises(CommandError, match="already holds data"):
        call_command("porpoise_demo", "--users", "50", "--days", "3", stdout=StringIO())
    assert list(pp.event("signup").day()) == [2]  # nothing written
    out = StringIO()
    call_command(
        "porpoise_demo",
        "--users",
        "50",
        "--days",
        "3",
        "--prefix",
        f"{pp.keys.prefix}-demo",
        stdout=out,
    )
    assert "demo user ids: 2,147,483,648 to 2,147,483,697" in out.getvalue()
    assert list(pp.event("signup").day()) == [2]  # the live prefix is untouched
    from porpoise_django.engine import Analytics

    Analytics(pp.client, prefix=f"{pp.keys.prefix}-demo").delete_all()
    call_command(
        "porpoise_demo",
        "--users",
        "50",
        "--days",
        "3",
        "--into-live",
        stdout=out,
        stderr=StringIO(),
    )
    assert 2 in set(pp.event("signup").union(pp.range("day", -2)))
    assert len(pp.event("signup").union(pp.range("day", -2))) == 51


def test_demo_users_have_properties_to_break_down(make_analytics):
    pp: Analytics = make_analytics(granularities=("day", "week", "month"))
    generate(pp, users=800, days=10)
    assert pp.property_names() == {"country": "person", "plan": "person", "source": "event"}
    assert sum(len(pp.where(plan=plan)) for plan in pp.property_values("plan")) == 800
    signups = pp.event("signup").month()
    assert sum(signups.breakdown("source").values()) == len(signups)
    assert set(pp.event("active").month().breakdown("country")) <= {
        "US",
        "DE",
        "FR",
        "GB",
        "BR",
        "IN",
    }
