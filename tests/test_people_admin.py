"""The admin's People page: the users behind a cohort cell or a funnel step, CSV,
save as segment, one person's activity grid, and "Forget in analytics"."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from porpoise_django.engine import cohort_table, lifecycle, stickiness
from tests.browser import browser_test
from tests.conftest import grant_analytics

pytestmark = pytest.mark.django_db
PEOPLE = "/admin/porpoise/people/"


@pytest.fixture
def users(porpoise: Any) -> tuple[Any, list[Any]]:
    """Twelve users who signed up over three days; some came back."""
    pp = porpoise(ACTIVE_EVENT=None)
    model = get_user_model()
    people = [
        model.objects.create_user(f"user{n}", email=f"user{n}@example.com", password="pw")
        for n in range(12)
    ]
    now = pp.now()
    rows = []
    for n, user in enumerate(people):
        rows.append(("signup", user.pk, now - dt.timedelta(days=2 - n % 3)))
        if n % 2:
            rows.append(("active", user.pk, now - dt.timedelta(days=max(0, 1 - n % 3))))
        rows.append(("visit", user.pk, now))
        if n % 3 == 0:
            rows.append(("buy", user.pk, now))
    pp.mark_many(rows)
    return pp, people


@pytest.fixture
def staff_client(users: Any) -> Client:
    staff = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-for-tests")
    grant_analytics(staff)
    client = Client()
    client.force_login(staff)
    return client


def links(html: str, css: str) -> list[str]:
    return [unescape(m) for m in re.findall(rf'<a href="([^"]+)" class="{css}[^"]*"', html)]


def test_cohort_cells_link_to_the_users_behind_them(staff_client: Client, users: Any) -> None:
    pp, people = users
    query = "select1=signup&select2=active&granularity=day&cohorts=3&offsets=2&display=count"
    page = staff_client.get(f"/admin/porpoise/cohorts/?{query}").content.decode()
    cells = links(page, "porpoise-people")
    assert cells, "the cohort table links its cells and sizes"
    table = cohort_table(pp, "signup", "active", cohorts=3, offsets=2)
    by_pk = {u.pk: u for u in people}
    for url in cells:
        answer = staff_client.get(url)
        assert answer.status_code == 200
        assert "no-store" in answer["Cache-Control"]
        html = answer.content.decode()
        row = int(re.search(r"row=(\d+)", url).group(1))  # type: ignore[union-attr]
        at = re.search(r"offset=(\w+)", url).group(1)  # type: ignore[union-attr]
        expected = table.sizes[row] if at == "size" else table.counts[row][int(at)]
        shown = re.findall(r'<td class="num">(\d+)</td>', html)
        assert len(shown) == expected, (url, shown)
        for pk in shown:
            assert by_pk[int(pk)].username in html  # mapped to the user model
            assert f"/admin/auth/user/{pk}/change/" in html


def test_funnel_steps_and_drop_offs_link_to_their_users(staff_client: Client, users: Any) -> None:
    steps = "visit%0D%0Abuy"
    page = staff_client.get(f"/admin/porpoise/funnels/?steps={steps}&window=1").content.decode()
    [visit, buy] = links(page, "porpoise-people")
    [dropped] = links(page, "porpoise-dropped")

    def count(url: str) -> int:
        return len(re.findall(r'<td class="num">\d+</td>', staff_client.get(url).content.decode()))

    assert (count(visit), count(buy), count(dropped)) == (12, 4, 8)


def test_people_of_a_query_in_pages_csv_and_segment(staff_client: Client, users: Any) -> None:
    pp, people = users
    first = staff_client.get(PEOPLE, {"q": "signup", "period": "7d"}).content.decode()
    assert "12 people" in first and "user0@example.com" in first
    csv = staff_client.get(PEOPLE, {"q": "active", "period": "7d", "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    ids = b"".join(csv.streaming_content).decode().split()
    assert ids == ["id"] + [str(u.pk) for n, u in enumerate(people) if n % 2]
    saved = staff_client.post(f"{PEOPLE}?q=active&period=7d", {"segment": "came-back"}, follow=True)
    assert "Saved 6 ids as segment" in saved.content.decode()
    assert [s.name for s in pp.segments()] == ["came-back"]
    again = staff_client.get(PEOPLE, {"q": "segment(came-back) & signup", "period": "7d"})
    assert "6 people" in again.content.decode()
    same_day = staff_client.get(PEOPLE, {"q": "signup & active", "period": "7d"}).content
    assert b"2 people" in same_day  # the query holds in one bucket: same-day returns
    bad = staff_client.post(f"{PEOPLE}?q=signup", {"segment": "no spaces"}).content.decode()
    assert "errornote" in bad
    assert "errornote" in staff_client.get(PEOPLE, {"q": "signup &"}).content.decode()
    assert "errornote" in staff_client.get(PEOPLE, {"source": "nope"}).content.decode()


def test_paging_through_the_people(staff_client: Client, porpoise: Any) -> None:
    pp = porpoise(ACTIVE_EVENT=None)
    pp.mark_many([("visit", i) for i in range(120)])
    page1 = staff_client.get(PEOPLE, {"q": "visit"}).content.decode()
    assert "1&ndash;50 of 120" in page1 and 'id="porpoise-next"' in page1
    page3 = staff_client.get(PEOPLE, {"q": "visit", "page": 3}).content.decode()
    assert "101&ndash;120 of 120" in page3 and 'id="porpoise-next"' not in page3
    assert "no such user" in page3


def test_a_persons_activity_grid(staff_client: Client, users: Any) -> None:
    pp, people = users
    user = people[1]
    html = staff_client.get(f"{PEOPLE}{user.pk}/", {"period": "7d"}).content.decode()
    assert user.username in html and 'id="porpoise-activity-grid"' in html
    assert "<td>signup</td>" in html and "<td>active</td>" in html
    assert html.count("&#9632;") == 3  # signup, active, visit: once each
    assert 'id="porpoise-person-properties"' not in html  # none set yet
    pp.set_properties(user.pk, {"plan": "pro", "country": "FR"})
    html = staff_client.get(f"{PEOPLE}{user.pk}/", {"period": "7d"}).content.decode()
    table = html.split('id="porpoise-person-properties"')[1].split("</table>")[0]
    assert "<td>country</td><td>FR</td>" in table and "<td>plan</td><td>pro</td>" in table
    assert "errornote" in staff_client.get(f"{PEOPLE}abc/").content.decode()


def test_strangers_never_see_people(users: Any) -> None:
    joe = get_user_model().objects.create_user("joe", password="pw", is_staff=True)
    client = Client()
    client.force_login(joe)
    assert client.get(PEOPLE, {"q": "signup"}).status_code == 403
    assert Client().get(PEOPLE).status_code == 302  # to the login


def test_forget_in_analytics_on_the_user_changelist(
    staff_client: Client, users: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pp, people = users
    changelist = staff_client.get("/admin/auth/user/").content.decode()
    assert "forget_in_analytics" in changelist
    chosen = [people[0].pk, people[1].pk]
    answer = staff_client.post(
        "/admin/auth/user/",
        {"action": "forget_in_analytics", "_selected_action": chosen},
        follow=True,
    )
    assert "Forgot 2 user(s) in the analytics" in answer.content.decode()
    assert not set(chosen) & set(pp.event("visit").day())
    assert len(pp.event("visit").day()) == 10


@pytest.fixture
def boss(users: Any) -> Any:
    return get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-for-tests")


def sign_in_as_boss(page: Any, url: str) -> None:
    """Open ``url`` (the admin asks for a login) and sign in as the ``boss`` fixture."""
    page.goto(url)
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")


@browser_test
def test_click_from_a_cohort_cell_to_the_users_and_back(
    live_server: Any, boss: Any, browser_page: Any
) -> None:
    page = browser_page
    sign_in_as_boss(page, f"{live_server.url}/admin/porpoise/cohorts/")
    page.wait_for_url("**/admin/porpoise/cohorts/**")
    page.fill("#id_select1", "signup")
    page.fill("#id_select2", "active")
    page.select_option("#id_granularity", "day")
    page.fill("#id_cohorts", "3")
    page.fill("#id_offsets", "2")
    page.click("#porpoise-cohort-form input[type=submit]")
    # the first cohort's day-1 cell: users 3 and 9 came back the day after signing up
    cell = page.locator("#porpoise-cohort-table tbody tr").first.locator("a.porpoise-people")
    cell.nth(2).click()  # 0: the size, 1: offset 0, 2: offset 1
    page.wait_for_url("**/admin/porpoise/people/**")
    names = page.locator("#porpoise-people-table tbody td a").all_inner_texts()
    assert sorted(n for n in names if n.startswith("user")) == ["user3", "user9"]
    page.locator("#porpoise-people-table tbody a.porpoise-activity").first.click()
    page.wait_for_url("**/admin/porpoise/people/*/**")
    assert page.locator("#porpoise-activity-grid tbody tr").count() == 4  # signup active visit buy
    page.go_back()
    page.go_back()
    assert page.locator("#porpoise-cohort-table").is_visible()


# -- every number links to its users: lifecycle, stickiness, charts, overview ---------------
def linked(html: str, table: str) -> list[tuple[str, int]]:
    """``(url, number)`` of every People link in the table whose id is ``table``."""
    return numbers_in(html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0])


def numbers_in(html: str) -> list[tuple[str, int]]:
    found = re.findall(r'<a href="([^"]+)" class="porpoise-people[^"]*">(\d+)</a>', html)
    return [(unescape(url), int(n)) for url, n in found]


def total_of(client: Client, url: str) -> int:
    answer = client.get(url)
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    html = answer.content.decode()
    assert "errornote" not in html, (url, html.split("errornote", 1)[1][:300])
    heading = re.search(r'id="porpoise-people-what">[^<]*: (\d+) (?:person|people)</h2>', html)
    assert heading, url
    return int(heading.group(1))


def ids_of(client: Client, url: str) -> list[int]:
    csv = client.get(url + "&format=csv")
    return [int(i) for i in b"".join(csv.streaming_content).decode().split()[1:]]


def chart_spec(html: str) -> dict[str, Any]:
    import json

    return json.loads(
        html.split('id="porpoise-chart-data"')[1].split(">", 1)[1].split("</script>")[0]
    )


@pytest.fixture
def planned(users: Any) -> tuple[Any, list[Any]]:
    """The users with a person property (plan) and visits carrying an event
    property (source), a week of them."""
    pp, people = users
    now = pp.now()
    for n, user in enumerate(people):
        pp.set_properties(user.pk, {"plan": ("pro", "team", "free")[n % 3]})
        for ago in range(n % 4):
            source = ("ads", "seo", "mail")[(n + ago) % 3]
            pp.mark("visit", user.pk, now - dt.timedelta(days=ago), properties={"source": source})
    return pp, people


def test_lifecycle_bars_link_to_their_users(staff_client: Client, planned: Any) -> None:
    pp, _ = planned
    asked = {"event": "visit", "period": "5d", "sticky": "week", "breakdown": "plan"}
    html = staff_client.get("/admin/porpoise/lifecycle/", asked).content.decode()
    cells = linked(html, "porpoise-lifecycle-table")
    periods = pp.period_string("5d")
    whole = lifecycle(pp, "visit", periods)
    by_plan = lifecycle(pp, "visit", periods, breakdown="plan")
    # a row per state, then per value and state; a cell per period
    assert len(cells) == 4 * len(periods) * (1 + len(by_plan))
    expected = []
    for result in [whole, *by_plan.values()]:
        for state in ("new", "returning", "resurrecting", "dormant"):
            expected += [abs(n) for n in getattr(result, state)]
    assert [n for _, n in cells] == expected  # the engine's own numbers
    assert sum(expected) > 0
    for url, number in cells:
        assert total_of(staff_client, url) == number, url
    spec = chart_spec(html)  # a click on a bar goes where its number links
    assert [u for row in spec["people"] for u in row] == [u for u, _ in cells[: 4 * len(periods)]]
    split = linked(html, "porpoise-lifecycle-split")  # the users of the week, per plan
    sticky = stickiness(pp, "visit", pp.period("week"), breakdown="plan")
    assert [n for _, n in split] == [s.users for s in sticky.values()]
    for url, number in split:
        assert total_of(staff_client, url) == number


def test_stickiness_bars_link_to_their_users(staff_client: Client, planned: Any) -> None:
    pp, people = planned
    asked = {"event": "visit", "period": "7d", "sticky": "week"}
    html = staff_client.get("/admin/porpoise/lifecycle/", asked).content.decode()
    cells = linked(html, "porpoise-stickiness-table")
    week = stickiness(pp, "visit", pp.period("week"))
    assert [n for _, n in cells[::2]] == week.exactly
    assert [n for _, n in cells[1::2]] == week.at_least
    days: dict[int, set[Any]] = {}  # brute force: each user's days of visits this week
    for day in pp.range("day", pp.period("week").start, pp.now()):
        for who in pp.event("visit").bind(day):
            days.setdefault(who, set()).add(day)
    for k, (url, number) in enumerate(cells[::2], start=1):
        assert total_of(staff_client, url) == number
        assert ids_of(staff_client, url) == sorted(w for w, d in days.items() if len(d) == k)
    for url, number in cells[1::2]:
        assert total_of(staff_client, url) == number
    assert week.exactly[0] and len(people) == week.users


def test_chart_points_link_to_their_users(staff_client: Client, planned: Any) -> None:
    pp, _ = planned
    for asked in (
        {"kind": "event", "name": "visit", "period": "7d"},
        {"kind": "event", "name": "visit", "period": "7d", "breakdown": "source", "compare": "on"},
        {"kind": "event", "name": "active", "period": "7d", "breakdown": "plan", "chart": "bar"},
    ):
        html = staff_client.get("/admin/porpoise/charts/", asked).content.decode()
        spec = chart_spec(html)
        cells = linked(html, "porpoise-chart-points")
        width = len(spec["datasets"])
        assert len(cells) == width * len(spec["labels"])
        for d, dataset in enumerate(spec["datasets"]):  # the table holds the chart's points
            column = cells[d::width]
            assert [n for _, n in column] == dataset["data"]
            assert [u for u, _ in column] == spec["people"][d]
        assert sum(n for _, n in cells) > 0
        for url, number in cells:
            assert total_of(staff_client, url) == number, (asked, url)
    counter = {"kind": "counter", "name": "visits", "period": "7d"}
    pp.count("visits", 1)
    html = staff_client.get("/admin/porpoise/charts/", counter).content.decode()
    assert 'id="porpoise-chart-points"' not in html and '"people"' not in html  # sums: no one


def test_overview_counts_link_to_their_users(staff_client: Client, planned: Any) -> None:
    pp, _ = planned
    html = staff_client.get("/admin/porpoise/overview/").content.decode()
    cells = linked(html, "porpoise-events-table")
    today = {e: len(pp.event(e).day()) for e in pp.event_names()}
    week = {e: len(pp.event(e).bind(pp.period("week"))) for e in pp.event_names()}
    assert [n for _, n in cells] == [x for e in sorted(today) for x in (today[e], week[e])]
    for url, number in cells:
        assert total_of(staff_client, url) == number
    # with a "Where" and a "Breakdown by": the users of each value, the rest as $other
    asked = {"where": "plan=pro", "breakdown": "source", "top": 1}
    html = staff_client.get("/admin/porpoise/overview/", asked).content.decode()
    pros = pp.where(plan="pro")
    rows = [r for r in html.split("<tr") if re.search(r'data-(name|event)="visit"', r)]
    numbers = [numbers_in(r) for r in rows]
    assert [n for _, n in numbers[0]] == [
        len(pp.event("visit").day() & pros),
        len(pp.event("visit").bind(pp.period("week")) & pros),
    ]
    this_week = pp.event("visit").bind(pp.period("week")) & pros
    engine = this_week.breakdown("source", top=1)  # the engine's own numbers
    values = [re.search(r'data-value="([^"]+)"', r).group(1) for r in rows[1:]]  # type: ignore[union-attr]
    assert values[-1] == "$other" and set(values) == set(engine)
    for value, row in zip(values, numbers[1:], strict=True):
        assert row[-1][1] == engine[value]  # this week's column
    for row in numbers:
        for url, number in row:
            assert total_of(staff_client, url) == number, url
    assert 'id="porpoise-overview-split-error"' not in html


# {day}: today's start; {week}: this week's (so that only the part under test is wrong)
@pytest.mark.parametrize(
    "query",
    [
        "source=lifecycle&event=visit&period=7d&state=gone&at={day}&first={day}",
        "source=lifecycle&event=visit&period=7d&state=new&at=not-a-date&first={day}",
        "source=lifecycle&event=visit&period=7d&state=new&at={day}&first=x",
        "source=lifecycle&event=visit&period=7d&state=new&at=9999-12-31T23:00:00&first={day}",
        "source=lifecycle&event=visit&period=7d&state=new&at=0001-01-01&first=0001-01-01",
        "source=lifecycle&event=visit&period=7d&state=new&at=2026-01-01&first=2026-02-01",
        "source=lifecycle&event=nope&period=7d&state=new&at={day}&first={day}",
        "source=lifecycle&event=visit&period=7d&state=new&at={day}&first={day}&value=pro",
        "source=lifecycle&event=visit&period=7d&breakdown=plan&state=new&at={day}"
        "&first={day}&value=%3Cscript%3E",
        "source=lifecycle&event=visit&period=7d&breakdown=nope&state=new&at={day}&first={day}",
        "source=stickiness&event=visit&period=7d&sticky=week&at={week}&days=0",
        "source=stickiness&event=visit&period=7d&sticky=week&at={week}&days=8",
        "source=stickiness&event=visit&period=7d&sticky=week&at={week}&days=-1",
        "source=stickiness&event=visit&period=7d&sticky=week&at={week}&days=1%C2%B2",
        "source=stickiness&event=visit&period=7d&sticky=fortnight&at={week}&days=1",
        "source=chart&kind=counter&name=visits&period=7d&at={day}",
        "source=chart&kind=event&name=nope&period=7d&at={day}",
        "source=chart&kind=event&name=visit&period=forever&at={day}",
        "source=chart&kind=unique&name=premium&period=7d&at={day}",
        "source=chart&kind=event&name=visit&period=7d&at={day}&breakdown=source&value=tv",
        "source=overview&name=visit&granularity=hour&at={day}",
        "source=overview&name=visit&granularity=day&at={day}&where=plan",
        "source=overview&name=visit&granularity=day&at={day}&where=source=ads",
        "source=overview&name=visit&granularity=day&at={day}&where=nope=1",
        "source=overview&name=%00&granularity=day&at={day}",
        "source=overview&name=visit&granularity=day&at={day}&value=$other&kept=pro",
        "source=overview&name=visit&granularity=day",
        "source=" + "x" * 300,
    ],
)
def test_bad_or_hostile_links_are_a_message(staff_client: Client, planned: Any, query: str) -> None:
    pp, _ = planned
    pp.count("visits", 1)
    pp.mark_unique("premium", 1)
    starts = {"day": pp.period("day").start, "week": pp.period("week").start}
    query = query.format(**{k: quote(v.isoformat()) for k, v in starts.items()})
    answer = staff_client.get(f"{PEOPLE}?{query}")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert 'id="porpoise-people-error"' in html and "<script>" not in html.split("errornote")[1]
    assert answer.get("Content-Type", "").startswith("text/html")


def click_point(page: Any, dataset: int, index: int) -> None:
    """Click where Chart.js drew point ``index`` of ``dataset`` (a bar's middle)."""
    page.wait_for_function("window.porpoiseChart !== undefined")
    x, y = page.evaluate(
        """([d, i]) => {
        const el = window.porpoiseChart.getDatasetMeta(d).data[i];
        const box = window.porpoiseChart.canvas.getBoundingClientRect();
        const y = el.base === undefined ? el.y : (el.y + el.base) / 2;
        return [box.left + el.x, box.top + y];
    }""",
        [dataset, index],
    )
    page.mouse.click(x, y)


@browser_test
def test_click_a_chart_point_and_a_lifecycle_bar_to_their_users(
    live_server: Any, boss: Any, browser_page: Any
) -> None:
    page = browser_page
    sign_in_as_boss(page, f"{live_server.url}/admin/login/?next=/admin/porpoise/charts/")
    page.goto(f"{live_server.url}/admin/porpoise/charts/?kind=event&name=visit&period=3d&chart=bar")
    click_point(page, 0, 2)  # today's bar: the twelve users visited today
    page.wait_for_url("**/admin/porpoise/people/**")
    assert page.locator("#porpoise-people-what").inner_text().endswith(": 12 people")
    page.go_back()
    page.goto(f"{live_server.url}/admin/porpoise/lifecycle/?event=signup&period=3d&sticky=week")
    # signups two days ago, yesterday and today: four new users each day
    click_point(page, 0, 1)
    page.wait_for_url("**/admin/porpoise/people/**")
    assert "signup: new in" in page.locator("#porpoise-people-what").inner_text()
    assert page.locator("#porpoise-people-what").inner_text().endswith(": 4 people")
    assert page.locator("#porpoise-people-table tbody tr").count() == 4
