"""The admin dashboards in a real Chromium (Debian's), driven by Playwright.

Screenshots go to a temporary folder, or to docs/img/ (shown in the
docs) with PORPOISE_UPDATE_SCREENSHOTS=1.
"""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from porpoise_django.engine import cohort_table
from tests.browser import MARKS
from tests.conftest import grant_analytics

pytestmark = MARKS


@pytest.fixture
def shots(tmp_path):
    if os.environ.get("PORPOISE_UPDATE_SCREENSHOTS"):
        folder = Path(__file__).resolve().parent.parent / "docs" / "img"
        folder.mkdir(exist_ok=True)
        return folder
    return tmp_path


@pytest.fixture
def demo(porpoise):
    from porpoise_django.dev.demo import generate

    pp = porpoise(ACTIVE_EVENT=None, GRANULARITIES=["day", "week", "month"])
    pp.clock = lambda: dt.datetime(2026, 11, 22, 20, tzinfo=dt.UTC)  # a Sunday: a full week
    generate(pp, users=3000, days=40)
    grant_analytics(
        get_user_model().objects.create_user("staff", password="pw-for-tests", is_staff=True)
    )
    return pp


def test_staff_browse_every_page(live_server, demo, browser_page, shots):
    page = browser_page
    page.goto(f"{live_server.url}/admin/porpoise/overview/")
    assert "/admin/login/" in page.url  # anonymous: sent to the admin login
    page.fill("#id_username", "staff")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/porpoise/overview/")
    assert page.locator("#porpoise-events-table tbody tr").count() >= 5
    assert page.locator("#porpoise-events-table svg polyline").count() >= 5
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/")
    assert page.locator("text=Porpoise analytics").first.is_visible()
    page.click("a:has-text('Cohort retention')")
    page.fill("#id_select1", "signup")
    page.fill("#id_select2", "active")
    page.select_option("#id_granularity", "week")
    page.fill("#id_cohorts", "6")
    page.fill("#id_offsets", "5")
    page.select_option("#id_display", "count")
    page.click("text=Show the table")
    page.wait_for_selector("#porpoise-cohort-table")
    expected = cohort_table(demo, "signup", "active", granularity="week", cohorts=6, offsets=5)
    rows = page.locator("#porpoise-cohort-table tbody tr")
    assert rows.count() == 6
    for r in range(6):
        cells = rows.nth(r).locator("td").all_inner_texts()
        assert cells[0] == expected.labels[r]
        assert int(cells[1]) == expected.sizes[r]
        assert cells[2:] == ["" if v is None else str(v) for v in expected.counts[r]]
    page.select_option("#id_display", "percent")
    page.click("text=Show the table")
    page.wait_for_selector("#porpoise-cohort-table")
    page.screenshot(path=str(shots / "cohorts.png"), full_page=True)

    page.click("a:has-text('Funnels')")
    page.fill("#id_steps", "signup\nlogin\npurchase")
    page.fill("#id_window", "14")
    page.click("text=Show the funnel")
    page.wait_for_selector("#porpoise-funnel-table")
    assert page.locator("#porpoise-funnel-table tbody tr").count() == 3
    # Time to convert (14 days: 15 columns of "within") and conversion over time, drawn.
    assert page.locator("#porpoise-funnel-times tbody tr").count() == 2
    assert page.locator("#porpoise-funnel-times thead th").count() == 2 + 15
    page.wait_for_function("window.porpoiseChart !== undefined")
    lines = page.evaluate("() => window.porpoiseChart.data.datasets.map(d => d.label)")
    assert lines == ["% reached login", "% reached purchase"]
    assert page.locator("#porpoise-funnel-over-time tbody tr").count() == 7
    page.screenshot(path=str(shots / "funnels.png"), full_page=True)

    page.goto(
        f"{live_server.url}/admin/porpoise/charts/?kind=counter&name=page:view&period=30d&compare=on&top=3"
    )
    page.wait_for_function("window.porpoiseChart !== undefined")
    drawn = page.evaluate(
        """() => {
          const c = document.getElementById('porpoise-chart');
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let ink = 0;
          for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) ink++; }
          return ink;
        }"""
    )
    assert drawn > 1000  # the canvas has a chart on it, not a blank
    assert page.locator("#porpoise-top-table tbody tr").count() == 3
    page.screenshot(path=str(shots / "charts.png"), full_page=True)

    page.click("a:has-text('Lifecycle')")
    page.fill("#id_event", "active")
    page.fill("#id_period", "4w")
    page.click("text=Show")
    page.wait_for_function("window.porpoiseChart !== undefined")
    assert page.evaluate("window.porpoiseChart.data.datasets.length") == 4
    assert page.locator("#porpoise-stickiness-table tbody tr").count() == 7
    page.screenshot(path=str(shots / "lifecycle.png"), full_page=True)


