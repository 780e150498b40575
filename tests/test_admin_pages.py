"""The admin dashboards with Django's test client: access, forms, numbers, escaping."""

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from porpoise_django.admin.pages import TITLES
from porpoise_django.engine import cohort_table
from tests.conftest import grant_analytics

pytestmark = pytest.mark.django_db
PAGES = ["overview", "cohorts", "funnels", "charts"]


@pytest.fixture
def staff(staff_client_user):
    return staff_client_user


@pytest.fixture
def data(porpoise):
    pp = porpoise(ACTIVE_EVENT=None)  # page views must not change the numbers
    now = pp.now()
    for days_ago in range(5):
        when = now - dt.timedelta(days=days_ago)
        pp.mark_many([("signup", 100 * days_ago + i, when) for i in range(10)])
        pp.mark_many(
            [("active", 100 * d + i, when) for d in range(days_ago, 5) for i in range(0, 10, 2)]
        )
    pp.mark_many([("login", i) for i in range(5)])
    pp.count_many([("page:view", f"/p{i}", i, None) for i in range(1, 6)])
    pp.metric("ads").count({"revenue": 5}, {"country": "US"})
    return pp


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_users_go_to_the_admin_login(client, page):
    response = client.get(f"/admin/porpoise/{page}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", PAGES)
def test_non_staff_users_get_403(client, page):
    client.force_login(get_user_model().objects.create_user("joe", password="pw"))
    response = client.get(f"/admin/porpoise/{page}/")
    assert response.status_code == 403
    text = response.content.decode()
    # In the admin's look: its header and a way back, not a bare error page.
    assert 'id="porpoise-refused"' in text and "Django administration" in text


def test_the_admin_index_and_sidebar_list_porpoise(client, staff, data):
    response = client.get("/admin/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Porpoise analytics" in text
    assert "/admin/porpoise/cohorts/" in text
    page = client.get("/admin/porpoise/overview/").content.decode()
    sidebar = page[page.index('id="nav-sidebar"') :]
    assert "Porpoise analytics" in sidebar and "/admin/porpoise/funnels/" in sidebar


def test_overview_lists_events_and_counters_with_figures(client, staff, data):
    response = client.get("/admin/porpoise/overview/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.context["event_rows"]}
    assert rows["signup"]["today"] == 10
    assert rows["login"]["today"] == 5
    assert rows["signup"]["spark"]
    counters = {row["name"]: row for row in response.context["counter_rows"]}
    assert counters["page:view"]["today"] == 15
    filtered = client.get("/admin/porpoise/overview/?q=sig")
    assert [r["name"] for r in filtered.context["event_rows"]] == ["signup"]


def test_overview_stays_usable_with_hundreds_of_events(client, staff, porpoise):
    pp = porpoise()
    pp.mark_many([(f"event:{i:03d}", 1) for i in range(230)])
    first = client.get("/admin/porpoise/overview/")
    assert len(first.context["event_rows"]) == 50
    assert "page 1 of 5" in first.content.decode()
    last = client.get("/admin/porpoise/overview/?page=5")
    assert [r["name"] for r in last.context["event_rows"]][-1] == "event:229"
    assert client.get("/admin/porpoise/overview/?page=999").status_code == 200


def test_cohort_table_numbers_match_the_engine(client, staff, data):
    params = {
        "select1": "signup",
        "select2": "active",
        "granularity": "day",
        "cohorts": 5,
        "offsets": 4,
        "mode": "on",
        "cohort_type": "recurring",
        "display": "count",
    }
    response = client.get("/admin/porpoise/cohorts/", params)
    assert response.status_code == 200
    expected = cohort_table(data, "signup", "active", cohorts=5, offsets=4)
    import re

    shown = [
        # (a cell's number links to the people behind it)
        re.findall(r"<td[^>]*>([^<]*)</td>", re.sub(r"<a [^>]*>|</a>", "", str(row["cells_html"])))
        for row in response.context["rows"]
    ]
    assert shown == [["" if v is None else str(v) for v in row] for row in expected.counts]
    assert [row["size"] for row in response.context["rows"]] == expected.sizes
    csv = client.get("/admin/porpoise/cohorts/", {**params, "format": "csv"})
    assert csv["Content-Type"] == "text/csv"
    assert csv.content.decode() == expected.to_csv(as_percent=False)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"select1": "nosuchevent", "select2": "active"}, "unknown event"),
        ({"select1": "signup", "select2": "activ"}, "did you mean active"),
        ({"select1": "signup & (", "select2": "active"}, "query ends too early"),
        ({"select1": "signup", "select2": "active", "start": "2026-02-31"}, "Enter a valid date"),
        (
            {"select1": "signup", "select2": "active", "cohorts": 60, "offsets": 60},
            "too large a table",
        ),
        (
            {"select1": "signup", "select2": "active", "granularity": "hour"},
            "Select a valid choice",
        ),
        ({"select1": "signup", "select2": "active", "cohorts": "many"}, "Enter a whole number"),
    ],
)
def test_cohort_form_errors_are_messages_not_500(client, staff, data, params, message):
    response = client.get("/admin/porpoise/cohorts/", params)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_event_names_are_escaped(client, staff, data):
    hostile = "<script>alert(1)</script>"
    response = client.get("/admin/porpoise/cohorts/", {"select1": hostile, "select2": "active"})
    text = response.content.decode()
    assert response.status_code == 200
    assert hostile not in text
    assert "&lt;script&gt;" in text
    charts = client.get(
        "/admin/porpoise/charts/", {"kind": "event", "name": hostile, "period": "7d"}
    ).content.decode()
    assert hostile not in charts and "&lt;script&gt;" in charts
    overview = client.get("/admin/porpoise/overview/", {"q": hostile}).content.decode()
    assert hostile not in overview


