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


def task_cohort(req, client):
    """bitmapist's cohort table: best of ``repeat`` runs of get_dates_data."""
    from bitmapist.cohort import get_dates_data

    best, data = float("inf"), None
    for _ in range(req["repeat"]):
        start = time.perf_counter()
        data = get_dates_data(
            select1="signup",
            select2="active",
            time_group="days",
            num_results=req["rows"],
            num_of_rows=req["columns"],
            start_date=req["start_date"],
        )
        best = min(best, time.perf_counter() - start)
        bitmapist.delete_runtime_bitop_keys()
    return {"seconds": best, "sizes": [row[1] for row in data]}


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
    request = json.loads(sys.stdin.read())
    redis_client = setup(request["url"])
    answer = globals()["task_" + request["task"]](request, redis_client)
    print(json.dumps(answer))
