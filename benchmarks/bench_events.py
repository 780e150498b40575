"""Events engine against bitmapist, same server, same run.

    python benchmarks/bench_events.py [--users 1000000] [--days 30]

Builds a data set of ``--users`` signups over ``--days`` days with about 28% of
signed-up users active each day, imports it with porpoise-django's bulk
import, copies the same bitmaps to bitmapist's key names, then times marking,
counting, AND, iteration and sparse-id memory on both sides and prints ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import time
from pathlib import Path

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import Table, best_of, redis_server, run_peer

from porpoise_django.engine import Analytics

UTC = dt.UTC


def make_data(users: int, days: int, end: dt.datetime, seed: int = 11):
    """Signup times for every user, and for each day the ids active that day."""
    rng = np.random.default_rng(seed)
    start_ts = int((end - dt.timedelta(days=days)).timestamp())
    signup_ts = np.sort(rng.integers(start_ts, start_ts + days * 86400, users))
    active_ids, active_ts = [], []
    target = int(users * 0.28)
    for day in range(days):
        day_start = start_ts + day * 86400
        eligible = np.searchsorted(signup_ts, day_start + 86400)
        probability = min(1.0, target / max(eligible, 1))
        ids = np.flatnonzero(rng.random(eligible) < probability)
        active_ids.append(ids)
        active_ts.append(np.maximum(signup_ts[ids], day_start) + rng.integers(0, 3600, len(ids)))
    return (
        signup_ts,
        np.concatenate(active_ids),
        np.minimum(np.concatenate(active_ts), start_ts + days * 86400 - 1),
    )


#: The workloads no benchmark chose (issue 26), beside the signup workload of
#: ``make_data``: (event name, share of users in the pool). Each pool user has
#: their own daily probability (uniform in [0, 1)), so about half the pool,
#: a fifth of all users for "any", is active on a day, over every id band.
ANY_EVENT_WORKLOADS = [("any", 0.40), ("sparse", 0.01), ("rare", 0.001)]
WORKLOAD_LABELS = {
    "any": "any event, 20%/day",
    "sparse": "sparse, 0.5%/day",
    "rare": "sparse, 0.05%/day",
}


def make_any_event(users: int, days: int, end: dt.datetime, pool: float, seed: int = 13):
    """Ids and times of an event over all users: a ``pool`` share of the users,
    each with a per-user daily probability; about ``pool / 2`` of users a day."""
    rng = np.random.default_rng(seed)
    start_ts = int((end - dt.timedelta(days=days)).timestamp())
    members = np.flatnonzero(rng.random(users) < pool)
    chance = rng.random(len(members))
    ids, stamps = [], []
    for day in range(days):
        today = members[rng.random(len(members)) < chance]
        ids.append(today)
        stamps.append(start_ts + day * 86400 + rng.integers(0, 86400, len(today)))
    return np.concatenate(ids), np.concatenate(stamps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--marks", type=int, default=20_000, help="bitmapist mark_event calls")
    args = parser.parse_args()
    end = dt.datetime(2026, 11, 1, tzinfo=UTC)
    table = Table(f"Events: {args.users:,} users, {args.days} days (bench_events.py)")

    with redis_server() as url:
        client = redis.Redis.from_url(url)
        if client.dbsize():
            sys.exit(f"{url} is not empty: give the benchmark an empty server")
        pp = Analytics(client, prefix="bench", clock=lambda: end)
        info = client.info("server")
        version = info.get("valkey_version", info["redis_version"])
        print(f"server: {info.get('server_name', 'redis')} {version} at {url}")

        # -- marking throughput --------------------------------------------------
        peer = run_peer("mark", url=url, n=args.marks, users=args.users, base_ts=end.timestamp())
        peer_rate = peer["n"] / peer["seconds"]
        rng = np.random.default_rng(5)
        n_rows = args.marks * 20
        uids = rng.integers(0, args.users, n_rows).tolist()
        whens = [
            end - dt.timedelta(seconds=int(s)) for s in rng.integers(0, args.days * 86400, n_rows)
        ]
        rows = [("bench_mark", u, w) for u, w in zip(uids, whens, strict=True)]
        start = time.perf_counter()
        for i in range(0, n_rows, 10_000):
            pp.mark_many(rows[i : i + 10_000])
        ours_rate = n_rows / (time.perf_counter() - start)
        table.add(
            "batch marking (mark_many, 10k rows/batch) vs mark_event calls",
            f"{ours_rate:,.0f} marks/s",
            f"{peer_rate:,.0f} marks/s",
            ours_rate / peer_rate,
            ">= 20x",
        )
        start = time.perf_counter()
        for u, w in zip(uids[: args.marks], whens, strict=False):
            pp.mark("bench_single", u, w)
        single_rate = args.marks / (time.perf_counter() - start)
        table.add(
            "single mark() calls vs mark_event calls",
            f"{single_rate:,.0f} marks/s",
            f"{peer_rate:,.0f} marks/s",
            single_rate / peer_rate,
            "(info)",
        )
        # The peer measures in a fresh process: drop our 400k benchmark rows so
        # the garbage collector does not walk them during the timings below.
        del rows, uids, whens
        gc.collect()

        # -- bulk import -------------------------------------------------------------
        signup_ts, active_ids, active_ts = make_data(args.users, args.days, end)
        start = time.perf_counter()
        n_events = pp.import_arrays("signup", np.arange(args.users), signup_ts)
        n_events += pp.import_arrays("active", active_ids, active_ts)
        seconds = time.perf_counter() - start
        table.add(
            "bulk import (import_arrays, day+week+month)",
            f"{n_events / seconds:,.0f} events/s ({n_events:,} in {seconds:.1f} s)",
            "no bulk import",
            None,
            ">= 1,000,000 events/s",
        )
        start = time.perf_counter()
        pp.bulk_import(
            ("active_rows", int(i), int(t))
            for i, t in zip(active_ids[:1_000_000], active_ts[:1_000_000], strict=True)
        )
        seconds = time.perf_counter() - start
        table.add(
            "bulk import from Python rows (bulk_import)",
            f"{1_000_000 / seconds:,.0f} events/s",
            "-",
            None,
            "(info)",
        )

        # Same bitmaps under bitmapist's key names (chunk 0 holds ids < 2**20).
        copies = []
        for name in ("signup", "active"):
            for granularity in ("day", "week", "month"):
                for period in pp.range(
                    granularity, end - dt.timedelta(days=args.days), end - dt.timedelta(seconds=1)
                ):
                    for chunk in pp.chunks():
                        assert chunk == 0, "bitmapist has no chunks: keep --users <= 2**20"
                        copies.append(
                            [
                                pp.keys.event(name, period, 0),
                                name,
                                granularity,
                                period.start.date().isoformat(),
                            ]
                        )
        run_peer("copy", url=url, keys=copies)

        # -- reads -------------------------------------------------------------------
        last_day = end - dt.timedelta(days=1)
        repeat, rounds = 500, 5
        today = pp.event("active").day(last_day)
        yesterday = pp.event("active").day(last_day - dt.timedelta(days=1))

        def per_call(fn):
            best = float("inf")
            for _ in range(rounds):
                start = time.perf_counter()
                for _ in range(repeat):
                    fn()
                best = min(best, (time.perf_counter() - start) / repeat)
            return best

        # Alternate the two sides twice and keep each side's best.
        peer_runs, ours_runs = [], []
        for _ in range(2):
            peer_runs.append(
                run_peer(
                    "read", url=url, day=last_day.date().isoformat(), repeat=repeat, rounds=rounds
                )
            )
            ours_runs.append(
                {
                    "count_seconds": per_call(lambda: len(pp.event("active").day(last_day))),
                    "and_seconds": per_call(lambda: len(today & yesterday)),
                    "raw_bitcount_seconds": per_call(
                        lambda: client.bitcount(pp.keys.event("active", today.period, 0))
                    ),
                }
            )
        peer = {
            k: min(r[k] for r in peer_runs) if k.endswith("seconds") else peer_runs[0][k]
            for k in peer_runs[0]
        }
        ours = {k: min(r[k] for r in ours_runs) for k in ours_runs[0]}
        assert len(today) == peer["count"], (len(today), peer["count"])
        assert len(today & yesterday) == peer["and_count"]
        table.add(
            f"context: raw BITCOUNT round trip, redis-py {redis.__version__} vs {peer['redis_py']}",
            f"{ours['raw_bitcount_seconds'] * 1e6:,.0f} us",
            f"{peer['raw_bitcount_seconds'] * 1e6:,.0f} us",
            peer["raw_bitcount_seconds"] / ours["raw_bitcount_seconds"],
            "(info)",
        )
        table.add(
            "count one day (len)",
            f"{ours['count_seconds'] * 1e6:,.0f} us",
            f"{peer['count_seconds'] * 1e6:,.0f} us",
            peer["count_seconds"] / ours["count_seconds"],
            ">= 1x",
        )
        table.add(
            "count AND of two days",
            f"{ours['and_seconds'] * 1e6:,.0f} us",
            f"{peer['and_seconds'] * 1e6:,.0f} us",
            peer["and_seconds"] / ours["and_seconds"],
            ">= 1x",
        )
        ours_for = best_of(3, lambda: [None for _ in today])
        table.add(
            f"iterate the ids of one day ({peer['count']:,} ids, for loop)",
            f"{ours_for * 1e3:,.1f} ms",
            f"{peer['for_seconds'] * 1e3:,.0f} ms",
            peer["for_seconds"] / ours_for,
            ">= 20x",
        )
        ours_iter = best_of(3, lambda: list(today))
        table.add(
            "the same as a list (list(bitmap))",
            f"{ours_iter * 1e3:,.1f} ms",
            f"{peer['iter_seconds'] * 1e3:,.0f} ms",
            peer["iter_seconds"] / ours_iter,
            "(info)",
        )
        ours_np = best_of(3, today.indexes)
        table.add(
            "ids of one day as a numpy array (.indexes())",
            f"{ours_np * 1e3:,.1f} ms",
            f"{peer['iter_seconds'] * 1e3:,.0f} ms",
            peer["iter_seconds"] / ours_np,
            "(info)",
        )

        # -- memory of sparse ids ----------------------------------------------------
        sparse = np.random.default_rng(2).integers(0, 2**32, 1000).tolist()
        peer = run_peer("memory", url=url, ids=sparse, ts=end.timestamp())
        for mode in ("map", "int"):
            store = Analytics(client, prefix=f"bench-{mode}", id_mode=mode, clock=lambda: end)
            store.mark_many([("sparse", i) for i in sparse])
            used = sum(
                client.memory_usage(k) or 0
                for k in client.scan_iter(match=f"bench-{mode}:*", count=1000)
            )
            bound = "<= 2 MB" if mode == "map" else "<= one 128 KiB chunk per id and granularity"
            table.add(
                f"memory, 1,000 random ids in [0, 2**32), id mode {mode!r}",
                f"{used / 2**20:,.2f} MB",
                f"{peer['bytes'] / 2**20:,.0f} MB",
                peer["bytes"] / used,
                bound,
            )
            store.delete_all()
        client.flushdb()
    table.print()


if __name__ == "__main__":
    main()
