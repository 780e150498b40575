"""bitmapist's README examples through ``porpoise_django.compat.bitmapist``, as
written (only the import changes), with the results bitmapist documents.

Left out: the README's own slips that bitmapist itself does not run
(``MonthEvent('active', dt)``, ``DailyEvents``, ``MonthEvents()`` without an
event name, the undefined ``active`` and ``add_extra_karma``).
"""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

from porpoise_django.compat import bitmapist

pytestmark = pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")


@pytest.fixture
def system(make_analytics):
    store = make_analytics(
        clock=lambda: dt.datetime.now(dt.UTC), granularities=bitmapist.GRANULARITIES
    )
    bitmapist.setup_store("default", store)
    yield store
    bitmapist.SYSTEMS.pop("default", None)
    bitmapist.TRACK_HOURLY = False


def test_the_readme_examples(system):
    from datetime import datetime, timedelta

    from porpoise_django.compat.bitmapist import (
        BitOpAnd,
        DayEvents,
        MonthEvents,
        WeekEvents,
        mark_event,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        now = datetime.utcnow()
        last_month = datetime.utcnow() - timedelta(days=30)

    # Mark user 123 as active and has played a song
    mark_event("active", 123)
    mark_event("song:played", 123)
    # Answer if user 123 has been active this month
    assert 123 in MonthEvents("active", now.year, now.month)
    assert 123 in MonthEvents("song:played", now.year, now.month)
    assert MonthEvents("active", now.year, now.month).has_events_marked() == True  # noqa: E712
    # How many users have been active this week?
    assert len(WeekEvents("active", now.year, now.isocalendar()[1])) == 1
    # Iterate over all users active this week
    assert [uid for uid in WeekEvents("active")] == [123]
    # Current events by default; from_date
    assert MonthEvents("active") == MonthEvents("active", now.year, now.month)
    assert MonthEvents("active").from_date(now) == MonthEvents("active", now.year, now.month)
    assert MonthEvents.from_date("active", now) == MonthEvents("active", now.year, now.month)
    assert list(WeekEvents("active", now.year, now.isocalendar()[1])) == [123]
    # prev, next, delta, period_start, period_end
    current_month = MonthEvents("active")
    # period_end is the last microsecond of the period, as in bitmapist
    assert current_month.prev().period_end() + dt.timedelta(microseconds=1) == (
        current_month.period_start()
    )
    assert current_month.next().prev() == current_month
    assert current_month.delta(-12).period_start().year == now.year - 1
    assert DayEvents("active").get_count() == 1

    # Hourly tracking: off by default, on with TRACK_HOURLY, off again per call
    from porpoise_django.compat.bitmapist import HourEvents

    assert 123 not in HourEvents("active")
    bitmapist.TRACK_HOURLY = True
    mark_event("active", 7)
    assert 7 in HourEvents("active")
    mark_event("active", 8, track_hourly=False)
    assert 8 not in HourEvents("active") and 8 in DayEvents("active")

    # Bit operations
    mark_event("active", 123, now=last_month)
    active_2_months = BitOpAnd(
        MonthEvents("active", last_month.year, last_month.month),
        MonthEvents("active", now.year, now.month),
    )
    assert len(active_2_months) == 1
    assert 123 in active_2_months
    last_month_event = MonthEvents("active", last_month.year, last_month.month)
    this_month_event = MonthEvents("active", now.year, now.month)
    active_two_months = last_month_event & this_month_event
    assert list(active_two_months) == [123]
    active_2_months = BitOpAnd(
        BitOpAnd(
            MonthEvents("active", last_month.year, last_month.month),
            MonthEvents("active", now.year, now.month),
        ),
        MonthEvents("active", now.year, now.month),
    )
    assert len(active_2_months) == 1
    assert 123 in active_2_months

    def temporaries():
        return set(system.client.scan_iter(match=f"{system.keys.prefix}:*:tmp:*"))

    # Delete the temporary AND operation
    before = temporaries()
    active_2_months.delete()
    assert len(temporaries()) == len(before) - 1  # its result; the others expire
    assert len(active_2_months) == 0  # gone, as in bitmapist, until built again
    bitmapist.delete_runtime_bitop_keys()
    bitmapist.delete_temporary_bitop_keys()
    assert temporaries() == set()

    # Deleting
    last_month_event = MonthEvents("active", last_month.year, last_month.month)
    last_month_event.delete()
    assert 123 not in MonthEvents("active", last_month.year, last_month.month)
    assert bitmapist.get_event_names() == ["active", "song:played"]
    bitmapist.delete_all_events()
    assert bitmapist.get_event_names() == []
    assert 123 not in MonthEvents("active", now.year, now.month)


def test_unique_events_and_ab_testing(system):
    from porpoise_django.compat.bitmapist import (
        DayEvents,
        UniqueEvents,
        mark_event,
        mark_unique,
        unmark_unique,
    )

    for uid in (1, 2, 3):
        mark_event("active", uid)
    mark_unique("signup_form:classic", 1)
    mark_unique("signup_form:new", 2)
    mark_unique("signup_form:new", 3)
    active_today = DayEvents("active")
    a = UniqueEvents("signup_form:classic")
    b = UniqueEvents("signup_form:new")
    assert len(active_today & a) == 1 and len(active_today & b) == 2

    def premium_up(uid):
        mark_unique("premium", uid)

    def premium_down(uid):
        unmark_unique("premium", uid)

    premium_up(1)
    premium_up(2)
    premium_down(2)
    premium = UniqueEvents("premium")
    assert [uid for uid in premium & active_today] == [1]
    mark_event("premium", 3, track_unique=True)  # both worlds at once
    assert 3 in UniqueEvents("premium") and 3 in DayEvents("premium")


def test_the_other_operators_and_years(system):
    from porpoise_django.compat.bitmapist import (
        BitOpNot,
        BitOpOr,
        BitOpXor,
        DayEvents,
        MonthEvents,
        YearEvents,
        mark_event,
        unmark_event,
    )

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    mark_event("a", 1)
    mark_event("b", 2)
    mark_event("b", 1)
    assert list(BitOpOr(DayEvents("a"), DayEvents("b"))) == [1, 2]
    assert list(BitOpXor(DayEvents("a"), DayEvents("b"))) == [2]
    # ~ and BitOpNot: every id ever marked, minus these (bitmapist issue #14)
    assert list(BitOpNot(DayEvents("a"))) == [2]
    assert list(~DayEvents("b")) == []
    # YearEvents is the OR of the year's months, as in bitmapist
    assert list(YearEvents("b", now.year)) == [1, 2]
    unmark_event("b", 2)
    assert list(MonthEvents("b")) == [1]
    with pytest.raises(ValueError, match="unknown system"):
        DayEvents("a", system="nowhere")


def test_cohort_dates_data_has_bitmapists_row_layout(system):
    from porpoise_django.compat.bitmapist import cohort, mark_event

    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=12)
    for uid in range(10):
        mark_event("user:active", uid, now=today - dt.timedelta(days=2))
    for uid in range(4):
        mark_event("task:complete", uid, now=today - dt.timedelta(days=1))
    mark_event("task:complete", 99, now=today)  # someone outside the cohort, today
    rows = cohort.get_dates_data(
        select1="user:active", select2="task:complete", time_group="days", num_of_rows=3,
        num_results=3, as_percent=False,
    )  # fmt: skip
    # num_results rows, oldest first, dated by their (UTC-aware) period start
    assert [row[0] for row in rows] == [
        dt.datetime.combine((today - dt.timedelta(days=d)).date(), dt.time(), dt.UTC)
        for d in (2, 1, 0)
    ]
    # size, then num_of_rows + 1 cells: "" where nobody did select2 that day,
    # 0.0 where some did but none of the cohort
    assert rows[0][1:] == [10, "", 4, 0.0, ""]
    assert rows[1][1:] == [0, "", "", "", ""]  # an empty cohort: every cell blank
    percents = cohort.get_dates_data(
        select1="user:active", select2="task:complete", num_of_rows=3, num_results=3
    )
    assert percents[0][1:] == [10, "", 40.0, 0.0, ""]  # percents by default
    misspelt = cohort.get_dates_data(
        "user:active", "task:complete", num_of_rows=1, num_results=3, as_precent=False
    )
    assert misspelt[0][1:] == [10, "", 4]  # bitmapist's old misspelling still works
    with pytest.raises(ValueError, match="unknown time_group"):
        cohort.get_dates_data(select1="user:active", select2="task:complete", time_group="hours")


