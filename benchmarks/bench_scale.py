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
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Peer, best_of, interleaved, peer_buckets, redis_server, run_peer, timed
from bench_events import ANY_EVENT_WORKLOADS, WORKLOAD_LABELS, make_any_event, make_data

from porpoise_django.engine import Analytics, cohort_table

UTC = dt.UTC
END = dt.datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
MARK_ROWS = 200_000
PEER_MARKS = 20_000
#: The panels of the plot.
PLOTTED = [
    "batch marking",
    "bulk import",
    "count (any event, 20%/day)",
    "AND (any event, 20%/day)",
    "cohort 30x30 (signup cohorts, 28%/day)",
    "cohort 30x30 (any event, 20%/day)",
]


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


def peer_key(name: str, period: Any) -> str:
    """bitmapist's key of ``name`` on the day ``period`` (one whole bitmap)."""
    return f"trackist_{name}_{period.start.year}-{period.start.month}-{period.start.day}"


def floor_count(client: Any, key: str) -> int:
    """One raw BITCOUNT of the whole bitmap (bitmapist's key): one round trip."""
    return client.bitcount(key)


def floor_and(client: Any, left: str, right: str) -> int:
    """BITOP AND + BITCOUNT of the whole bitmaps, in one pipeline."""
    pipe = client.pipeline(transaction=False)
    pipe.bitop("AND", "floor:tmp", left, right)
    pipe.bitcount("floor:tmp")
    pipe.delete("floor:tmp")
    return pipe.execute()[1]


def floor_cohort(client: Any, pp: Analytics, names: tuple[str, str], days: list[Any]) -> list[int]:
    """Every cell of the 30 x 30 daily table ("on" mode), server-side: BITOP AND
    + BITCOUNT of each cell and chunk, all in one pipeline."""
    pipe = client.pipeline(transaction=False)
    cells = 0
    for i, cohort in enumerate(days):
        rows = chunk_keys(pp, names[0], cohort)
        for later in days[i:]:
            for c, key in enumerate(chunk_keys(pp, names[1], later)):
                pipe.bitop("AND", "floor:tmp", rows[c], key)
                pipe.bitcount("floor:tmp")
            cells += 1
    pipe.delete("floor:tmp")
    counts = pipe.execute()[1:-1:2]  # the BITCOUNTs, chunk by chunk, cell by cell
    per_cell = len(counts) // cells
    return [sum(counts[i * per_cell : (i + 1) * per_cell]) for i in range(cells)]


