"""People behind a number and forgetting one user: the figures of issue 28.

- ``people()`` first page (and a deep page) of an event and of an expression
  over USERS ids (default 10M, half of them active that day);
- ``forget()`` of one user who did each of 50 events every day for a year
  (day, week and month buckets: 21,500 bucket keys in the user's chunk).

Run: ``python benchmarks/bench_people.py [--users 10000000]`` (uses REDIS_URL,
or starts the embedded valkey-server).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import redis

from porpoise_django.dev.embedded import ensure_server
from porpoise_django.engine import Analytics

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def best(run: Callable[[], Any], repeat: int = 7) -> tuple[float, Any]:
    """Median milliseconds of ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def build_people(pp: Analytics, users: int) -> None:
    rng = np.random.default_rng(28)
    stamp = np.full(users // 2, NOW.timestamp())
    active = rng.choice(users, size=users // 2, replace=False)
    pp.import_arrays("active", active, stamp, granularities=["day"])
    paid = rng.choice(users, size=users // 10, replace=False)
    pp.import_arrays("paid", paid, stamp[: users // 10], granularities=["day"])


def year_of_events(pp: Analytics, who: int, events: int = 50) -> None:
    days = NOW.timestamp() - 86_400 * np.arange(365)
    for n in range(events):
        pp.import_arrays(f"event-{n}", np.full(365, who), days)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000_000)
    args = parser.parse_args()
    client = redis.Redis.from_url(ensure_server())
    pp = Analytics(
        client, prefix="bench-people", clock=lambda: NOW, granularities=["day", "week", "month"]
    )
    pp.delete_all()
    start = time.perf_counter()
    build_people(pp, args.users)
    print(f"built {args.users:,} users in {time.perf_counter() - start:.1f} s")
    day = pp.period("day")
    active = pp.event("active").bind(day)
    kept = active - pp.event("paid").bind(day)
    for label, bitmap in (("active", active), ("active - paid", kept)):
        ms, page = best(lambda b=bitmap: pp.people(b, 0, 100))
        print(f"people({label}) first page of 100: {ms:.1f} ms (total {page.total:,})")
        deep = page.total // 2
        ms, page = best(lambda b=bitmap, d=deep: pp.people(b, d, 100))
        print(f"people({label}) page at offset {deep:,}: {ms:.1f} ms")
    ms, _ = best(lambda: active.ids(), repeat=3)
    print(f"for scale, all ids of active at once (Bitmap.ids): {ms:.1f} ms")

    who = 123_456
    start = time.perf_counter()
    year_of_events(pp, who)
    print(f"marked a year of 50 events for one user in {time.perf_counter() - start:.1f} s")
    buckets = sum(client.zcard(pp.buckets.key("e", f"event-{n}")) for n in range(50))
    for scan in (False, True):
        times = []
        for _ in range(3):
            year_of_events(pp, who)
            start = time.perf_counter()
            done = pp.forget(who, scan_results=scan)
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"forget() with scan_results={scan}: {statistics.median(times):.0f} ms (median of 3), "
            f"{done.bits:,} bits cleared in {done.keys:,} keys ({buckets:,} registered buckets)"
        )
    pp.delete_all()


if __name__ == "__main__":
    main()
