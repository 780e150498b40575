"""Every reader against a brute-force model, in several zones, on the days that break things.

The model knows nothing of the engine's periods: a bucket is read off the
local wall clock of each instant (``datetime.fromtimestamp(ts, zone)``): the
hour is ``(date, hour, fold)``, so the repeated autumn hour is its own bucket;
the day its date; the week its ISO ``(year, week)``; and so on. Buckets of a
range are enumerated by walking real time in 15-minute steps.

Clocks are placed on both DST change days of each zone (found in the zone's
own rules, not hard-coded), inside the repeated hour, at the ISO week 53
of 2020 and 2026, and just before and after the ends of months. Zones: UTC,
Europe/Paris (changes at 02:00/03:00), America/Santiago (changes at midnight,
so a day may start at 01:00 and the autumn's repeated hour is the previous
day's 23:00), Australia/Lord_Howe (moves by 30 minutes: the repeated
"hour" lasts 30 minutes, and so does the hour after the spring gap),
Asia/Kolkata (+05:30) and Asia/Kathmandu (+05:45), whose hours start off
UTC's.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import cohort_table, funnel

UTC = dt.UTC
STEP = 900  # every real UTC offset is a multiple of 15 minutes
_examples = itertools.count()


def transitions(zone: str, year: int) -> list[dt.datetime]:
    """The instants where ``zone`` changes its UTC offset in ``year`` (from its rules)."""
    tz = ZoneInfo(zone)
    found = []
    moment = dt.datetime(year, 1, 1, tzinfo=UTC)
    previous = moment.astimezone(tz).utcoffset()
    while moment.year == year:
        moment += dt.timedelta(minutes=15)
        offset = moment.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(moment)
            previous = offset
    return found


DST_ZONES = ("Europe/Paris", "America/Santiago", "Australia/Lord_Howe")
ZONES = ("UTC", *DST_ZONES, "Asia/Kolkata", "Asia/Kathmandu")


def _clocks() -> list[tuple[str, dt.datetime]]:
    cases = []
    for zone in DST_ZONES:
        spring_or_autumn = transitions(zone, 2026)
        assert len(spring_or_autumn) == 2, zone
        for change in spring_or_autumn:
            # Noon of the change day (local), and half an hour after the change.
            local = change.astimezone(ZoneInfo(zone))
            cases.append((zone, local.replace(hour=12)))
            cases.append((zone, change + dt.timedelta(minutes=30)))
    paris_autumn = transitions("Europe/Paris", 2026)[1]
    cases.append(("Europe/Paris", paris_autumn + dt.timedelta(minutes=30)))  # 02:30, 2nd
    # Lord Howe's autumn: 01:30 to 02:00 comes twice; the clock inside the second.
    lord_howe_autumn = transitions("Australia/Lord_Howe", 2026)[0]
    cases.append(("Australia/Lord_Howe", lord_howe_autumn + dt.timedelta(minutes=15)))
    for zone in ZONES:
        cases.append((zone, dt.datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo(zone))))  # W53
        cases.append((zone, dt.datetime(2021, 1, 3, 12, tzinfo=ZoneInfo(zone))))  # 2020-W53
    for zone in ("UTC", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Kathmandu"):
        # Month ends: the last quarter hour of February, and just into May.
        cases.append((zone, dt.datetime(2026, 2, 28, 23, 45, tzinfo=ZoneInfo(zone))))
        cases.append((zone, dt.datetime(2026, 5, 1, 0, 15, tzinfo=ZoneInfo(zone))))
    return cases


CLOCKS = _clocks()


def bucket(granularity: str, ts: float, tz: dt.tzinfo) -> tuple:
    """The model's bucket of instant ``ts``: wall-clock fields only."""
    local = dt.datetime.fromtimestamp(ts, tz)
    if granularity == "hour":
        return (local.date(), local.hour, local.fold)
    if granularity == "day":
        return (local.date(),)
    if granularity == "week":
        return tuple(local.isocalendar()[:2])
    if granularity == "month":
        return (local.year, local.month)
    return (local.year,)


def buckets_between(granularity: str, first: float, last: float, tz: dt.tzinfo) -> list[tuple]:
    """Distinct model buckets from the one holding ``first`` to the one holding ``last``."""
    out: list[tuple] = []
    ts = first - first % STEP
    end = bucket(granularity, last, tz)
    while True:
        b = bucket(granularity, ts, tz)
        if not out or out[-1] != b:
            out.append(b)
        if b == end:
            return out
        ts += STEP


