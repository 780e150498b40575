"""Breakdowns on the dashboards in a real Chromium: the demo's properties are
offered at first sight, and each page draws its split."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.browser import MARKS
from tests.conftest import grant_analytics

pytestmark = MARKS


@pytest.fixture
def demo_session(porpoise):
    from porpoise_django.dev.demo import generate

    pp = porpoise(ACTIVE_EVENT=None, GRANULARITIES=["day", "week", "month"])
    pp.clock = lambda: dt.datetime(2026, 11, 22, 20, tzinfo=dt.UTC)
    generate(pp, users=1500, days=30)
    client = Client()
    user = get_user_model().objects.create_user("staff", password="pw-for-tests", is_staff=True)
    client.force_login(grant_analytics(user))
    return client.cookies["sessionid"].value


def chart_labels(page):
    """The labels of the datasets the page's chart draws."""
    return page.evaluate(
        "JSON.parse(document.getElementById('porpoise-chart-data').textContent)"
        ".datasets.map(d => d.label)"
    )


def test_each_page_broken_down_in_the_browser(live_server, demo_session, browser_page):
    page = browser_page
    page.context.add_cookies([{"name": "sessionid", "value": demo_session, "url": live_server.url}])
    page.goto(f"{live_server.url}/admin/porpoise/cohorts/")
    offered = page.locator("#id_breakdown option").all_inner_texts()
    assert offered == ["nothing", "country (person)", "plan (person)", "source (event)"]
    page.select_option("#id_breakdown", "plan")
    page.click("text=Show the table")
    page.wait_for_selector("#porpoise-cohort-table")
    labels = chart_labels(page)
    assert {"average, plan = free", "average, plan = pro", "average, plan = team"} <= set(labels)
    assert page.locator("canvas#porpoise-chart").is_visible()

    page.goto(f"{live_server.url}/admin/porpoise/funnels/")
    page.fill("#id_steps", "signup\nlogin\npurchase")
    page.select_option("#id_breakdown", "source")
    page.click("text=Show the funnel")
    page.wait_for_selector("#porpoise-funnel-split")
    heads = page.locator("#porpoise-funnel-split thead th").all_text_contents()
    assert heads == ["Step", "ads", "direct", "referral", "seo"]

    page.goto(f"{live_server.url}/admin/porpoise/lifecycle/")
    page.fill("#id_event", "active")
    page.select_option("#id_breakdown", "country")
    page.click("text=Show")
    page.wait_for_selector("#porpoise-lifecycle-split")
    assert page.locator("#porpoise-lifecycle-split tbody tr").count() == 6

    page.goto(f"{live_server.url}/admin/porpoise/charts/")
    page.select_option("#id_kind", "event")
    page.fill("#id_name", "signup")
    page.select_option("#id_breakdown", "plan")
    page.click("#porpoise-chart-form [type=submit]")
    page.wait_for_selector("canvas#porpoise-chart")
    labels = chart_labels(page)
    assert labels == ["signup, plan = free", "signup, plan = pro", "signup, plan = team"]
