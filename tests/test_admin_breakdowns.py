"""Breakdowns on the dashboards: a retention curve per value, a funnel per value
side by side, property filters in the query boxes."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import grant_analytics

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("boss", password="pw", is_staff=True)
    client.force_login(grant_analytics(user))
    return client


@pytest.fixture
def pp(porpoise):
    # Page views must not mark the staff member "active": their id may be one
    # of the users below (it depends on the order the tests ran in).
    pp = porpoise(ACTIVE_EVENT=None)
    yesterday = pp.now() - dt.timedelta(days=1)
    for user in range(1, 9):
        pp.set_properties(user, {"plan": "pro" if user <= 3 else "free"})
        pp.mark("signup", user, yesterday, properties={"source": "ads" if user % 2 else "seo"})
    pp.mark_many([("active", u) for u in (1, 2, 5)])
    return pp


def test_the_cohort_page_draws_a_curve_per_value(staff_client, pp):
    page = staff_client.get(
        "/admin/porpoise/cohorts/",
        {"select1": "signup", "select2": "active", "cohorts": 3, "offsets": 2, "breakdown": "plan"},
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="plan" selected>plan (person)</option>' in html
    spec = json.loads(
        html.split('id="porpoise-chart-data"')[1].split(">", 1)[1].split("</script>")[0]
    )
    labels = [d["label"] for d in spec["datasets"]]
    assert "average, plan = pro" in labels and "average, plan = free" in labels


def test_the_funnel_page_shows_a_funnel_per_value(staff_client, pp):
    page = staff_client.get(
        "/admin/porpoise/funnels/", {"steps": "signup\nactive", "breakdown": "source"}
    )
    html = page.content.decode()
    table = html.split('id="porpoise-funnel-split"')[1].split("</table>")[0]
    assert '<th class="num">ads</th>' in table and '<th class="num">seo</th>' in table
    assert '<td class="num">4</td><td class="num">4</td>' in table  # signups per source


def test_property_filters_and_restricted_events_in_the_query_boxes(staff_client, pp):
    page = staff_client.get(
        "/admin/porpoise/funnels/", {"steps": "signup=source=ads\nactive & plan=pro"}
    )
    html = page.content.decode()
    assert "unknown event" not in html
    assert 'id="porpoise-funnel-table"' in html
    bad = staff_client.get(
        "/admin/porpoise/funnels/", {"steps": "signup\nactive", "breakdown": "x"}
    )
    assert "Select a valid choice" in bad.content.decode()


def test_the_lifecycle_page_sums_each_state_per_value(staff_client, pp):
    page = staff_client.get(
        "/admin/porpoise/lifecycle/", {"event": "signup", "period": "7d", "breakdown": "plan"}
    )
    html = page.content.decode()
    table = html.split('id="porpoise-lifecycle-split"')[1].split("</table>")[0]
    assert '<td>pro</td><td class="num">3</td>' in table
    assert '<td>free</td><td class="num">5</td>' in table


def test_an_event_chart_draws_a_line_per_value(staff_client, pp):
    page = staff_client.get(
        "/admin/porpoise/charts/",
        {"kind": "event", "name": "signup", "period": "7d", "breakdown": "source"},
    )
    chart = page.context["chart"]
    labels = [d["label"] for d in chart["datasets"]]
    assert labels == ["signup, source = ads", "signup, source = seo"]
    assert [sum(d["data"]) for d in chart["datasets"]] == [4, 4]


def test_the_lifecycle_form_is_bounded_like_the_api(staff_client, pp):
    page = staff_client.get("/admin/porpoise/lifecycle/", {"event": "signup", "period": "5000d"})
    assert page.status_code == 200
    assert "a lifecycle spans at most 400 periods" in page.content.decode()


def test_the_overview_splits_each_event_by_a_property(staff_client, pp):
    for user in range(10, 70):
        pp.set_properties(user, {"plan": f"p{user % 7}"})
        pp.mark("active", user)
    page = staff_client.get("/admin/porpoise/overview/", {"breakdown": "plan", "top": 2})
    assert page.status_code == 200
    html = page.content.decode()
    [active] = [r for r in page.context["event_rows"] if r["name"] == "active"]
    today = pp.event("active").day()
    week = pp.event("active").bind(pp.period("week"))
    by_day, by_week = today.breakdown("plan"), week.breakdown("plan")  # the engine's numbers
    shown = {part["value"]: (part["today"][0], part["week"][0]) for part in active["split"]}
    kept = [v for v in shown if v != "$other"]
    assert len(kept) == 2 and list(shown)[-1] == "$other"
    assert sorted((by_week[v] for v in kept), reverse=True) == sorted(by_week.values())[::-1][:2]
    for value in kept:
        assert shown[value] == (by_day[value], by_week[value])
    rest = [v for v in by_week if v not in kept]
    assert shown["$other"] == (sum(by_day[v] for v in rest), sum(by_week[v] for v in rest))
    assert sum(n for n, _ in shown.values()) == len(today)  # a person property: a partition
    assert f'data-event="active" data-value="{kept[0]}"' in html
    assert "sort=today&amp;breakdown=plan&amp;top=2" in html  # the sort links keep the split


def test_the_overview_by_an_event_property_and_where(staff_client, pp):
    page = staff_client.get("/admin/porpoise/overview/", {"breakdown": "source"})
    rows = {r["name"]: r for r in page.context["event_rows"]}
    signups = pp.event("signup").bind(pp.period("week")).breakdown("source")
    if len(pp.event("signup").bind(pp.period("week"))):  # yesterday may be last week
        assert {p["value"]: p["week"][0] for p in rows["signup"]["split"]} == signups
    assert "carries" in rows["active"]["split_error"]  # active never carried a source
    pros = staff_client.get("/admin/porpoise/overview/", {"where": "plan=pro"}).context
    [active] = [r for r in pros["event_rows"] if r["name"] == "active"]
    assert active["today"] == len(pp.event("active").day() & pp.where(plan="pro")) == 2
    bad = staff_client.get("/admin/porpoise/overview/", {"where": "plan"})
    assert bad.status_code == 200
    assert 'id="porpoise-overview-split-error"' in bad.content.decode()
    worse = staff_client.get("/admin/porpoise/overview/", {"where": "source=ads", "top": 99})
    assert "event property" in worse.content.decode() and worse.status_code == 200