def test_funnel_page(client, staff, data):
    response = client.get(
        "/admin/porpoise/funnels/", {"steps": "signup\nactive", "granularity": "day", "window": 3}
    )
    assert response.status_code == 200
    steps = response.context["steps"]
    assert [s["label"] for s in steps] == ["signup", "active"]
    assert steps[0]["count"] == 50
    bad = client.get("/admin/porpoise/funnels/", {"steps": "signup", "window": 3})
    assert "give 2 to 10 steps" in bad.content.decode()
    inverted = client.get(
        "/admin/porpoise/funnels/",
        {"steps": "signup\nactive", "window": 3, "start": "2026-02-01", "end": "2026-01-01"},
    )
    assert "before the first" in inverted.content.decode()


def test_funnel_page_shows_conversion_over_time_and_time_to_convert(client, staff, data):
    from porpoise_django.engine import funnel

    query = {"steps": "signup\nactive", "granularity": "day", "window": 3}
    response = client.get("/admin/porpoise/funnels/", query)
    expected = funnel(data, ["signup", "active"], window=3, times=True)
    page = response.content.decode()
    rows = response.context["over_time"]
    assert [r["period"] for r in rows] == [p.label for p, _ in expected.entries]
    assert [r["entered"] for r in rows] == [c[0] for _, c in expected.entries]
    for row, (_, counts) in zip(rows, expected.entries, strict=True):
        share = round(100 * counts[1] / counts[0], 1) if counts[0] else None
        assert row["reached"] == [share]
    [times] = response.context["times"]
    assert times["within"] == expected.within[1]
    assert times["median"] == expected.median_periods()[1]
    assert 'id="porpoise-funnel-times"' in page and 'id="porpoise-funnel-over-time"' in page
    assert response.context["chart"]["datasets"][0]["label"] == "% reached active"
    # Both tables export, as CSV and JSON.
    csv = client.get("/admin/porpoise/funnels/", {**query, "format": "csv", "table": "times"})
    assert (
        csv.content.decode().splitlines()[0]
        == "step,median_periods,within_0,within_1,within_2,within_3"
    )
    over = client.get(
        "/admin/porpoise/funnels/", {**query, "format": "json", "table": "over_time"}
    ).json()
    assert [r["users_entering"] for r in over["rows"]] == [c[0] for _, c in expected.entries]
    # A window too wide to time still shows the funnel, without the times.
    wide = client.get("/admin/porpoise/funnels/", {**query, "window": 90})
    assert wide.status_code == 200 and wide.context["times"] == []
    assert wide.context["steps"][0]["count"] == expected.counts[0]
    assert 'id="porpoise-funnel-times"' not in wide.content.decode()


