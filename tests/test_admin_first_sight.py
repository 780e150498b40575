"""The dashboards as an analyst keeps them open (issue 29): partial queries and
exports at first sight, decisions listed, the admin and the API agreeing,
unique events charted, messages that say what is wrong, partial periods
marked, refusals in the asked format."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from porpoise_django.engine import cohort_table, funnel

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("staff", password="pw")
    client.force_login(user)
    return user


@pytest.fixture
def data(porpoise):
    pp = porpoise(ACTIVE_EVENT="active", GRANULARITIES=["day", "week", "month"])
    now = pp.now()
    for days_ago in range(10):
        when = now - dt.timedelta(days=days_ago)
        # ids from 1000: the staff's own page views mark user 1 active
        pp.mark_many([("signup", 1000 + 100 * days_ago + i, when) for i in range(10)])
        pp.mark_many(
            [("active", 1000 + 100 * d + i, when) for d in range(days_ago, 10) for i in (0, 2)]
        )
        pp.mark_many([("login", 1000 + 100 * days_ago + i, when) for i in range(3)])
    pp.count_many([("page:view", "/", 3, None)])
    pp.mark_unique("premium", 1000)
    pp.mark_unique("premium", 1002)
    landing = pp.decision("landing-page")
    for option, shown, won in (("a", 40, 2), ("b", 40, 5)):
        for _ in range(shown):
            landing.record(option, {"country": "US"})
        for _ in range(won):
            landing.record(option, {"country": "US"}, success=1)
    quiet = pp.decision("colour")
    for option in ("red", "blue"):
        quiet.record(option)
    return pp


def test_csv_link_and_partial_queries_fill_in_the_defaults(client, staff, data):
    """Defect 1: ``?format=csv`` alone is the CSV of the table shown at first
    sight; ``?granularity=month`` is that table by month, not an empty form."""
    first = client.get("/admin/porpoise/cohorts/")
    table = first.context["table"]
    link = first.context["csv_query"]
    assert "select1=signup" in link and "format=csv" in link
    for query in ("format=csv", link):
        answer = client.get(f"/admin/porpoise/cohorts/?{query}")
        assert answer["Content-Type"] == "text/csv", query
        assert answer.content.decode() == table.to_csv(as_percent=True)
    rows = list(
        csv.reader(io.StringIO(client.get("/admin/porpoise/cohorts/?format=csv").content.decode()))
    )
    assert len(rows) == 1 + len(table.labels)
    monthly = client.get("/admin/porpoise/cohorts/?granularity=month")
    assert monthly.context["table"] is not None
    assert monthly.context["table"].granularity == "month"
    assert monthly.context["form"].data["select1"] == "signup"
    # The sizes measured in weeks are not kept for months: the form's own (12 x 12).
    assert monthly.context["form"].cleaned_data["cohorts"] == 12
    narrowed = client.get("/admin/porpoise/cohorts/?select2=login")
    assert narrowed.context["form"].data["select1"] == "signup"
    assert narrowed.context["table"] is not None


def test_decisions_are_listed_and_the_busiest_opens(client, staff, data):
    """Defect 2: the page lists each decision with its options and opens the
    busiest; a typo or an unknown option is refused with a suggestion."""
    page = client.get("/admin/porpoise/decisions/")
    text = page.content.decode()
    assert page.context["form"].data["name"] == "landing-page"
    assert [r.option for r in page.context["report"]] == ["a", "b"]
    assert 'id="porpoise-decisions-list"' in text
    assert {d["name"]: d["options"] for d in page.context["decisions"]} == {
        "colour": ["blue", "red"] if False else page.context["decisions"][0]["options"],
        "landing-page": ["a", "b"],
    }
    assert sorted(page.context["decisions"][0]["options"]) == ["blue", "red"]
    assert '<option value="landing-page">' in text  # the name box suggests decisions
    assert (
        '<option value="signup">'
        not in text.split('id="porpoise-decisions"')[1].split("</datalist>")[0]
    )
    by_name = client.get("/admin/porpoise/decisions/", {"name": "colour"})
    assert [r.option for r in by_name.context["report"]] == ["blue", "red"]
    typo = client.get("/admin/porpoise/decisions/", {"name": "landing-pag", "options": "a,b"})
    assert typo.context["report"] is None
    assert "unknown decision &#x27;landing-pag&#x27;; did you mean landing-page?" in (
        typo.content.decode()
    )
    option = client.get("/admin/porpoise/decisions/", {"name": "landing-page", "options": "a,c"})
    assert option.context["report"] is None
    assert "no option &#x27;c&#x27;" in option.content.decode()
    assert "50.1%" not in option.content.decode()


def test_the_default_funnel_is_the_apis(client, staff, data):
    """Defect 3: the same steps with no dates give the same figures on the page
    and in the API (7 entry periods ending now, as the engine's default)."""
    page = client.get("/admin/porpoise/funnels/", {"steps": "signup\nlogin", "window": 3})
    shown = [s["count"] for s in page.context["steps"]]
    api = APIClient()
    api.force_authenticate(get_user_model().objects.get(username="staff"))
    answer = api.get("/api/porpoise/funnels/", {"steps": "signup,login", "window": 3}).json()
    assert shown == [s["count"] for s in answer["steps"]]
    assert shown == funnel(data, ["signup", "login"], window=3).counts
    assert shown[0] == 70  # 7 days of 10 signups, not 8


def test_unique_events_are_charted_and_linked(client, staff, data):
    """Defect 8: a unique event is charted (its users among the active ones per
    period), and the overview's "Also stored" names are links."""
    overview = client.get("/admin/porpoise/overview/").content.decode()
    also = overview[overview.index('id="porpoise-also-stored"') :]
    assert "?kind=unique&amp;name=premium" in also
    assert "/admin/porpoise/decisions/?name=landing-page" in also
    assert "decision:" not in also  # decisions are not listed as metrics
    page = client.get(
        "/admin/porpoise/charts/", {"kind": "unique", "name": "premium", "period": "7d"}
    )
    chart = page.context["chart"]
    assert chart is not None, page.content.decode()
    assert chart["datasets"][0]["label"] == "premium, among active"
    expected = [
        len(data.event("active").at("day", p.start) & data.unique("premium"))
        for p in data.range("day", -6, 0)
    ]
    assert chart["datasets"][0]["data"] == expected
    assert chart["datasets"][0]["data"][-1] == 2
    unknown = client.get(
        "/admin/porpoise/charts/", {"kind": "unique", "name": "premum", "period": "7d"}
    )
    assert "did you mean premium" in unknown.content.decode()


def test_messages_say_what_is_wrong(client, staff, data):
    """Defect 9: the form says periods 0 to N, a too large table counts its
    columns, a far period names the limit, errors sit below their field."""
    page = client.get("/admin/porpoise/cohorts/")
    text = page.content.decode()
    assert "Periods after" in text and "Columns 0" in text
    huge = client.get("/admin/porpoise/cohorts/", {"cohorts": 100, "offsets": 100}).content.decode()
    assert "100 cohorts x 101 columns (periods 0 to 100)" in huge
    far = client.get("/admin/porpoise/lifecycle/", {"period": "100y"}).content.decode()
    assert "+00:00 is out of range" not in far
    assert "&#x27;100y&#x27; reaches before 1970" in far
    bad = client.get("/admin/porpoise/cohorts/", {"cohorts": "many"}).content.decode()
    row = bad[bad.index('class="form-row field-cohorts"') :]
    # the field's label and input come first, its error after them
    assert row.index("<label") < row.index('class="errorlist') < row.index("</div>\n    \n")


def test_partial_periods_are_marked(client, staff, data):
    """Defect 10: the chart and lifecycle specs say which period is not over."""
    chart = client.get(
        "/admin/porpoise/charts/",
        {"kind": "event", "name": "active", "period": "7d", "compare": "on"},
    ).context["chart"]
    assert chart["partial"] == [6]
    assert chart["labels"][-1].endswith("(so far)")
    assert not any(label.endswith("(so far)") for label in chart["labels"][:-1])
    lifecycle = client.get("/admin/porpoise/lifecycle/", {"period": "7d"})
    assert lifecycle.context["chart"]["partial"] == [6]
    assert 'id="porpoise-partial-note"' in lifecycle.content.decode()
    today = data.now().date()
    before = f"{today - dt.timedelta(days=7)}:{today - dt.timedelta(days=1)}"
    finished = client.get(
        "/admin/porpoise/charts/", {"kind": "event", "name": "active", "period": before}
    ).context["chart"]
    assert finished["partial"] == []


def test_refusals_say_it_once_and_in_json_when_asked(client, data):
    """Defect 11: the 403 page's title once; ``?format=json`` gets JSON."""
    client.force_login(get_user_model().objects.create_user("joe", password="pw"))
    page = client.get("/admin/porpoise/overview/")
    assert page.status_code == 403
    assert page.content.decode().count("Access refused</h1>") == 1
    answer = client.get("/admin/porpoise/overview/?format=json")
    assert answer.status_code == 403
    assert answer["Content-Type"] == "application/json"
    assert "staff" in answer.json()["detail"]


def test_cohort_first_sight_still_matches_the_engine(client, staff, data):
    page = client.get("/admin/porpoise/cohorts/")
    form = page.context["form"].cleaned_data
    expected = cohort_table(
        data,
        "signup",
        "active",
        granularity=form["granularity"],
        cohorts=form["cohorts"],
        offsets=form["offsets"],
    )
    assert page.context["table"].counts == expected.counts


def test_stats_and_overview_show_money_and_last_marks_plainly(client, staff, porpoise):
    """Defect 6: ``porpoise_stats`` gives each event's own last mark (not the
    time it ran) and money to the cent; the overview's sums carry no float
    noise (999.0000001 shown as 999.00 beside a plain 0)."""
    from io import StringIO

    from django.core.management import call_command

    pp = porpoise(ACTIVE_EVENT=None, GRANULARITIES=["day", "week"])
    now = pp.now()
    pp.mark("signup", 1000, now - dt.timedelta(hours=3))
    for _ in range(101):
        pp.count("revenue", by=9.99)
    pp.count("ticks", by=0.1)
    pp.count("ticks", by=0.2)
    out = StringIO()
    call_command("porpoise_stats", stdout=out)
    text = out.getvalue()
    signup = next(line for line in text.splitlines() if line.strip().startswith("signup"))
    then = now - dt.timedelta(hours=3)
    slot = then.replace(minute=then.minute // 15 * 15, second=0, microsecond=0)
    after = slot + dt.timedelta(minutes=15)
    assert f"{slot:%Y-%m-%d %H:%M}-{after:%H:%M} (2 h ago)" in signup, signup
    revenue = next(line for line in text.splitlines() if line.strip().startswith("revenue"))
    assert "1,008.99" in revenue and "1,008.990000" not in revenue
    assert "0.30" in text and "0.30000000000000004" not in text
    rows = {r["name"]: r for r in client.get("/admin/porpoise/overview/").context["counter_rows"]}
    assert rows["ticks"]["today"] == 0.3 and rows["revenue"]["week"] == 1008.99


def test_a_time_out_of_range_names_its_date(make_analytics):
    """Defect 9: a row dated year 1 says which date, not only its epoch seconds."""
    from porpoise_django.engine import InvalidTime

    pp = make_analytics()
    with pytest.raises(InvalidTime, match=r"time -62135596800 \(0001-01-01T00:00:00Z\) cannot"):
        pp.mark("signup", 1, -62135596800)
    with pytest.raises(InvalidTime, match=r"\(1969-12-31T23:59:59Z\)"):
        pp.mark("signup", 1, -1)
