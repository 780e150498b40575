"""The dashboards of issue 29 in a real Chromium: a phone's width, partial
periods drawn as such, the CSV link and the decisions page as a user clicks."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from porpoise_django.engine import cohort_table
from tests.browser import MARKS

pytestmark = MARKS

PAGES = ["overview", "cohorts", "funnels", "charts", "lifecycle", "decisions"]


@pytest.fixture
def boss(porpoise):
    """Demo data ending on a Sunday at 20:00 (today is not over) and a logged-in
    superuser's session (made before the browser starts)."""
    from django.test import Client

    from porpoise_django.dev.demo import generate

    pp = porpoise(ACTIVE_EVENT=None, GRANULARITIES=["day", "week", "month"])
    pp.clock = lambda: dt.datetime(2026, 11, 22, 20, tzinfo=dt.UTC)
    generate(pp, users=2000, days=30)
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", password="pw-x"))
    return pp, client.cookies["sessionid"].value


def _open(page, live_server, session):
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_fits_a_phone(live_server, boss, browser_page, scheme):
    """Defect 7: at 390 px no page is wider than the screen (the cohort form was
    803 px); wide tables scroll inside their own box."""
    _, session = boss
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme=scheme)
    _open(page, live_server, session)
    for slug in PAGES:
        page.goto(f"{live_server.url}/admin/porpoise/{slug}/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (slug, width)
    page.goto(f"{live_server.url}/admin/porpoise/cohorts/?cohorts=100&offsets=100")
    assert page.locator(".errorlist").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_partial_periods_are_drawn_as_such(live_server, boss, browser_page):
    """Defect 10: today's bar of the lifecycle, and today's point of a chart
    compared with the previous period, are labelled and drawn paler."""
    _, session = boss
    page = browser_page
    _open(page, live_server, session)
    page.goto(f"{live_server.url}/admin/porpoise/lifecycle/?event=active&period=14d")
    page.wait_for_function("window.porpoiseChart !== undefined")
    labels = page.evaluate("window.porpoiseChart.data.labels")
    assert labels[-1].endswith("(so far)") and not labels[-2].endswith("(so far)")
    colours = page.evaluate("window.porpoiseChart.data.datasets[3].backgroundColor")
    assert colours[-1] != colours[-2] and colours[-1].endswith("33")
    assert page.locator("#porpoise-partial-note").is_visible()
    page.goto(
        f"{live_server.url}/admin/porpoise/charts/?kind=event&name=active&period=7d&compare=on"
    )
    page.wait_for_function("window.porpoiseChart !== undefined")
    current, previous = page.evaluate(
        "window.porpoiseChart.data.datasets.map(d => Array.isArray(d.backgroundColor))"
    )
    assert current and not previous  # the previous week's days are all whole
    dash = page.evaluate(
        """() => { const d = window.porpoiseChart.data.datasets[0];
                   return [6, 5].map(i => d.segment.borderDash({p1DataIndex: i})); }"""
    )
    assert dash[0] == [4, 4] and dash[1] == []


def test_csv_and_decisions_as_a_user_clicks(live_server, boss, browser_page, tmp_path):
    """Defects 1 and 2: the CSV link of the table shown at first sight downloads
    that table; the decisions page opens on the demo's A/B test, lists it, and
    answers a typo with a suggestion."""
    pp, session = boss
    page = browser_page
    _open(page, live_server, session)
    page.goto(f"{live_server.url}/admin/porpoise/cohorts/")
    page.wait_for_selector("#porpoise-cohort-table")
    shown = page.locator("#porpoise-cohort-table tbody tr").count()
    with page.expect_download() as download:
        page.click("#porpoise-csv")
    path = tmp_path / "cohorts.csv"
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("cohort,size")
    assert len(lines) == 1 + shown
    weeks = cohort_table(pp, "signup", "login", granularity="week", cohorts=shown, offsets=4)
    assert [line.split(",")[0] for line in lines[1:]] == weeks.labels

    page.click(".porpoise-nav a:has-text('Decisions')")
    page.wait_for_selector("#porpoise-decision-table")
    assert page.input_value("#id_name") == "landing-page"
    options = page.locator("#porpoise-decision-table tbody tr td:first-child").all_inner_texts()
    assert options == ["a", "b"]
    assert "landing-page" in page.locator("#porpoise-decisions-list").inner_text()
    page.fill("#id_name", "landing-pag")
    page.click("text=Report")
    page.wait_for_selector(".errorlist")
    assert "did you mean landing-page?" in page.locator(".errorlist").first.inner_text()
    assert page.locator("#porpoise-decision-table").count() == 0
    page.click("#porpoise-decisions-list a:has-text('landing-page')")
    page.wait_for_selector("#porpoise-decision-table")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_exports_dates_and_sorting_as_a_user_clicks(
    live_server, boss, browser_page, tmp_path, scheme
):
    """What users expect: the chart downloads as a PNG, the JSON export of a page
    is its figures, dates are picked in a date input, the overview sorts by change."""
    _, session = boss
    page = browser_page
    page.emulate_media(color_scheme=scheme)
    _open(page, live_server, session)
    page.goto(f"{live_server.url}/admin/porpoise/charts/?kind=event&name=active&period=7d")
    page.wait_for_function("window.porpoiseChart !== undefined")
    with page.expect_download() as download:
        page.click("#porpoise-png")
    png = tmp_path / "chart.png"
    download.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    page.click(".porpoise-export-json")
    answer = page.evaluate("JSON.parse(document.body.innerText)")
    assert answer["columns"] == ["period", "active", "partial"] and len(answer["rows"]) == 7
    page.goto(f"{live_server.url}/admin/porpoise/cohorts/")
    assert page.get_attribute("#id_start", "type") == "date"
    page.fill("#id_start", "2026-11-09")
    page.select_option("#id_granularity", "week")
    page.click("text=Show the table")
    page.wait_for_selector("#porpoise-cohort-table")
    assert page.locator("#porpoise-cohort-table tbody tr td").first.inner_text() == "2026-W46"
    page.goto(f"{live_server.url}/admin/porpoise/overview/")
    page.click("a.porpoise-sort:has-text('Change')")
    page.wait_for_url("**sort=change**")
    changes = page.locator("#porpoise-events-table .porpoise-change").all_inner_texts()
    assert any(text.startswith(("▲", "▼")) for text in changes)
