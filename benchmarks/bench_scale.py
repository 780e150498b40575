"""Cost curves: the events benchmark at 1M, 3M and 10M users, with bitmapist and
the floor beside us at each size.

    python benchmarks/bench_scale.py [--sizes 1000000,3000000,10000000] [--plot FILE]

At each size (30 days; signups spread over them, about 28% of the signed-up
users active each day) one server holds the data set, imported with
``import_arrays``; bitmapist is given the same bitmaps whole (our chunks laid
end to end under its key names). Then, on the same server and client:

- **batch marking**: ``mark_many`` of 200,000 rows (bitmapist: ``mark_event``
  calls; floor: the same SETBITs, keys and offsets computed beforehand, in
  pipelines of 10,000 rows);
- **bulk import**: ``import_arrays`` of the whole data set (floor: SET of the
  finished chunks, built beforehand);
- **count** of one day and **AND** of two days (floor: BITCOUNT, or BITOP AND +
  BITCOUNT, of every chunk in one pipeline);
- a **30 x 30 cohort table** by day (floor: BITOP AND + BITCOUNT of every cell
  and chunk in one pipeline);
- **iteration**: the ids of one day as a Python list (floor: GET of the
  chunks in one pipeline and numpy's decoding);
- **memory** per user-day of the ``active`` day buckets (floor: 1/8 byte).

It prints one Markdown table per size and draws time against users,
log-log, for us, bitmapist and the floor (``--plot``, default
``docs/img/scale.png``; needs matplotlib, in the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, peer_buckets, redis_server, run_peer
from bench_events import make_data

from porpoise_django.engine import Analytics, cohort_table

UTC = dt.UTC
END = dt.datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
MARK_ROWS = 200_000
PEER_MARKS = 20_000
OPERATIONS = ["batch marking", "bulk import", "count", "AND", "cohort 30x30", "iteration"]


def chunk_keys(pp: Analytics, name: str, period: Any) -> list[str]:
    return [pp.keys.event(name, period, c) for c in pp.chunks()]


def floor_marking(client: Any, pp: Analytics, rows: list[tuple[str, int, dt.datetime]]) -> float:
    """Seconds for the raw SETBITs of ``rows`` (day, week, month), keys computed first."""
    size = pp.keys.chunk_size
    commands = []
    for name, uid, when in rows:
        chunk, offset = divmod(uid, size)
        for granularity in ("day", "week", "month"):
            commands.append(
                (pp.keys.event(f"floor_{name}", pp.period(granularity, when), chunk), offset)
            )
    start = time.perf_counter()
    for i in range(0, len(commands), 30_000):
        pipe = client.pipeline(transaction=False)
        for key, offset in commands[i : i + 30_000]:
            pipe.setbit(key, offset, 1)
        pipe.execute()
    return time.perf_counter() - start


def floor_import(client: Any, pp: Analytics, names: list[str], periods: list[Any]) -> float:
    """Seconds to SET every finished chunk of the data set (built beforehand)."""
    values = []
    for name in names:
        for period in periods:
            keys = chunk_keys(pp, name, period)
            values += [(f"floor:{k}", v) for k, v in zip(keys, client.mget(keys), strict=True) if v]
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for key, value in values:
        pipe.set(key, value)
    pipe.execute()
    seconds = time.perf_counter() - start
    client.delete(*[k for k, _ in values])
    return seconds


def floor_count(client: Any, keys: list[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.bitcount(key)
    return sum(pipe.execute())


def floor_and(client: Any, left: list[str], right: list[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        tmp = f"floor:tmp:{i}"
        pipe.bitop("AND", tmp, a, b)
        pipe.bitcount(tmp)
        pipe.delete(tmp)
    return sum(pipe.execute()[1::3])


def floor_cohort(client: Any, pp: Analytics, days: list[Any]) -> list[int]:
    """Every cell of the 30 x 30 daily table ("on" mode), one pipeline."""
    pipe = client.pipeline(transaction=False)
    cells = 0
    for i, cohort in enumerate(days):
        signup = chunk_keys(pp, "signup", cohort)
        for later in days[i:]:
            for c, key in enumerate(chunk_keys(pp, "active", later)):
                pipe.bitop("AND", "floor:tmp", signup[c], key)
                pipe.bitcount("floor:tmp")
            cells += 1
    pipe.delete("floor:tmp")
    counts = pipe.execute()[1:-1:2]  # the BITCOUNTs, chunk by chunk, cell by cell
    per_cell = len(counts) // cells
    return [sum(counts[i * per_cell : (i + 1) * per_cell]) for i in range(cells)]


def floor_ids(client: Any, pp: Analytics, keys: list[str]) -> list[int]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.get(key)
    parts = []
    for chunk, raw in zip(pp.chunks(), pipe.execute(), strict=True):
        if raw:
            bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
            parts.append(np.flatnonzero(bits) + chunk * pp.keys.chunk_size)
    return np.concatenate(parts).tolist() if parts else []


def measure(url: str, users: int) -> dict[str, dict[str, float]]:
    """Seconds per operation (marking: per 1,000 marks) for ours, peer and floor."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    pp = Analytics(client, prefix="scale", clock=lambda: END)
    out: dict[str, dict[str, float]] = {}
    rng = np.random.default_rng(5)

    # -- marking -------------------------------------------------------------------------
    uids = rng.integers(0, users, MARK_ROWS).tolist()
    offsets = rng.integers(0, DAYS * 86400, MARK_ROWS).tolist()
    rows = [("mark", u, END - dt.timedelta(seconds=s)) for u, s in zip(uids, offsets, strict=True)]
    start = time.perf_counter()
    for i in range(0, MARK_ROWS, 10_000):
        pp.mark_many(rows[i : i + 10_000])
    ours = (time.perf_counter() - start) / MARK_ROWS * 1000
    peer = run_peer("mark", url=url, n=PEER_MARKS, users=users, base_ts=END.timestamp())
    floor = floor_marking(client, pp, rows) / MARK_ROWS * 1000
    out["batch marking"] = {
        "ours": ours,
        "peer": peer["seconds"] / peer["n"] * 1000,
        "floor": floor,
    }
    del rows, uids, offsets
    gc.collect()

    # -- bulk import ---------------------------------------------------------------------
    signup_ts, active_ids, active_ts = make_data(users, DAYS, END)
    start = time.perf_counter()
    events = pp.import_arrays("signup", np.arange(users), signup_ts)
    events += pp.import_arrays("active", active_ids, active_ts)
    ours = time.perf_counter() - start
    del signup_ts, active_ids, active_ts
    gc.collect()
    first = (END - dt.timedelta(days=DAYS)).date()
    days = list(pp.range("day", first, END.date() - dt.timedelta(days=1)))
    periods = {
        "day": days,
        "week": list(pp.range("week", first, END.date() - dt.timedelta(days=1))),
        "month": list(pp.range("month", first, END.date() - dt.timedelta(days=1))),
    }
    floor = floor_import(
        client, pp, ["signup", "active"], [p for ps in periods.values() for p in ps]
    )
    out["bulk import"] = {"ours": ours, "peer": float("nan"), "floor": floor, "events": events}

    # -- bitmapist gets the same bitmaps, whole ------------------------------------------
    buckets = peer_buckets(pp, ["signup", "active"], periods)
    run_peer("copy_chunks", url=url, buckets=buckets, chunk_bytes=pp.keys.chunk_size // 8)

    # -- reads ---------------------------------------------------------------------------
    last, before = days[-1], days[-2]
    today, yesterday = pp.event("active").bind(last), pp.event("active").bind(before)
    peer = run_peer("read", url=url, day=last.start.date().isoformat(), repeat=50, rounds=3)
    today_keys, yesterday_keys = chunk_keys(pp, "active", last), chunk_keys(pp, "active", before)
    assert len(today) == peer["count"] == floor_count(client, today_keys)
    assert (
        len(today & yesterday) == peer["and_count"] == floor_and(client, today_keys, yesterday_keys)
    )
    out["count"] = {
        "ours": best_of(50, lambda: len(pp.event("active").bind(last))),
        "peer": peer["count_seconds"],
        "floor": best_of(50, lambda: floor_count(client, today_keys)),
    }
    out["AND"] = {
        "ours": best_of(50, lambda: len(today & yesterday)),
        "peer": peer["and_seconds"],
        "floor": best_of(50, lambda: floor_and(client, today_keys, yesterday_keys)),
    }
    table = cohort_table(pp, "signup", "active", cohorts=30, offsets=29, start=first)
    cells = floor_cohort(client, pp, days)
    assert sum(v for row in table.counts for v in row if v) == sum(cells)
    peer_cohort = run_peer(
        "cohort", url=url, rows=30, columns=30, start_date=first.isoformat(), repeat=2
    )
    assert table.sizes == peer_cohort["sizes"]
    out["cohort 30x30"] = {
        "ours": best_of(
            3, lambda: cohort_table(pp, "signup", "active", cohorts=30, offsets=29, start=first)
        ),
        "peer": peer_cohort["seconds"],
        "floor": best_of(3, lambda: floor_cohort(client, pp, days)),
    }
    assert floor_ids(client, pp, today_keys) == list(today)
    out["iteration"] = {
        "ours": best_of(3, lambda: list(today)),
        "peer": peer["iter_seconds"],
        "floor": best_of(3, lambda: floor_ids(client, pp, today_keys)),
    }

    # -- memory per user-day -------------------------------------------------------------
    ours_bytes = sum(client.memory_usage(k) or 0 for d in days for k in chunk_keys(pp, "active", d))
    peer_bytes = sum(
        client.memory_usage(f"trackist_active_{d.start.year}-{d.start.month}-{d.start.day}") or 0
        for d in days
    )
    out["memory"] = {
        "ours": ours_bytes / (users * len(days)),
        "peer": peer_bytes / (users * len(days)),
        "floor": 1 / 8,
    }
    client.flushdb()
    client.close()
    return out


def show(results: dict[int, dict[str, dict[str, float]]]) -> None:
    for users, ops in results.items():
        print(f"\n### {users:,} users x {DAYS} days\n")
        print("| operation | porpoise-django | bitmapist | floor | vs bitmapist | vs floor |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name in [*OPERATIONS, "memory"]:
            row = ops[name]
            unit, scale = ("B/user-day", 1) if name == "memory" else ("ms", 1000)
            if name == "batch marking":
                unit = "ms / 1k marks"
            cells = [
                "-" if np.isnan(row[k]) else f"{row[k] * scale:,.3f} {unit}"
                for k in ("ours", "peer", "floor")
            ]
            vs_peer = "-" if np.isnan(row["peer"]) else f"{row['peer'] / row['ours']:,.1f}x"
            vs_floor = f"{row['ours'] / row['floor']:,.2f}x the floor"
            if name == "bulk import":
                cells[0] += f" ({row['events'] / row['ours'] / 1e6:,.1f}M events/s)"
            print(f"| {name} | {' | '.join(cells)} | {vs_peer} | {vs_floor} |")


def plot(results: dict[int, dict[str, dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    figure, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for axis, name in zip(axes.flat, OPERATIONS, strict=True):
        for side, style in (("ours", "o-"), ("peer", "s--"), ("floor", "^:")):
            values = [results[n][name][side] for n in sizes]
            if not all(np.isnan(values)):
                label = {"ours": "porpoise-django", "peer": "bitmapist", "floor": "floor"}[side]
                axis.plot(sizes, [v * 1000 for v in values], style, label=label)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(name + (" (per 1k marks)" if name == "batch marking" else ""))
        axis.set_xlabel("users")
        axis.set_ylabel("ms")
        axis.grid(True, which="both", alpha=0.3)
    axes.flat[0].legend()
    figure.suptitle(f"Time against users, {DAYS} days (log-log; lower is better)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    print(f"\nplot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    default_plot = Path(__file__).resolve().parent.parent / "docs" / "img" / "scale.png"
    parser.add_argument("--plot", type=Path, default=default_plot)
    args = parser.parse_args()
    results = {}
    with redis_server() as url:
        for users in (int(s) for s in args.sizes.split(",")):
            print(f"measuring {users:,} users ...", flush=True)
            results[users] = measure(url, users)
            used = redis.Redis.from_url(url).info("memory")["used_memory_peak_human"]
            print(f"  server memory peak {used}", flush=True)
    show(results)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\nthis process peaked at {rss:.1f} GiB")
    plot(results, args.plot)


if __name__ == "__main__":
    main()