def test_cohort_shape_start_date_and_years(system):
    from porpoise_django.compat.bitmapist import cohort, mark_event

    rows = cohort.get_dates_data("nobody", "nothing")
    assert (len(rows), {len(r) for r in rows}) == (31, {2 + 13})  # 31 rows of 13 cells
    mark_event("joined", 5, now=dt.datetime(2026, 3, 2, 9))
    mark_event("paid", 5, now=dt.datetime(2026, 3, 4, 9))
    rows = cohort.get_dates_data(
        "joined", "paid", start_date="2026-03-01", num_results=2, num_of_rows=3
    )
    assert [r[0].day for r in rows] == [1, 2]
    assert rows[1][1:] == [1, "", "", 100.0, ""]
    years = cohort.get_dates_data("joined", "paid", time_group="years", num_results=9)
    this_year = dt.datetime.now(dt.UTC).year
    assert [r[0].year for r in years] == [this_year - 2, this_year - 1, this_year]  # always 3
    weeks = cohort.get_dates_data(
        "joined", "paid", time_group="weeks", start_date="2026-03-02", num_results=1,
        num_of_rows=0,
    )  # fmt: skip
    assert weeks == [[dt.datetime(2026, 3, 2, tzinfo=dt.UTC), 1, 100.0]]
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        cohort.get_dates_data("joined", "paid", start_date="March")


