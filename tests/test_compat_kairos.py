"""kairos's README examples through ``porpoise_django.compat.kairos`` (Python 2's
``print`` made a call; the README's ``read_func=int`` over 3.14159 fails in
kairos too, so ``float`` reads it here)."""

from __future__ import annotations

import time

import pytest

from porpoise_django.compat.kairos import Timeseries


@pytest.fixture
def client(redis_client):
    return redis_client


def test_the_readme_example(client, key_prefix):
    t = Timeseries(
        client,
        type="histogram",
        read_func=float,
        prefix=key_prefix,
        intervals={
            "minute": {
                "step": 60,  # 60 seconds
                "steps": 120,  # last 2 hours
            }
        },
    )
    t.insert("example", 3.14159)
    t.insert("example", 2.71828)
    [(start, data)] = t.get("example", "minute").items()
    assert data == {3.14159: 1, 2.71828: 1}
    assert start % 60 == 0 and abs(start - time.time()) < 120  # this minute (or the last)
    assert t.list() == ["example"]


def test_the_types_and_gregorian_steps(client, key_prefix):
    series = Timeseries(
        client, prefix=key_prefix, intervals={"day": {"step": "daily", "resolution": "1h"}}
    )
    assert series.series_type == "series"  # kairos's default type
    series.insert("latency", 120)
    series.insert("latency", 80)
    [(_, rows)] = series.get("latency", "day").items()
    assert list(rows.values()) == [[120, 80]]  # only the hour with data, as kairos answers
    counts = Timeseries(client, type="count", prefix=key_prefix, intervals={"hour": {"step": "1h"}})
    counts.insert("hits")
    counts.insert("hits", 2)
    assert list(counts.series("hits", "hour", steps=1).values()) == [3]
    gauge = Timeseries(client, type="gauge", prefix=key_prefix, intervals={"hour": {"step": 3600}})
    gauge.insert("queue", 17)
    assert list(gauge.get("queue", "hour").values()) == [17]
    with pytest.raises(ValueError, match="intervals"):
        Timeseries(client)
