"""The peer's side of the benchmarks; runs in benchmarks/.peer-venv with bitmapist.

Reads one JSON request on stdin, prints one JSON answer. It does not import
porpoise_django (which needs redis>=5.0; bitmapist pins redis<6 and may differ).
"""

import json
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

import bitmapist
import redis
from bitmapist import BitOpAnd, DayEvents, MonthEvents, WeekEvents, mark_event


def setup(url):
    client = redis.Redis.from_url(url)
    bitmapist.SYSTEMS["default"] = client
    return client


def task_mark(req, client):
    """Per-call mark_event throughput."""
    n = req["n"]
    base = datetime.fromtimestamp(req["base_ts"], UTC)
    rng = random.Random(3)
    rows = [
        (rng.randrange(req["users"]), base - timedelta(seconds=rng.randrange(30 * 86400)))
        for _ in range(n)
    ]
    start = time.perf_counter()
    for uid, when in rows:
        mark_event("bench_mark", uid, now=when)
    return {"seconds": time.perf_counter() - start, "n": n}


def task_copy(req, client):
    """Give bitmapist the same data: copy our day/week/month bitmaps to its key names."""
    classes = {"day": DayEvents, "week": WeekEvents, "month": MonthEvents}
    pipe = client.pipeline(transaction=False)
    for our_key, event, granularity, iso_date in req["keys"]:
        when = date.fromisoformat(iso_date)
        peer_key = classes[granularity].from_date(event, when).redis_key
        pipe.copy(our_key, peer_key, replace=True)
    pipe.execute()
    return {"copied": len(req["keys"])}


def task_copy_chunks(req, client):
    """Give bitmapist whole bitmaps: our chunks of one bucket laid end to end under
    its key name (bitmapist has no chunks: bit i of its key is user i)."""
    classes = {"day": DayEvents, "week": WeekEvents, "month": MonthEvents}
    size = req["chunk_bytes"]
    for event, granularity, iso_date, chunk_keys in req["buckets"]:
        peer_key = classes[granularity].from_date(event, date.fromisoformat(iso_date)).redis_key
        values = client.mget([key for _, key in chunk_keys])
        pipe = client.pipeline(transaction=False)
        pipe.delete(peer_key)
        for (chunk, _), value in zip(chunk_keys, values, strict=True):
            if value:
                pipe.setrange(peer_key, chunk * size, value)
        pipe.execute()
    return {"copied": len(req["buckets"])}


def task_read(req, client):
    day = date.fromisoformat(req["day"])
    other = day - timedelta(days=1)
    repeat = req["repeat"]
    today = DayEvents.from_date("active", day)
    yesterday = DayEvents.from_date("active", other)

    def timed(fn, times):
        best = float("inf")
        for _ in range(times):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return best

    def loop(fn):
        # Best of several rounds: loopback latency on a shared machine is noisy.
        best = float("inf")
        for _ in range(req["rounds"]):
            start = time.perf_counter()
            for _ in range(repeat):
                fn()
            best = min(best, (time.perf_counter() - start) / repeat)
        return best

    count = len(today)
    and_count = len(BitOpAnd(today, yesterday))
    out = {
        "count": count,
        "and_count": and_count,
        "count_seconds": loop(lambda: len(DayEvents.from_date("active", day))),
        "and_seconds": loop(lambda: len(BitOpAnd(today, yesterday))),
        "iter_seconds": timed(lambda: list(today), 3),
        "for_seconds": timed(lambda: [None for _ in today], 3),
        "raw_bitcount_seconds": loop(lambda: client.bitcount(today.redis_key)),
        "redis_py": redis.__version__,
    }
    bitmapist.delete_runtime_bitop_keys()
    return out


def cohort_cells(req):
    """One ``get_dates_data`` table of counts (``as_percent=False``): per row the
    cohort size, then one cell per offset ('' where bitmapist leaves it blank)."""
    from bitmapist.cohort import get_dates_data

    data = get_dates_data(
        select1=req.get("select1", "signup"),
        select2=req.get("select2", "active"),
        time_group="days",
        as_percent=False,
        num_results=req["rows"],
        num_of_rows=req["columns"],
        start_date=req["start_date"],
    )
    bitmapist.delete_runtime_bitop_keys()
    return data


def task_cohort(req, client):
    """bitmapist's cohort table: best of ``repeat`` runs of get_dates_data."""
    best, data = float("inf"), None
    for _ in range(req["repeat"]):
        start = time.perf_counter()
        data = cohort_cells(req)
        best = min(best, time.perf_counter() - start)
    return {
        "seconds": best,
        "sizes": [row[1] for row in data],
        "cells": [[None if c == "" else int(c) for c in row[2:]] for row in data],
    }


def task_time_count(req, client):
    """Seconds per ``len(DayEvents(event, day))``, averaged over ``repeat`` calls."""
    day = date.fromisoformat(req["day"])
    start = time.perf_counter()
    for _ in range(req["repeat"]):
        count = len(DayEvents.from_date(req["event"], day))
    return {"seconds": (time.perf_counter() - start) / req["repeat"], "count": count}


def task_time_and(req, client):
    """Seconds per ``len(BitOpAnd(day, day before))``, averaged over ``repeat`` calls."""
    day = date.fromisoformat(req["day"])
    today = DayEvents.from_date(req["event"], day)
    yesterday = DayEvents.from_date(req["event"], day - timedelta(days=1))
    start = time.perf_counter()
    for _ in range(req["repeat"]):
        count = len(BitOpAnd(today, yesterday))
    seconds = (time.perf_counter() - start) / req["repeat"]
    bitmapist.delete_runtime_bitop_keys()
    return {"seconds": seconds, "count": count}


def task_time_bitcount(req, client):
    """Seconds per raw ``BITCOUNT`` of bitmapist's key of one day (one round trip)."""
    key = DayEvents.from_date(req["event"], date.fromisoformat(req["day"])).redis_key
    start = time.perf_counter()
    for _ in range(req["repeat"]):
        count = client.bitcount(key)
    return {"seconds": (time.perf_counter() - start) / req["repeat"], "count": count}


def serve(client):
    """One JSON request per line on stdin, one JSON answer per line on stdout, until EOF:
    the benchmarks interleave bitmapist's runs with theirs in one long-lived process."""
    for line in sys.stdin:
        req = json.loads(line)
        print(json.dumps(globals()["task_" + req["task"]](req, client)), flush=True)


def task_memory(req, client):
    when = datetime.fromtimestamp(req["ts"], UTC)
    for uid in req["ids"]:
        mark_event("bench_sparse", uid, now=when)
    keys = [
        cls.from_date("bench_sparse", when).redis_key
        for cls in (DayEvents, WeekEvents, MonthEvents)
    ]
    used = sum(client.memory_usage(k) or 0 for k in keys)
    client.delete(*keys)
    return {"bytes": used}


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(setup(sys.argv[2]))
    else:
        request = json.loads(sys.stdin.read())
        redis_client = setup(request["url"])
        answer = globals()["task_" + request["task"]](request, redis_client)
        print(json.dumps(answer))