def test_cohort_custom_handler_and_rendering(system):
    from porpoise_django.compat.bitmapist import cohort, mark_event

    now = dt.datetime.now(dt.UTC)
    for uid, channel in ((1, "web"), (2, "ios"), (3, "android")):
        mark_event("active", uid, now=now)
        mark_event(channel, uid, now=now)

    def active_on_web_or_ios(key, cls, cls_args):
        return cls("active", *cls_args) & (cls("web", *cls_args) | cls("ios", *cls_args))

    cohort.set_custom_handler("active_web_ios", active_on_web_or_ios)
    try:
        rows = cohort.get_dates_data(
            "active_web_ios", "active", num_results=1, num_of_rows=0, as_percent=False
        )
    finally:
        cohort.CUSTOM_HANDLERS.clear()
    assert rows[0][1:] == [2, 2]
    form = cohort.render_html_form(
        action_url="/cohort?x=<1>",
        selections1=[("Are active", "active")],
        selections2=[("Played a song", "song:play")],
        select2="song:play",
    )
    assert 'action="/cohort?x=&lt;1&gt;"' in form and 'name="select1b"' in form
    assert '<option value="song:play" selected>Played a song</option>' in form
    assert "cohort-event-select" in form and "new TomSelect" in form  # used when loaded
    table = cohort.render_html_data(rows, as_percent=False, time_group="days")
    assert table.count("<tr>") == 2 and "<td>2</td><td>2</td>" in table
    csv_text = cohort.render_csv_data(rows, as_percent=False)
    assert csv_text.splitlines() == ["days,total,day 0", f"{now:%Y-%m-%d},2,2"]


def test_event_objects_carry_bitmapists_attributes(system):
    from porpoise_django.compat.bitmapist import (
        DayEvents,
        HourEvents,
        MonthEvents,
        WeekEvents,
        YearEvents,
        get_redis,
    )

    assert get_redis("default") is system.client
    assert get_redis(system.client) is system.client
    hour = HourEvents("signup", 2025, 12, 31, 23)
    assert (hour.event_name, hour.system) == ("signup", "default")
    assert (hour.year, hour.month, hour.day, hour.hour) == (2025, 12, 31, 23)
    assert hour.redis_key == "trackist_signup_2025-12-31-23"
    later = hour.next()
    assert type(later) is HourEvents and (later.year, later.month, later.day, later.hour) == (
        2026, 1, 1, 0,
    )  # fmt: skip
    assert later.get_count() == 0
    week = WeekEvents("signup", 2026, 1)  # ISO week 1 of 2026 starts on 2025-12-29
    assert (week.year, week.week) == (2026, 1) and week.redis_key == "trackist_signup_W2026-1"
    assert (week.prev().year, week.prev().week) == (2025, 52)
    assert week.period_start() == dt.datetime(2025, 12, 29, tzinfo=dt.UTC)
    month = MonthEvents("signup", 2024, 2)
    assert month.period_end() == dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.UTC)
    assert type(month.delta(11)) is MonthEvents and month.delta(11).month == 1
    assert DayEvents("signup", 2024, 3, 1).prev().day == 29
    year = YearEvents.from_date("signup", dt.datetime(2023, 7, 1, tzinfo=dt.UTC))
    assert year == YearEvents("signup", 2023) and year != YearEvents("signup", 2024)
    assert (year.next().year, year.prev().year) == (2024, 2022)
    assert year.period_start() == dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    assert year.period_end() == dt.datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)


