"""Saved reports (issue 29, what users expect): any page's query kept under a
name in Redis under the prefix, listed, pinned to the overview; its URL opens
the report whole."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client):
    client.force_login(get_user_model().objects.create_superuser("boss", password="pw"))


@pytest.fixture
def data(porpoise):
    pp = porpoise(ACTIVE_EVENT=None, GRANULARITIES=["day", "week"])
    pp.mark_many([("login", i) for i in range(5)] + [("signup", i) for i in range(3)])
    return pp


def test_a_report_is_saved_from_its_page_and_opens_whole(client, boss, data):
    page = client.get("/admin/porpoise/charts/", {"kind": "event", "name": "login", "period": "7d"})
    text = page.content.decode()
    assert 'id="porpoise-save-report"' in text
    query = page.context["export"]["query"]
    assert "name=login" in query and "format" not in query
    saved = client.post(
        "/admin/porpoise/reports/",
        {"name": "logins, 7 days", "page": "charts", "query": query, "pinned": "1"},
    )
    assert saved.status_code == 302
    opened = client.get("/admin/porpoise/reports/logins, 7 days/")
    assert opened.status_code == 302
    assert opened["Location"].startswith("/admin/porpoise/charts/?")
    chart = client.get(opened["Location"]).context["chart"]
    assert chart["datasets"][0]["label"] == "login" and chart["datasets"][0]["data"][-1] == 5
    overview = client.get("/admin/porpoise/overview/").content.decode()
    listed = overview[overview.index('id="porpoise-saved-reports"') :]
    assert "logins, 7 days" in listed and "pinned" in listed
    assert 'class="porpoise-report-spark"' in listed  # a pinned chart, drawn small
    # kept in Redis under the prefix, no model
    assert data.client.hexists(f"{data.keys.prefix}:admin:reports", "logins, 7 days")
    answer = client.get("/admin/porpoise/reports/", {"format": "json"}).json()
    assert [r["name"] for r in answer["reports"]] == ["logins, 7 days"]


def test_the_first_sight_query_is_kept_with_its_defaults(client, boss, data):
    page = client.get("/admin/porpoise/cohorts/")
    query = page.context["export"]["query"]
    assert "select1=signup" in query and "granularity=" in query
    client.post("/admin/porpoise/reports/", {"name": "signups", "page": "cohorts", "query": query})
    opened = client.get(client.get("/admin/porpoise/reports/signups/")["Location"])
    assert opened.context["table"] is not None


def test_reports_are_refused_politely(client, boss, data):
    bad = client.post("/admin/porpoise/reports/", {"name": "", "page": "charts", "query": ""})
    assert bad.status_code == 400 and "1 to 80 printable characters" in bad.content.decode()
    page = client.post("/admin/porpoise/reports/", {"name": "x", "page": "nope", "query": ""})
    assert page.status_code == 400 and "unknown page" in page.content.decode()
    missing = client.get("/admin/porpoise/reports/nothing/")
    assert missing.status_code == 404 and "no saved report" in missing.content.decode()
    client.post("/admin/porpoise/reports/", {"name": "gone", "page": "funnels", "query": ""})
    client.post("/admin/porpoise/reports/", {"name": "gone", "action": "delete"})
    assert client.get("/admin/porpoise/reports/gone/").status_code == 404
    assert client.put("/admin/porpoise/reports/").status_code == 405


def test_reports_need_the_dashboards_permission(data):
    anonymous = Client().get("/admin/porpoise/reports/")
    assert anonymous.status_code == 302
    joe = Client()
    joe.force_login(get_user_model().objects.create_user("joe", password="pw"))
    assert joe.post("/admin/porpoise/reports/", {"name": "x", "page": "charts"}).status_code == 403


def test_saving_needs_the_csrf_token(data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_superuser("boss", password="pw"))
    response = client.post("/admin/porpoise/reports/", {"name": "x", "page": "charts"})
    assert response.status_code == 403