# Marks fall within three days either side of the clock, on quarter hours and
# in between; ids are few, so that buckets share them.
marks = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(0, 12),
        st.integers(-3 * 86400, 0),
    ),
    min_size=1,
    max_size=40,
)
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)


def _store(make_analytics, key_prefix, clock, zone, now, **options):
    clock.now = now
    return make_analytics(
        prefix=f"{key_prefix}:{next(_examples)}",
        tz=zone,
        granularities=("hour", "day", "week", "month", "year"),
        counter_granularities=("hour", "day", "week", "month"),
        **options,
    )


@pytest.mark.parametrize(("zone", "now"), CLOCKS, ids=lambda v: str(v))
@SETTINGS
@given(rows=marks)
def test_marks_ranges_and_counters_match_the_model(
    make_analytics, key_prefix, clock, zone, now, rows
):
    pp = _store(make_analytics, key_prefix, clock, zone, now)
    tz = pp.tz
    now_ts = now.timestamp()
    stamped = [(e, i, now_ts + offset) for e, i, offset in rows]
    pp.mark_many([(e, i, dt.datetime.fromtimestamp(ts, UTC)) for e, i, ts in stamped])
    pp.count_many([(f"k{e}", i, 1 + i % 3, ts) for e, i, ts in stamped])

    sets: dict[tuple, set[int]] = defaultdict(set)
    sums: dict[tuple, float] = defaultdict(float)
    per_id: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e, i, ts in stamped:
        for g in ("hour", "day", "week", "month", "year"):
            sets[(e, g, bucket(g, ts, tz))].add(i)
            if g != "year":
                sums[(f"k{e}", g, bucket(g, ts, tz))] += 1 + i % 3
                per_id[(f"k{e}", g, bucket(g, ts, tz))][str(i)] += 1 + i % 3

    first = min(ts for _, _, ts in stamped)
    for g in ("hour", "day", "week", "month", "year"):
        # Membership of the bucket of each mark (and of the clock's bucket).
        for e, _, ts in stamped[:6]:
            moment = dt.datetime.fromtimestamp(ts, UTC)
            assert set(pp.event(e).at(g, moment).ids().tolist()) == sets[(e, g, bucket(g, ts, tz))]
        # A range from the first mark to now: same buckets, same counts, same union.
        expected = buckets_between(g, first, now_ts, tz)
        span = pp.range(g, dt.datetime.fromtimestamp(first, UTC), now)
        assert len(span) == len(expected), (g, [p.label for p in span], expected)
        for e in ("a", "b"):
            counts = [c for _, c in pp.event(e).counts(span)]
            assert counts == [len(sets[(e, g, b)]) for b in expected]
            union = set().union(*(sets[(e, g, b)] for b in expected))
            assert set(pp.event(e).union(span).ids().tolist()) == union
        if g == "year":
            continue
        for e in ("a", "b"):
            totals = [v for _, v in pp.counter(f"k{e}").totals(span)]
            assert totals == [sums[(f"k{e}", g, b)] for b in expected]
    # Top-N over hours reduced to the fewest stored buckets (cover): same sums.
    hours = pp.range("hour", dt.datetime.fromtimestamp(first, UTC), now)
    for e in ("a", "b"):
        want: dict[str, float] = defaultdict(float)
        for b in buckets_between("hour", first, now_ts, tz):
            for ident, value in per_id[(f"k{e}", "hour", b)].items():
                want[ident] += value
        got = dict(pp.counter(f"k{e}").top(hours, 100))
        assert got == {k: v for k, v in want.items() if v}
        # "24h" is the hours from the one 23 real hours ago to now's (more than
        # 24 buckets where an offset changed off the hour, as on Lord Howe).
        last_day = set(buckets_between("hour", now_ts - 23 * 3600, now_ts, tz))
        want_24h: dict[str, float] = defaultdict(float)
        for b in last_day:
            for ident, value in per_id[(f"k{e}", "hour", b)].items():
                want_24h[ident] += value
        assert dict(pp.counter(f"k{e}").top(pp.period_string("24h"), 100)) == {
            k: v for k, v in want_24h.items() if v
        }