def test_charts_page(client, staff, data):
    response = client.get(
        "/admin/porpoise/charts/",
        {
            "kind": "counter",
            "name": "page:view",
            "period": "7d",
            "compare": "on",
            "top": 3,
            "chart": "bar",
        },
    )
    assert response.status_code == 200
    chart = response.context["chart"]
    assert chart["type"] == "bar" and len(chart["labels"]) == 7
    assert chart["datasets"][0]["data"][-1] == 15
    assert chart["datasets"][1]["label"] == "page:view (previous period)"
    assert [r["name"] for r in response.context["top_rows"]] == ["/p5", "/p4", "/p3"]
    assert 'id="porpoise-chart-data"' in response.content.decode()
    assert "porpoise_django/chart.umd.min.js" in response.content.decode()
    metric = client.get(
        "/admin/porpoise/charts/",
        {
            "kind": "metric",
            "name": "ads",
            "period": "7d",
            "metrics": "revenue,revenue/hits",
            "top": 5,
        },
    ).context
    assert [d["label"] for d in metric["chart"]["datasets"]] == ["revenue", "revenue/hits"]
    assert metric["top_rows"] == [{"name": "country", "value": 5}]
    for params, message in [
        ({"kind": "counter", "name": "nope", "period": "7d"}, "unknown counter"),
        ({"kind": "counter", "name": "page:view", "period": "forever"}, "unknown period"),
        ({"kind": "event", "name": "login", "period": "today"}, "not tracked"),
    ]:
        page = client.get("/admin/porpoise/charts/", params)
        assert page.status_code == 200 and message in page.content.decode(), message


def test_chart_js_ships_with_its_licence():
    from django.contrib.staticfiles import finders

    script = finders.find("porpoise_django/chart.umd.min.js")
    licence = finders.find("porpoise_django/chart.js-LICENSE.md")
    assert script and licence
    assert "Chart.js v4" in Path(script).read_text()[:300]
    assert "MIT License" in Path(licence).read_text()


def test_lifecycle_and_decision_pages(client, staff, data):
    page = client.get("/admin/porpoise/lifecycle/", {"event": "active", "period": "7d"})
    assert page.status_code == 200
    chart = page.context["chart"]
    assert chart["stacked"] and [d["label"] for d in chart["datasets"]] == [
        "new",
        "returning",
        "resurrecting",
        "dormant",
    ]
    assert page.context["sticky"].days == 7
    assert (
        "unknown event"
        in client.get("/admin/porpoise/lifecycle/", {"event": "nope"}).content.decode()
    )
    decision = data.decision("cta")
    for _ in range(10):
        decision.record("red")
    decision.record("red", success=1)
    decision.record("blue")  # the page reports recorded options only
    report = client.get(
        "/admin/porpoise/decisions/",
        {"name": "cta", "options": "red,blue", "dimensions": "country=US"},
    )
    assert report.status_code == 200
    assert [r.option for r in report.context["report"]] == ["red", "blue"]
    assert report.context["suggestion"] == "blue"  # fewer than 5 trials: tried first
    assert "10.0%" in report.content.decode()  # 1 success in 10 trials, in percent
    bad = client.get(
        "/admin/porpoise/decisions/", {"name": "cta", "options": "red", "dimensions": "country"}
    )
    text = bad.content.decode()
    assert "two or more distinct options" in text and "name=value" in text


ALL_PAGES = ["overview", "cohorts", "funnels", "charts", "lifecycle", "decisions"]


@pytest.mark.parametrize("page", ALL_PAGES)
def test_pages_installed_on_a_custom_site_are_bound_to_it(client, data, page):
    """install(site) binds the pages to that site: its permission rule, its login,
    its header, its URLs; the default site's are never used."""
    url = f"/console/porpoise/{page}/"
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/console/login/")
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(grant_analytics(staff))
    assert client.get(url).status_code == 403  # staff, but the console wants superusers
    assert client.get(f"/admin/porpoise/{page}/").status_code == 200  # the default site does not
    boss = get_user_model().objects.create_superuser("boss", password="pw")
    client.force_login(boss)
    response = client.get(url)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Staff console" in text and "Django administration" not in text
    assert 'href="/console/porpoise/cohorts/"' in text and 'href="/admin/' not in text


def test_the_custom_site_lists_porpoise_only_to_whom_it_admits(client, data):
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(grant_analytics(staff))
    assert "Porpoise analytics" in client.get("/admin/").content.decode()
    boss = get_user_model().objects.create_superuser("boss", password="pw")
    client.force_login(boss)
    index = client.get("/console/").content.decode()
    assert "Porpoise analytics" in index and "/console/porpoise/overview/" in index