def test_bit_operations_take_a_system_first_and_count(system, make_analytics):
    from porpoise_django.compat.bitmapist import (
        BitOpAnd,
        BitOpNot,
        BitOpOr,
        DayEvents,
        mark_event,
        setup_store,
    )

    setup_store("copy", system)
    for uid in (4, 5, 6):
        mark_event("read", uid)
    mark_event("wrote", 5)
    read, wrote = DayEvents("read"), DayEvents("wrote")
    both = BitOpAnd("copy", read, wrote)
    assert both.system == "copy" and both.get_count() == 1 and list(both) == [5]
    assert BitOpAnd(read, wrote).system == "default"
    assert BitOpAnd(read, wrote).redis_key == BitOpAnd(read, wrote).redis_key
    assert BitOpAnd(read, wrote).redis_key.startswith("trackist_bitop_AND_trackist_read_")
    assert list(BitOpNot("copy", wrote)) == [4, 6]  # everyone marked, minus wrote
    nested = BitOpOr(BitOpAnd(read, wrote), wrote)
    assert nested.get_count() == 1 and (read & wrote).get_count() == 1
    assert (~wrote & read).get_count() == 2
    with pytest.raises(ValueError, match="unknown system"):
        BitOpAnd("elsewhere", read, wrote)
    bitmapist.SYSTEMS.pop("copy")


def test_a_deleted_result_reads_empty_until_built_again(system):
    from porpoise_django.compat.bitmapist import BitOpAnd, DayEvents, mark_event

    mark_event("x", 1)
    mark_event("y", 1)
    first = BitOpAnd(DayEvents("x"), DayEvents("y"))
    same = BitOpAnd(DayEvents("x"), DayEvents("y"))
    assert len(first) == len(same) == 1
    first.delete()
    assert len(first) == len(same) == 0 and 1 not in same and list(same) == []
    assert not same.has_events_marked()
    again = BitOpAnd(DayEvents("x"), DayEvents("y"))  # bitmapist runs BITOP again
    assert len(again) == len(first) == 1


def test_periods_are_the_stores_own_in_another_zone(make_analytics):
    from porpoise_django.compat.bitmapist import (
        DayEvents,
        HourEvents,
        MonthEvents,
        WeekEvents,
        mark_event,
        setup_store,
    )

    store = make_analytics(tz="America/New_York", granularities=bitmapist.GRANULARITIES)
    setup_store("ny", store)
    try:
        # 2026-03-02 23:30 in New York is already 2026-03-03 04:30 UTC.
        mark_event("visit", 3, system="ny", now=dt.datetime(2026, 3, 3, 4, 30), track_hourly=True)
        day = DayEvents("visit", 2026, 3, 2, system="ny")
        assert day.period.label == "2026-03-02" and 3 in day
        assert 3 not in DayEvents("visit", 2026, 3, 3, system="ny")
        assert MonthEvents("visit", 2026, 3, system="ny").period.label == "2026-03"
        assert WeekEvents("visit", 2026, 10, system="ny").period.label == "2026-W10"
        assert 3 in HourEvents("visit", 2026, 3, 2, 23, system="ny")
        assert day.period_start() == dt.datetime(2026, 3, 2, tzinfo=store.tz)
    finally:
        bitmapist.SYSTEMS.pop("ny")


def test_the_cohort_form_inlines_tom_select_unless_told_not_to():
    from porpoise_django.compat.bitmapist.cohort import render_html_form

    page = render_html_form(action_url="/report/", selections1=[("Signed up", "signup")])
    assert "Tom Select v2.3.1" in page and "new TomSelect" in page
    assert page.count("</script>") == page.count("<script>")  # the library cannot end its tag
    bare = render_html_form(
        action_url="/report/", selections1=[("Signed up", "signup")], include_assets=False
    )
    assert "Tom Select v2.3.1" not in bare and 'class="cohort-event-select"' in bare
