"""Every dashboard's answer as CSV and JSON, dates picked, periods offered as
presets, the overview sorted by volume and change (issue 29, what users expect)."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model

from porpoise_django.engine import funnel

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client):
    client.force_login(get_user_model().objects.create_superuser("boss", password="pw"))


@pytest.fixture
def data(porpoise):
    pp = porpoise(ACTIVE_EVENT=None, GRANULARITIES=["day", "week", "month"])
    now = pp.now()
    for days_ago in range(14):
        when = now - dt.timedelta(days=days_ago)
        pp.mark_many([("signup", 1000 + 100 * days_ago + i, when) for i in range(10)])
        # growing: more each recent day
        pp.mark_many([("login", 1000 + i, when) for i in range(20 - days_ago)])
        pp.mark_many([("quiet", 1000 + i, when) for i in range(3 if days_ago > 6 else 1)])
    pp.count_many([("plays", "=cmd()", 2, None), ("plays", "song-1", 5, None)])
    landing = pp.decision("landing-page")
    for option in ("a", "b"):
        for _ in range(6):
            landing.record(option)
    return pp


def _csv(response):
    assert response["Content-Type"] == "text/csv", response.content[:300]
    return list(csv.reader(io.StringIO(response.content.decode())))


PAGES = {
    "cohorts": {},
    "funnels": {"steps": "signup\nlogin", "window": 3},
    "charts": {"kind": "event", "name": "login", "period": "7d"},
    "lifecycle": {"event": "login", "period": "7d"},
    "decisions": {},
    "overview": {},
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_page_exports_csv_and_json(client, boss, data, page):
    url = f"/admin/porpoise/{page}/"
    shown = client.get(url, PAGES[page])
    text = shown.content.decode()
    assert "porpoise-export-csv" in text and "porpoise-export-json" in text, page
    rows = _csv(client.get(url, {**PAGES[page], "format": "csv"}))
    assert len(rows) >= 2, page
    answer = client.get(url, {**PAGES[page], "format": "json"}).json()
    if page == "overview":
        assert {r["name"] for r in answer["events"]} >= {"signup", "login"}
    else:
        assert answer["columns"] == rows[0] and len(answer["rows"]) == len(rows) - 1


def test_exports_hold_the_figures_shown(client, boss, data):
    steps = client.get("/admin/porpoise/funnels/", {**PAGES["funnels"], "format": "json"}).json()
    expected = funnel(data, ["signup", "login"], window=3)
    assert [r["users"] for r in steps["rows"]] == expected.counts
    chart = client.get("/admin/porpoise/charts/", {**PAGES["charts"], "format": "json"}).json()
    assert chart["columns"] == ["period", "login", "partial"]
    assert [r["login"] for r in chart["rows"]] == [14, 15, 16, 17, 18, 19, 20]
    assert [r["partial"] for r in chart["rows"]] == [False] * 6 + [True]
    assert "(so far)" not in chart["rows"][-1]["period"]
    sticky = _csv(
        client.get(
            "/admin/porpoise/lifecycle/",
            {**PAGES["lifecycle"], "format": "csv", "table": "stickiness"},
        )
    )
    assert sticky[0] == ["days_active", "exactly", "at_least"] and len(sticky) == 8
    report = client.get("/admin/porpoise/decisions/", {"format": "json"}).json()
    assert [(r["option"], r["trials"]) for r in report["rows"]] == [("a", 6), ("b", 6)]
    counters = _csv(client.get("/admin/porpoise/overview/", {"format": "csv"}))
    assert ["counter", "plays", "7", "7", ""] in counters


def test_csv_exports_are_safe_in_a_spreadsheet(client, boss, data):
    cta = data.decision("cta")
    for option in ("=1+1", "plain"):
        cta.record(option)
    rows = _csv(client.get("/admin/porpoise/decisions/", {"name": "cta", "format": "csv"}))
    cells = [row[0] for row in rows[1:]]
    assert "'=1+1" in cells and "=1+1" not in cells


def test_a_refused_query_exports_its_errors(client, boss, data):
    bad = client.get("/admin/porpoise/funnels/", {"steps": "signup", "format": "json"})
    assert bad.status_code == 400 and "give 2 to 10 steps" in str(bad.json()["errors"])
    text = client.get("/admin/porpoise/charts/", {"kind": "event", "name": "nope", "format": "csv"})
    assert text.status_code == 400 and "unknown event" in text.content.decode()


def test_dates_are_picked_and_periods_offered(client, boss, data):
    cohorts = client.get("/admin/porpoise/cohorts/").content.decode()
    assert 'type="date" name="start"' in cohorts
    funnels = client.get("/admin/porpoise/funnels/").content.decode()
    assert funnels.count('type="date"') == 2
    charts = client.get("/admin/porpoise/charts/").content.decode()
    assert 'list="porpoise-periods"' in charts
    for preset in ("today", "7d", "30d", "90d", "mtd"):
        assert f'<option value="{preset}"' in charts
    day = (data.now() - dt.timedelta(days=3)).date()
    picked = client.get(
        "/admin/porpoise/cohorts/",
        {"start": day.isoformat(), "granularity": "day", "cohorts": 2, "offsets": 1},
    )
    assert picked.context["table"].periods[0].start.date() == day


def test_the_overview_sorts_by_volume_and_change(client, boss, data):
    by_name = [r["name"] for r in client.get("/admin/porpoise/overview/").context["event_rows"]]
    assert by_name == ["login", "quiet", "signup"]
    today = [
        r["name"] for r in client.get("/admin/porpoise/overview/?sort=today").context["event_rows"]
    ]
    assert today == ["login", "signup", "quiet"]  # 20, 10, 1 users today
    rows = client.get("/admin/porpoise/overview/?sort=change").context["event_rows"]
    assert rows[0]["name"] == "login"
    quiet = next(r for r in rows if r["name"] == "quiet")
    assert quiet["change"] == pytest.approx(-66.7)  # 1 user a day against 3
    page = client.get("/admin/porpoise/overview/?sort=change").content.decode()
    assert "▼ -66.7%" in page, page[page.index('data-name="quiet"') :][:600]
    assert 'porpoise-sort current" title="Users of the last 7 days' in page
    assert client.get("/admin/porpoise/overview/?sort=bogus").status_code == 200


def test_names_carry_their_descriptions(client, boss, data, porpoise):
    porpoise(
        ACTIVE_EVENT=None,
        GRANULARITIES=["day", "week", "month"],
        DESCRIPTIONS={"signup": "account created", "plays": "<b>songs</b> played"},
    )
    page = client.get("/admin/porpoise/overview/")
    rows = {r["name"]: r for r in page.context["event_rows"] + page.context["counter_rows"]}
    assert rows["signup"]["description"] == "account created"
    assert rows["login"]["description"] == ""
    text = page.content.decode()
    assert "account created" in text and "&lt;b&gt;songs&lt;/b&gt; played" in text
    exported = _csv(client.get("/admin/porpoise/overview/", {"format": "csv"}))
    # This week's column is the calendar week so far: 10 signups a day since it began.
    week_days = (data.now().date() - data.period("week").start.date()).days + 1
    assert ["event", "signup", "10", str(10 * week_days), "account created"] in exported
