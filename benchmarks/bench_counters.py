"""Counters and metrics: top-N server-side vs client-side sums; increments with dimensions.

    python benchmarks/bench_counters.py [--ids 100000]

1. ``--ids`` distinct ids counted over the 24 hourly buckets of one day; the
   top 10 of the day from porpoise-django (the day's own sorted set, one
   ``ZREVRANGE``; and, for reference, ``ZUNIONSTORE`` of the 24 hours) against
   fetching the 24 hourly buckets and summing them client-side (porpoise's way).
2. Metrics with 3 dimensions of 2 levels at 4 granularities: round trips per
   call (counted on the socket) and calls per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, redis_server

from porpoise_django.engine import Analytics

UTC = dt.UTC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2000, help="metric calls timed")
    args = parser.parse_args()
    day = dt.datetime(2026, 11, 18, tzinfo=UTC)
    now = day + dt.timedelta(days=2)
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        pp = Analytics(
            client, prefix="bench-c", clock=lambda: now, counter_granularities=("hour", "day")
        )
        rng = np.random.default_rng(3)
        # Each id is counted in 3 random hours, with Zipf-like amounts.
        rows = []
        for member in range(args.ids):
            for hour in rng.choice(24, 3, replace=False).tolist():
                amount = int(rng.zipf(1.5)) % 1000 + 1
                rows.append(
                    (
                        "plays",
                        f"song-{member}",
                        amount,
                        (day + dt.timedelta(hours=hour)).timestamp(),
                    )
                )
        start = time.perf_counter()
        for i in range(0, len(rows), 20_000):
            pp.count_many(rows[i : i + 20_000])
        load = time.perf_counter() - start
        print(
            f"loaded {len(rows):,} increments of {args.ids:,} ids in {load:.1f} s "
            f"({len(rows) / load:,.0f} increments/s, hour+day)"
        )

        counter = pp.counter("plays")
        hours = pp.range("hour", day, day + dt.timedelta(hours=23))
        expected = Counter()
        for _, member, amount, _ in rows:
            expected[member] += amount

        def client_side():
            pipe = client.pipeline(transaction=False)
            for period in hours:
                pipe.zrange(pp.keys.counter("plays", period), 0, -1, withscores=True)
            totals: Counter = Counter()
            for bucket in pipe.execute():
                for member, score in bucket:
                    totals[member] += score
            return totals.most_common(10)

        ours = counter.top(hours, 10)
        theirs = client_side()
        assert (
            [v for _, v in ours]
            == [v for _, v in theirs]
            == [v for _, v in expected.most_common(10)]
        )
        naive = best_of(3, client_side)
        fast = best_of(20, lambda: counter.top(hours, 10))
        union = best_of(5, lambda: counter.top(hours.periods(), 10))
        print(f"\n## Counters: top 10 of {args.ids:,} ids over one day of 24 hourly buckets\n")
        print("| method | time | vs client-side sums | target |")
        print("| --- | --- | --- | --- |")
        print(f"| fetch 24 hourly buckets, sum client-side | {naive * 1e3:,.1f} ms | 1x | |")
        rows_out = [
            (
                "porpoise-django top(range) (the day's bucket)",
                f"{fast * 1e3:,.2f}",
                naive / fast,
                ">= 10x",
            ),
            (
                "porpoise-django top(24 hourly periods), ZUNIONSTORE",
                f"{union * 1e3:,.1f}",
                naive / union,
                "(info)",
            ),
        ]
        for label, ms, ratio, target in rows_out:
            print(f"| {label} | {ms} ms | {ratio:,.1f}x | {target} |")

        # -- metrics with dimensions ---------------------------------------------------
        pp4 = Analytics(client, prefix="bench-m", clock=lambda: now)  # hour, day, week, month
        ads = pp4.metric("ads")
        dims = {"country": "US", "device": "mac", "campaign": "c42"}
        from redis.connection import AbstractConnection

        sent = [0]
        original = AbstractConnection.send_packed_command

        def counting(self, command, check_health=True):
            sent[0] += 1
            return original(self, command, check_health)

        AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
        try:
            ads.count({"revenue": 5, "visitors": 1}, dims)
            per_call = sent[0]
        finally:
            AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
        start = time.perf_counter()
        for i in range(args.calls):
            ads.count({"revenue": i % 7, "visitors": 1}, dims)
        rate = args.calls / (time.perf_counter() - start)
        assert ads.totals("today", "visitors", "country/US") == {"visitors": args.calls + 1}
        print(
            "\n## Metrics: 3 dimensions x 2 levels x 4 granularities, 3 metrics (hits implicit)\n"
        )
        print("| measure | value | target |")
        print("| --- | --- | --- |")
        print(f"| round trips per count() call | {per_call} | 1 |")
        print(f"| keys incremented per call | {7 * 4} hashes x 3 metrics | |")
        print(f"| count() calls per second | {rate:,.0f} | (info) |")
        pp.delete_all()
        pp4.delete_all()


if __name__ == "__main__":
    main()