@pytest.mark.parametrize(("zone", "now"), CLOCKS, ids=lambda v: str(v))
@SETTINGS
@given(rows=marks)
def test_metrics_and_series_match_the_model(make_analytics, key_prefix, clock, zone, now, rows):
    pp = _store(make_analytics, key_prefix, clock, zone, now)
    tz = pp.tz
    now_ts = now.timestamp()
    metric = pp.metric("sales")
    series = pp.timeseries(intervals={"day": {"step": "day"}, "hour": {"step": "hour"}})
    by_hour: dict[tuple, float] = defaultdict(float)
    by_day: dict[tuple, float] = defaultdict(float)
    for e, i, offset in rows:
        ts = now_ts + offset
        metric.count({"revenue": i}, {"kind": e}, ts)
        series.insert("plays", i, ts)
        by_hour[bucket("hour", ts, tz)] += i
        by_day[bucket("day", ts, tz)] += i
    for hours in (1, 24, 48):
        wanted = set(buckets_between("hour", now_ts - 3600 * (hours - 1), now_ts, tz))
        assert metric.totals(f"{hours}h", "revenue")["revenue"] == sum(
            v for b, v in by_hour.items() if b in wanted
        )
    today = dt.datetime.fromtimestamp(now_ts, tz).date()
    for days in (1, 3, 7):
        wanted = {(today - dt.timedelta(days=k),) for k in range(days)}
        assert metric.totals(f"{days}d", "revenue")["revenue"] == sum(
            v for b, v in by_day.items() if b in wanted
        )
    yesterday = (today - dt.timedelta(days=1),)
    assert metric.totals("yesterday", "revenue")["revenue"] == by_day.get(yesterday, 0)
    # Time series in Gregorian days and hours of the zone.
    start = now_ts - 3 * 86400
    days = series.series("plays", "day", start, now_ts)
    expected_days = buckets_between("day", start, now_ts, tz)
    assert list(days.values()) == [by_day.get(b, 0) for b in expected_days]
    hours_series = series.series("plays", "hour", now_ts - 30 * 3600, now_ts)
    expected_hours = buckets_between("hour", now_ts - 30 * 3600, now_ts, tz)
    assert list(hours_series.values()) == [by_hour.get(b, 0) for b in expected_hours]


@pytest.mark.parametrize(("zone", "now"), CLOCKS, ids=lambda v: str(v))
@SETTINGS
@given(rows=marks)
def test_cohorts_and_funnels_match_the_model(make_analytics, key_prefix, clock, zone, now, rows):
    pp = _store(make_analytics, key_prefix, clock, zone, now)
    tz = pp.tz
    now_ts = now.timestamp()
    stamped = [(e, i, now_ts + offset) for e, i, offset in rows]
    pp.mark_many([(e, i, dt.datetime.fromtimestamp(ts, UTC)) for e, i, ts in stamped])
    days = buckets_between("day", now_ts - 3 * 86400, now_ts, tz)
    did: dict[tuple[str, tuple], set[int]] = defaultdict(set)
    for e, i, ts in stamped:
        did[(e, bucket("day", ts, tz))].add(i)
    table = cohort_table(pp, "a", "b", cohorts=len(days), offsets=len(days) - 1)
    for r, day in enumerate(days):
        cohort = did[("a", day)]
        assert table.sizes[r] == len(cohort)
        for k in range(len(days)):
            if r + k < len(days):
                assert table.counts[r][k] == len(cohort & did[("b", days[r + k])])
            else:
                assert table.counts[r][k] is None  # in the future
    after = cohort_table(pp, "a", "b", cohorts=len(days), offsets=1, mode="on_or_after")
    for r, day in enumerate(days):
        later = set().union(*(did[("b", d)] for d in days[r:]))
        assert after.counts[r][0] == len(did[("a", day)] & later)
    # Funnel a -> b within one day of the entry, users counted once.
    result = funnel(pp, ["a", "b"], window=1, start=-(len(days) - 1), times=True)
    entered = set().union(*(did[("a", d)] for d in days))

    def converted(n: int, within: int) -> set[int]:
        return {
            i
            for i in did[("a", days[n])]
            if any(i in did[("b", d2)] for d2 in days[n : n + 1 + within])
        }

    anyone = set().union(*(converted(n, 1) for n in range(len(days))))
    assert result.counts == [len(entered), len(anyone)]
    # Conversion over time: each entry day's own funnel.
    assert [counts for _, counts in result.entries] == [
        [len(did[("a", d)]), len(converted(n, 1))] for n, d in enumerate(days)
    ]
    # Time to convert: reached b the same day as some entry, or by the next.
    same_day = set().union(*(converted(n, 0) for n in range(len(days))))
    assert result.within == [[len(entered)] * 2, [len(same_day), len(anyone)]]
