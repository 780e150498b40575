"""Migration from bitmapist: keys/s and events/s of moving a bitmapist keyspace.

Builds the data set of ``bench_events.py`` (1,000,000 users, 30 days), lets
bitmapist itself name the keys (its own ``DayEvents/WeekEvents/MonthEvents``,
in the peer's virtualenv), then moves that keyspace into an empty porpoise
store with ``compat.bitmapist_data.migrate`` (what ``porpoise_import
--from-bitmapist`` runs): scanned, copied chunk by chunk, every bucket
verified. Run: ``python benchmarks/bench_migrate.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Table, redis_server, run_peer
from bench_events import make_data

from porpoise_django.compat.bitmapist_data import migrate
from porpoise_django.engine import Analytics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    table = Table(f"Migration from bitmapist: {args.users:,} users, {args.days} days")
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        if client.dbsize():
            sys.exit(f"{url} is not empty: give the benchmark an empty server")
        source = Analytics(client, prefix="src", tz="UTC", clock=lambda: end)
        signup_ts, active_ids, active_ts = make_data(args.users, args.days, end)
        source.import_arrays("signup", np.arange(args.users), signup_ts)
        source.import_arrays("active", active_ids, active_ts)
        copies = [
            [source.keys.event(name, period, 0), name, granularity, period.start.date().isoformat()]
            for name in ("signup", "active")
            for granularity in ("day", "week", "month")
            for period in source.range(
                granularity, end - dt.timedelta(days=args.days), end - dt.timedelta(seconds=1)
            )
        ]
        assert source.chunks() == [0], "bitmapist has no chunks: keep --users <= 2**20"
        run_peer("copy", url=url, keys=copies)
        expected = sum(client.bitcount(k) for k in client.scan_iter(match="trackist_*"))
        target = Analytics(client, prefix="dst", tz="UTC", clock=lambda: end)
        report = migrate(client, target)
        assert report.events == expected, (report.events, expected)
        table.add(
            "keys moved (scan, copy per chunk, register, verify)",
            f"{report.keys / report.seconds:,.0f} keys/s ({report.keys} in {report.seconds:.2f} s)",
            "no migration",
            None,
            "(info)",
        )
        table.add(
            "set bits moved",
            f"{report.events / report.seconds:,.0f} events/s ({report.events:,})",
            "-",
            None,
            "(info)",
        )
        again = migrate(client, target)
        table.add(
            "a second run (resumed: every bucket already verified)",
            f"{again.seconds * 1000:,.0f} ms for {again.resumed} keys",
            "-",
            None,
            "(info)",
        )
    table.print()


if __name__ == "__main__":
    main()