def floor_cohort_client(
    client: Any, pp: Analytics, names: tuple[str, str], days: list[Any]
) -> list[int]:
    """The same cells client-side: GET of every row and target chunk in one
    pipeline, then numpy popcounts of each cell over its row's bytes that hold ids."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        for day in days:
            for key in chunk_keys(pp, name, day):
                pipe.get(key)
    replies = pipe.execute()
    n = len(pp.chunks())
    maps = [[np.frombuffer(r or b"", dtype=np.uint8) for r in replies[i : i + n]]
            for i in range(0, len(replies), n)]  # fmt: skip
    rows, targets = maps[: len(days)], maps[len(days) :]
    cells = []
    for i, row in enumerate(rows):
        spans = []
        for part in row:
            members = np.flatnonzero(part)
            spans.append((int(members[0]), int(members[-1]) + 1) if len(members) else (0, 0))
        for target in targets[i:]:
            cells.append(sum(
                int(np.bitwise_count(part[lo:hi] & column[lo:hi]).sum()) if len(column) >= hi
                else int(np.bitwise_count(part[lo:len(column)] & column[lo:]).sum())
                for part, column, (lo, hi) in zip(row, target, spans, strict=True)
            ))  # fmt: skip
    return cells


def table_cells(rows: list[list[Any]], n: int) -> list[int]:
    """The cells of a daily table over ``n`` days, row by row, offsets that have begun
    (bitmapist leaves blank what we count as 0: compared as 0)."""
    return [int(row[i] or 0) for r, row in enumerate(rows) for i in range(n - r)]


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


def measure_reads(
    client: Any, pp: Analytics, peer: Peer, days: list[Any], rounds: int
) -> dict[str, dict[str, float]]:
    """Count, AND and the 30 x 30 cohort table of each workload: ours, bitmapist's
    and the floor taking turns in every round (medians), answers checked equal."""
    out: dict[str, dict[str, float]] = {}
    first, last, before = days[0], days[-1], days[-2]
    for name in ("active", "any"):
        label = WORKLOAD_LABELS.get(name, "signup cohorts, 28%/day")
        today, yesterday = pp.event(name).bind(last), pp.event(name).bind(before)
        day = last.start.date().isoformat()
        whole, whole_before = peer_key(name, last), peer_key(name, before)
        assert len(today) == floor_count(client, whole) == peer.call(
            "time_count", event=name, day=day, repeat=1)["count"]  # fmt: skip
        both = len(today & yesterday)
        assert both == floor_and(client, whole, whole_before)
        assert both == peer.call("time_and", event=name, day=day, repeat=1)["count"]
        out[f"count ({label})"] = interleaved(rounds, {
            "ours": timed(lambda t=today: len(t), 50),
            "peer": lambda n=name, d=day: peer.call("time_count", event=n, day=d, repeat=50)[
                "seconds"],
            "floor": timed(lambda w=whole: floor_count(client, w), 50),
        })  # fmt: skip
        out[f"AND ({label})"] = interleaved(rounds, {
            "ours": timed(lambda t=today, y=yesterday: len(t & y), 50),
            "peer": lambda n=name, d=day: peer.call("time_and", event=n, day=d, repeat=50)[
                "seconds"],
            "floor": timed(lambda w=whole, v=whole_before: floor_and(client, w, v), 50),
        })  # fmt: skip
    for names in [("signup", "active"), *((n, n) for n, _ in ANY_EVENT_WORKLOADS)]:
        label = WORKLOAD_LABELS.get(names[0], "signup cohorts, 28%/day")
        request = {"select1": names[0], "select2": names[1], "rows": 30, "columns": 29,
                   "start_date": first.start.date().isoformat(), "repeat": 1}  # fmt: skip

        def ours(names: tuple[str, str] = names) -> Any:
            return cohort_table(pp, names[0], names[1], cohorts=30, offsets=29, start=first.start)

        cells = table_cells(ours().counts, len(days))
        assert cells == floor_cohort(client, pp, names, days)
        assert cells == floor_cohort_client(client, pp, names, days)
        assert cells == table_cells(peer.call("cohort", **request)["cells"], len(days))
        times = interleaved(rounds, {
            "ours": timed(ours),
            "peer": lambda r=request: peer.call("cohort", **r)["seconds"],
            "server": timed(lambda n=names: floor_cohort(client, pp, n, days)),
            "client": timed(lambda n=names: floor_cohort_client(client, pp, n, days)),
        })  # fmt: skip
        times["floor"] = min(times.pop("server"), times.pop("client"))
        out[f"cohort 30x30 ({label})"] = times
    return out


def measure(url: str, users: int, rounds: int) -> dict[str, dict[str, float]]:
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

    # -- the workloads no benchmark chose: events over all users ----------------------
    for name, pool in ANY_EVENT_WORKLOADS:
        pp.import_arrays(name, *make_any_event(users, DAYS, END, pool), granularities=["day"])
    gc.collect()

    # -- bitmapist gets the same bitmaps, whole ------------------------------------------
    buckets = peer_buckets(pp, ["signup", "active"], periods)
    buckets += peer_buckets(pp, [n for n, _ in ANY_EVENT_WORKLOADS], {"day": days})
    run_peer("copy_chunks", url=url, buckets=buckets, chunk_bytes=pp.keys.chunk_size // 8)
    with Peer(url) as peer:
        out.update(measure_reads(client, pp, peer, days, rounds))
    today = pp.event("active").bind(days[-1])
    today_keys = chunk_keys(pp, "active", days[-1])
    assert floor_ids(client, pp, today_keys) == list(today)
    out["iteration"] = {
        "ours": best_of(3, lambda: list(today)),
        "peer": run_peer("read", url=url, day=days[-1].start.date().isoformat(), repeat=1,
                         rounds=1)["iter_seconds"],
        "floor": best_of(3, lambda: floor_ids(client, pp, today_keys)),
    }  # fmt: skip

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
        print("Reads: medians of interleaved rounds (ours, bitmapist, floor in turn).")
        load = os.getloadavg()[0]
        print(f"Machine: {os.cpu_count()} cores, load average {load:.1f} at the end.\n")
        print("| operation | porpoise-django | bitmapist | floor | vs bitmapist | vs floor |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, row in ops.items():
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
    for axis, name in zip(axes.flat, PLOTTED, strict=True):
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
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of each read")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    results = {}
    with redis_server() as url:
        for users in (int(s) for s in args.sizes.split(",")):
            print(f"measuring {users:,} users ...", flush=True)
            results[users] = measure(url, users, args.rounds)
            used = redis.Redis.from_url(url).info("memory")["used_memory_peak_human"]
            print(f"  server memory peak {used}", flush=True)
    show(results)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\nthis process peaked at {rss:.1f} GiB")
    if not args.no_plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
