"""Memory per user and a sizing for 10 million to 1 billion users (docs/memory.md).

A scaled-down run: ``--users`` ids (default 1,000,000) doing five events at
different daily rates for a week, imported with ``import_arrays`` into the
embedded valkey-server, tracked by day, week and month. Measured: bytes per
registered user of one event's bucket (``MEMORY USAGE`` of every chunk, as
``porpoise_memory`` reports), whatever the event's rate. Then the sizing for
10M, 100M and 1B users x 50 events x 365 days, with and without retention, the
cluster nodes it takes and how the chunks' hash tags spread over them; and the
id map of "map" mode in one slot against 16 shards (throughput, bytes per id),
and at ``--users`` ids of two kinds ("user-1234567" strings and UUIDs): bytes
per id (``MEMORY USAGE`` of every key of the map, and the server's
``used_memory`` delta), creating, looking up and reverse lookups per second.
``--only idmap`` skips the bitmaps. The id-map part reads only public methods
and the keys under the map's hash tag, so it runs on an older checkout too
(the "before" figures of docs/memory.md).

    python benchmarks/bench_memory.py [--users 1000000] [--only idmap|bitmaps]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
import uuid

import numpy as np
import redis
from _common import redis_server
from redis.crc import key_slot

from porpoise_django.engine import Analytics

RATES = {"signup": 0.001, "purchase": 0.01, "login": 0.10, "play": 0.20, "active": 0.30}
EVENTS, YEAR_DAYS = 50, 365
NODE_GB, FILL = 64, 0.70  # a node's memory, and how full it may get (fork, fragmentation)
#: Buckets alive per event: all of a year, or days for 90 days, weeks a year, months kept.
PLANS = {"no retention": YEAR_DAYS + 53 + 12, "days 90 d, weeks 1 y": 90 + 53 + 12}


def show(header: list[str], rows: list[list[str]]) -> None:
    """A Markdown table, columns aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def measure(url: str, users: int) -> dict[str, float]:
    """Bytes per registered user of one day's, week's and month's bucket, per event."""
    pp = Analytics(redis.Redis.from_url(url), prefix="mem", tz="UTC")
    rng = np.random.default_rng(5)
    end = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
    for name, rate in RATES.items():
        for day in range(7):
            ids = np.flatnonzero(rng.random(users) < rate)
            stamp = (end - dt.timedelta(days=day)).timestamp()
            pp.import_arrays(name, ids, np.full(len(ids), stamp))
    rows = pp.memory_report(list(RATES), end)
    out = {}
    for row in rows:
        out[f"{row['event']}/{row['granularity']}"] = row["bytes"] / users
    pp.delete_all()
    return out


def id_map(url: str, ids: int = 200_000) -> list[list[str]]:
    """Map-mode marking throughput and memory per id, one slot against 16 shards."""
    rows = []
    names = [f"user-{i:09d}" for i in range(ids)]
    for shards in (1, 16):
        client = redis.Redis.from_url(url)
        pp = Analytics(client, prefix=f"map{shards}", id_mode="map", id_map_shards=shards)
        start = time.perf_counter()
        for i in range(0, ids, 10_000):
            pp.mark_many([("active", n) for n in names[i : i + 10_000]])
        rate = ids / (time.perf_counter() - start)
        used = map_bytes(client, pp.keys.prefix)
        rows.append([str(shards), f"{rate:,.0f} marks/s", f"{used / ids:.1f} B"])
        pp.delete_all()
    return rows


def map_bytes(client: redis.Redis, prefix: str) -> int:
    """``MEMORY USAGE`` (every element counted) of the id map's hashes under ``prefix``."""
    total = 0
    for key in client.scan_iter(match=f"{prefix}:{{idmap*", count=1000):
        if client.type(key) == b"hash":
            total += client.memory_usage(key, samples=0) or 0
    return total


def external_ids(kind: str, count: int) -> list[str]:
    """``count`` distinct ids as users have them: "user-1234567" or UUID strings."""
    if kind == "user":
        return [f"user-{1_000_000 + i}" for i in range(count)]
    rng = np.random.default_rng(7)
    return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(count)]