@pytest.fixture
def joe_session(porpoise):
    """A logged-in session of a user who is not staff (the admin login form
    would refuse him, so the session is made by Django's test client)."""
    from django.test import Client

    porpoise()
    client = Client()
    client.force_login(get_user_model().objects.create_user("joe", password="pw-for-tests"))
    return client.cookies["sessionid"].value


def test_non_staff_users_are_refused_in_the_browser(live_server, joe_session, browser_page):
    # (users are made before the browser starts: Playwright's event loop would
    # make Django refuse database calls from this thread)
    page = browser_page
    page.context.add_cookies([{"name": "sessionid", "value": joe_session, "url": live_server.url}])
    response = page.goto(f"{live_server.url}/admin/porpoise/cohorts/")
    assert response is not None and response.status == 403


@pytest.fixture
def staff_session(porpoise):
    from django.test import Client

    porpoise()
    client = Client()
    user = get_user_model().objects.create_user("staff", password="pw-for-tests", is_staff=True)
    client.force_login(grant_analytics(user))
    return client.cookies["sessionid"].value


def test_swagger_ui_works_offline(live_server, staff_session, browser_page):
    """The API docs page loads Swagger UI from the package: with every host but
    this server blocked, it still draws the operations."""
    page = browser_page
    outside: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.context.add_cookies(
        [{"name": "sessionid", "value": staff_session, "url": live_server.url}]
    )
    response = page.goto(f"{live_server.url}/api/porpoise/docs/")
    assert response is not None and response.status == 200
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() >= 20
    assert outside == []


def test_live_overview_and_the_chart_form(live_server, staff_session, porpoise, browser_page):
    """Live mode updates the overview's figures in place; the chart form shows the
    fields of the chosen kind only."""
    pp = porpoise(ACTIVE_EVENT=None)
    pp.mark_many([("launch", i) for i in range(5)])
    pp.count("plays", by=2)
    page = browser_page
    page.context.add_cookies(
        [{"name": "sessionid", "value": staff_session, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/admin/porpoise/overview/")
    today = page.locator('#porpoise-events-table tr[data-name="launch"] .porpoise-today')
    assert today.text_content().strip() == "5"
    page.fill("#porpoise-live-seconds", "2")
    page.check("#porpoise-live")
    pp.mark_many([("launch", i) for i in range(5, 8)])
    pp.count("plays", by=3)
    page.wait_for_function(
        """() => document.querySelector('#porpoise-events-table tr[data-name="launch"]'
             + ' .porpoise-today').textContent.trim() === "8" """,
        timeout=15_000,
    )
    counter = page.locator('#porpoise-counters-table tr[data-name="plays"] .porpoise-today')
    page.wait_for_function(
        """() => document.querySelector('#porpoise-counters-table tr[data-name="plays"]'
             + ' .porpoise-today').textContent.trim() === "5" """,
        timeout=15_000,
    )
    assert counter.text_content().strip() == "5"
    page.goto(f"{live_server.url}/admin/porpoise/charts/")
    assert page.locator(".field-metrics").is_hidden()
    assert page.locator(".field-top").is_visible()  # counters have a top-N
    page.select_option("#id_kind", "metric")
    assert page.locator(".field-metrics").is_visible()
    page.select_option("#id_kind", "event")
    assert page.locator(".field-top").is_hidden()


@pytest.fixture
def boss_session(demo):
    """Demo data and a logged-in superuser (the custom site admits superusers only)."""
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", password="pw-for-tests"))
    return client.cookies["sessionid"].value


#: Each page, and what it shows at first sight (no form sent).
FIRST_SIGHT = {
    "overview": "#porpoise-events-table tbody tr",
    "cohorts": "#porpoise-cohort-table tbody tr",
    "funnels": "#porpoise-funnel-table tbody tr",
    "charts": "#porpoise-chart",
    "lifecycle": "#porpoise-stickiness-table tbody tr",
    "decisions": "#porpoise-decision-form",
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_on_both_sites_in_light_and_dark(
    live_server, boss_session, browser_page, shots, scheme
):
    page = browser_page
    page.emulate_media(color_scheme=scheme)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.context.add_cookies([{"name": "sessionid", "value": boss_session, "url": live_server.url}])
    for site, header in (("admin", "Django administration"), ("console", "Staff console")):
        for slug, answer in FIRST_SIGHT.items():
            response = page.goto(f"{live_server.url}/{site}/porpoise/{slug}/")
            assert response is not None and response.status == 200, (site, slug)
            assert page.locator(answer).count() >= 1, (site, slug, scheme)
            assert page.locator("#site-name").inner_text().strip() == header
            background = page.evaluate(
                "getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number)"
            )
            dark = sum(background[:3]) < 3 * 128
            assert dark == (scheme == "dark"), (site, slug, background)
            if site == "admin" and scheme == "dark" and slug == "cohorts":
                page.screenshot(path=str(shots / "cohorts-dark.png"), full_page=True)
    assert errors == []
