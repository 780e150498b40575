"""What a breakdown costs against the question it splits, same data, same run.

    python benchmarks/bench_breakdowns.py [--users 1000000] [--rounds 7]

Data: ``--users`` dense ids, 30 days of ``active`` (about 20% of users a day,
from a 40% pool with a per-user daily probability), a person property
``plan`` with 10 values and ``tier`` with 4, spread evenly. Interleaved
rounds, medians:

- a 10-value breakdown of one day against one count of that day (target: 3x);
- a 30 x 30 daily cohort (active -> active) broken down by the 4-value
  ``tier`` against the table alone (target: 4x).

Every breakdown is checked against numpy over the same ids.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import redis_server

from porpoise_django.engine import Analytics, cohort_table

DAYS = 30


def make_active(users: int, end: dt.datetime, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Ids and times of ``active``: a 40% pool, each with its own daily probability."""
    rng = np.random.default_rng(seed)
    pool = rng.choice(users, size=int(users * 0.4), replace=False)
    chance = rng.uniform(0.2, 0.8, size=len(pool))
    ids, stamps = [], []
    for day in range(DAYS):
        today = pool[rng.random(len(pool)) < chance]
        ids.append(today)
        start = (end - dt.timedelta(days=DAYS - day)).timestamp()
        stamps.append(np.full(len(today), start + 3600.0))
    return np.concatenate(ids), np.concatenate(stamps)


def median_ms(fn: Callable[[], Any], rounds: int, results: list[float]) -> None:
    start = time.perf_counter()
    fn()
    results.append((time.perf_counter() - start) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    end = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        pp = Analytics(client, prefix="bench-bd", granularities=["day"])
        pp.delete_all()
        ids, stamps = make_active(args.users, end)
        pp.import_arrays("active", ids, stamps)
        everyone = np.arange(args.users)
        plans = np.array([f"p{i % 10}" for i in range(args.users)], dtype=object)
        tiers = np.array([f"t{i % 4}" for i in range(args.users)], dtype=object)
        started = time.perf_counter()
        pp.import_properties("plan", everyone, plans)
        pp.import_properties("tier", everyone, tiers)
        print(
            f"person properties of {args.users:,} users, 2 x: {time.perf_counter() - started:.1f} s"
        )

        day = pp.event("active").day(end - dt.timedelta(days=1))
        expected_day = set(day.indexes().tolist())
        got = day.breakdown("plan")
        want: dict[str, int] = {}
        for user in expected_day:
            want[f"p{user % 10}"] = want.get(f"p{user % 10}", 0) + 1
        assert got == dict(sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))), (got, want)
        start = end - dt.timedelta(days=DAYS)
        options = dict(granularity="day", cohorts=DAYS, offsets=DAYS, start=start)
        whole = cohort_table(pp, "active", "active", **options)
        split = cohort_table(pp, "active", "active", breakdown="tier", **options)
        assert sum(t.sizes[0] for t in split.values()) == whole.sizes[0]

        timings: dict[str, list[float]] = {k: [] for k in ("count", "bd10", "table", "table4")}
        for _ in range(args.rounds):  # interleaved
            median_ms(day.count, args.rounds, timings["count"])
            median_ms(lambda: day.breakdown("plan"), args.rounds, timings["bd10"])
            median_ms(lambda: cohort_table(pp, "active", "active", **options), 1, timings["table"])
            median_ms(
                lambda: cohort_table(pp, "active", "active", breakdown="tier", **options),
                1,
                timings["table4"],
            )
        med = {k: statistics.median(v) for k, v in timings.items()}
        print(f"users {args.users:,}, {DAYS} days, medians of {args.rounds} interleaved rounds")
        print("| question | split | alone | ratio | target |")
        print("| --- | --- | --- | --- | --- |")
        print(
            f"| one day by plan (10 values) | {med['bd10']:.2f} ms | {med['count']:.2f} ms "
            f"| {med['bd10'] / med['count']:.1f}x | <= 3x |"
        )
        print(
            f"| 30 x 30 cohort by tier (4 values) | {med['table4']:.0f} ms | {med['table']:.0f} ms "
            f"| {med['table4'] / med['table']:.1f}x | <= 4x |"
        )
        pp.delete_all()


if __name__ == "__main__":
    main()