def id_map_scale(url: str, count: int, kind: str, batch: int = 10_000) -> list[str]:
    """One map of ``count`` ids of ``kind``: bytes per id, and ids per second
    created, looked up (``to_indexes``, nothing cached) and looked up in reverse
    (``to_externals`` of random indexes, nothing cached), in batches of ``batch``."""
    client = redis.Redis.from_url(url)
    pp = Analytics(client, prefix=f"ids-{kind}", id_mode="map")
    codec = pp.id_codec
    names = external_ids(kind, count)
    before = client.info("memory")["used_memory"]
    start = time.perf_counter()
    for i in range(0, count, batch):
        codec.to_indexes(names[i : i + batch], create=True)  # type: ignore[call-arg]
    created = count / (time.perf_counter() - start)
    after = client.info("memory")["used_memory"]
    stored = map_bytes(client, pp.keys.prefix)
    rng = np.random.default_rng(3)
    sample = [names[i] for i in rng.choice(count, size=min(count, 200_000), replace=False)]
    start = time.perf_counter()
    indexes: list[int] = []
    for i in range(0, len(sample), batch):
        codec.forget()
        indexes += codec.to_indexes(sample[i : i + batch], create=False)  # type: ignore[call-arg]
    looked_up = len(sample) / (time.perf_counter() - start)
    assert min(indexes) >= 0
    shuffled = np.array(indexes)[rng.permutation(len(indexes))]
    start = time.perf_counter()
    back: list[str] = []
    for i in range(0, len(shuffled), batch):
        codec.forget()
        back += codec.to_externals(shuffled[i : i + batch])
    reversed_ = len(shuffled) / (time.perf_counter() - start)
    assert sorted(back) == sorted(sample)
    pp.delete_all()
    return [
        f"{count:,}",
        kind,
        f"{stored / count:.1f} B",
        f"{(after - before) / count:.1f} B",
        f"{created:,.0f}/s",
        f"{looked_up:,.0f}/s",
        f"{reversed_:,.0f}/s",
    ]


def spread(users: int, nodes: int, chunk_bits: int = 20) -> tuple[int, float]:
    """Chunks (hash tags) of ``users`` ids, and the fullest node's share over the
    mean when the 16,384 slots are split evenly over ``nodes``."""
    chunks = math.ceil(users / 2**chunk_bits)
    per_node = [0] * nodes
    for chunk in range(chunks):
        per_node[key_slot(f"pp:{{c{chunk}}}:all".encode()) * nodes // 16384] += 1
    return chunks, max(per_node) / (chunks / nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("idmap", "bitmaps"))
    args = parser.parse_args()
    with redis_server() as url:
        if args.only != "bitmaps":
            scale = [id_map_scale(url, args.users, kind) for kind in ("user", "uuid")]
            print(f'\nThe id map ("map" mode, one slot) at {args.users:,} ids:\n')
            header = ["ids", "kind", "MEMORY USAGE", "used_memory", "create", "lookup", "reverse"]
            show(header, scale)
        if args.only == "idmap":
            return
        measured = measure(url, args.users)
        shards = id_map(url)
    rows = [
        [
            f"{name} ({rate:.1%})",
            *(f"{measured[f'{name}/{g}']:.4f}" for g in ("day", "week", "month")),
        ]
        for name, rate in RATES.items()
    ]
    print(f"\nBytes per registered user of one bucket ({args.users:,} ids, chunks of 2^20):\n")
    show(["event (daily rate)", "day", "week", "month"], rows)
    per_bucket = max(measured.values())  # the dense case: every chunk holds someone
    print(f"\nSizing at {per_bucket:.4f} bytes per user per event-bucket, {EVENTS} events:\n")
    header = ["users", *PLANS, f"{NODE_GB} GB nodes at {FILL:.0%}", "chunks", "fullest node"]
    table = []
    for users in (10_000_000, 100_000_000, 1_000_000_000):
        sizes = {plan: users * per_bucket * EVENTS * buckets for plan, buckets in PLANS.items()}
        retained = sizes["days 90 d, weeks 1 y"]
        nodes = max(1, math.ceil(retained / (NODE_GB * 2**30 * FILL)))
        chunks, fullest = spread(users, max(nodes, 3))
        table.append(
            [
                f"{users:,}",
                *(f"{size / 2**30:,.0f} GiB" for size in sizes.values()),
                f"{max(nodes, 3)} (retained)",
                f"{chunks:,}",
                f"{fullest:.2f}x the mean",
            ]
        )
    show(header, table)
    print('\nThe id map ("map" mode, 200,000 new string ids, batches of 10,000):\n')
    show(["shards", "marking", "map memory per id"], shards)


if __name__ == "__main__":
    main()
