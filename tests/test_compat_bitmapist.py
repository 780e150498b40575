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
    assert current_month.prev().period_end() == current_month.period_start()
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
    assert len(active_2_months) == 1  # computed again when asked
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
    rows = cohort.get_dates_data(
        select1="user:active", select2="task:complete", time_group="days", num_of_rows=3,
        num_results=3,
    )  # fmt: skip
    assert [row[0].date() for row in rows] == [
        (today - dt.timedelta(days=d)).date() for d in (2, 1, 0)
    ]
    assert rows[0][1:] == [10, 0, 4, 0]  # size, then offsets 0, 1, 2
    assert rows[2][2:] == [0, None, None]  # periods to come
    percents = cohort.get_dates_data(
        select1="user:active", select2="task:complete", time_group="days", as_precent=True,
        num_of_rows=3, num_results=3,
    )  # fmt: skip
    assert percents[0][1:] == [10, 0.0, 40.0, 0.0]
    with pytest.raises(ValueError, match="unknown time_group"):
        cohort.get_dates_data(select1="user:active", select2="task:complete", time_group="hours")