def test_breadcrumbs_use_the_element_of_the_installed_django(client, staff, data):
    """Django 6 draws breadcrumbs as an ``ol`` (its CSS styles only that), 5.2 as a
    ``div``: the pages follow the admin's own base template, whichever is installed."""
    import django.contrib.admin

    base = Path(django.contrib.admin.__file__).parent / "templates/admin/base.html"
    element = "ol" if '<ol class="breadcrumbs">' in base.read_text() else "div"
    for page in ALL_PAGES:
        text = client.get(f"/admin/porpoise/{page}/").content.decode()
        assert f'<{element} class="breadcrumbs">' in text, page
        crumbs = text[
            text.index('class="breadcrumbs"') : text.index(
                f"</{element}>", text.index('class="breadcrumbs"')
            )
        ]
        # Home, the app, the page: no crumb repeats the page's own title.
        assert crumbs.count("Porpoise analytics") == 1, (page, crumbs)
        title = text[text.index("<title>") + 7 : text.index("</title>")]
        assert title.split(" | ")[0] in crumbs, (page, title)
        # The tab says what the sidebar entry says.
        assert title.split(" | ")[0] == TITLES[page]


def test_every_page_answers_at_first_sight(client, staff, data):
    """Opened from the sidebar, with no query, each page already shows an answer
    built from the settings' events (signup, active, login) and the registry.
    (ACTIVE_EVENT is off here: login stands in for it, the busiest event too.)"""
    cohorts = client.get("/admin/porpoise/cohorts/")
    assert cohorts.context["table"] is not None and cohorts.context["rows"]
    form = cohorts.context["form"]
    assert form.data["select1"] == "signup" and form.data["select2"] == "login"
    assert form.data["granularity"] == "week"  # tracked here; a week view by default
    # As many cohorts as weeks since the first signup: no leading empty rows.
    assert all(size > 0 for size in cohorts.context["table"].sizes)
    lifecycle = client.get("/admin/porpoise/lifecycle/")
    assert lifecycle.context["chart"] is not None
    assert lifecycle.context["form"].data["event"] == "active"  # the busiest today
    charts = client.get("/admin/porpoise/charts/")
    assert charts.context["chart"] is not None
    assert charts.context["form"].data["kind"] == "counter"
    assert charts.context["form"].data["name"] == "page:view"  # the only counter
    funnels = client.get("/admin/porpoise/funnels/")
    steps = [s["label"] for s in funnels.context["steps"]]
    assert steps[:2] == ["signup", "login"] and len(steps) == 3


def test_an_empty_store_shows_the_plain_forms(client, staff, porpoise):
    porpoise(ACTIVE_EVENT=None)
    for page in ("cohorts", "lifecycle", "charts", "funnels"):
        response = client.get(f"/admin/porpoise/{page}/")
        assert response.status_code == 200
        assert not response.context["form"].is_bound, page
        assert 'class="errorlist' not in response.content.decode(), page


def test_only_tracked_granularities_are_offered(client, staff, porpoise):
    porpoise(ACTIVE_EVENT=None, GRANULARITIES=["week", "month"])
    form = client.get("/admin/porpoise/cohorts/").context["form"]
    assert [value for value, _ in form.fields["granularity"].choices] == ["week", "month"]
    assert form.fields["granularity"].initial == "week"


def test_the_retention_curve_and_segments(client, staff, data):
    """Above the table: the average curve, one per compared segment, and each
    cohort as a faint line; the figures are the table's."""
    data.mark_unique("premium", 0)
    params = {
        "select1": "signup",
        "select2": "active",
        "granularity": "day",  # (fields left out take the page's defaults: weeks)
        "cohorts": 5,
        "offsets": 4,
        "segments": "unique(premium)\n~unique(premium)",
    }
    response = client.get("/admin/porpoise/cohorts/", params)
    assert response.status_code == 200
    curve = response.context["curve"]
    expected = cohort_table(data, "signup", "active", cohorts=5, offsets=4)
    labels = [d["label"] for d in curve["datasets"]]
    assert labels[:3] == ["average", "average, unique(premium)", "average, ~unique(premium)"]
    assert labels[3:] == expected.labels
    assert curve["datasets"][0]["data"] == expected.average()
    assert [d["data"] for d in curve["datasets"][3:]] == expected.percents()
    assert all(d.get("faint") for d in curve["datasets"][3:])
    premium = cohort_table(
        data, "signup", "active", cohorts=5, offsets=4, select1b=data.unique("premium")
    )
    assert curve["datasets"][1]["data"] == premium.average()
    assert 'id="porpoise-chart"' in response.content.decode()
    too_many = client.get("/admin/porpoise/cohorts/", {**params, "segments": "login\n" * 5})
    assert "compare at most 4 segments" in too_many.content.decode()
